"""Paths into an inputs tree: ``creds[0].pw`` (also read as ``creds.0.pw``).

One notation for every place that names an input by path — ``--set``, the run
store's list of password paths, ``wfrun resume`` asking for them again — so a
password inside a list can be stored without its value and set again.

A path is a tuple of parts: ``str`` for a mapping key, ``int`` for a list index.
``format`` writes the canonical text (``a.b[2].c``); ``parse`` reads that. The
resolver's dotted form (``a.b.2.c``) parses to a string part ``'2'``, which
:func:`get` also accepts as an index into a list.
"""

from __future__ import annotations

import copy
import re
from typing import Any

Part = str | int
Path = tuple[Part, ...]

_PART = re.compile(r"\[(\d+)\]")


class PathError(ValueError):
    """A malformed path text (empty part, unclosed bracket) or a path through a value; the message
    follows the path's source: ``--set: empty name part in 'a..b'``."""


class IndexPatch(dict):
    """Items to set in a list by index (``--set l[1].x=v``), merged into the list underneath.

    A plain list in a layer replaces the list below it; a patch changes only the
    items it names (missing items in between become ``None``).
    """


def parse(text: str) -> Path:
    """``'a.b[0].c'`` → ``('a', 'b', 0, 'c')``; :class:`PathError` if malformed."""
    text = text.strip()
    parts: list[Part] = []
    for chunk in text.split("."):
        head, _, rest = chunk.partition("[")
        rest = "[" + rest if rest else ""
        if not head and not (parts and rest):  # '', '.x', 'a..b', '[0]'
            raise PathError(f"empty name part in '{text}'")
        if head:
            parts.append(head)
        while rest:
            m = _PART.match(rest)
            if m is None:
                raise PathError(f"bad index in '{text}' (expected [N])")
            parts.append(int(m.group(1)))
            rest = rest[m.end():]
    return tuple(parts)


def format(path: Path) -> str:  # noqa: A001 — the module's verb, used as inputpath.format
    """``('a', 'b', 0, 'c')`` → ``'a.b[0].c'``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _child(node: Any, part: Part) -> tuple[bool, Any]:
    if isinstance(node, list):
        index = part if isinstance(part, int) else int(part) if str(part).isdigit() else None
        if index is not None and index < len(node):
            return True, node[index]
        return False, None
    if isinstance(node, dict):
        if part in node:
            return True, node[part]
        if isinstance(part, int) and str(part) in node:
            return True, node[str(part)]
        if isinstance(part, str) and part.isdigit() and int(part) in node:  # an IndexPatch
            return True, node[int(part)]
    return False, None


def has(tree: Any, path: Path | str) -> bool:
    node = tree
    for part in parse(path) if isinstance(path, str) else path:
        found, node = _child(node, part)
        if not found:
            return False
    return True


def get(tree: Any, path: Path | str, default: Any = None) -> Any:
    """The value at ``path``, or ``default`` when any part is missing."""
    node = tree
    for part in parse(path) if isinstance(path, str) else path:
        found, node = _child(node, part)
        if not found:
            return default
    return node


def set_in(tree: dict, path: Path | str, value: Any, *, patch: bool = False) -> None:
    """Set ``path`` in ``tree``, creating mappings (and lists) on the way.

    With ``patch``, list indices create :class:`IndexPatch` nodes (for a layer
    merged onto others) instead of lists. A value in the way (``a=1`` then
    ``a.b=2``) is a :class:`PathError`.
    """
    parts = parse(path) if isinstance(path, str) else path
    if not parts:
        raise PathError("empty path")
    node: Any = tree
    for here, nxt in zip(parts, parts[1:]):
        container: Any = (IndexPatch() if patch else []) if isinstance(nxt, int) else {}
        node = _step_into(node, here, container, parts)
    _put(node, parts[-1], value, parts)


def _step_into(node: Any, part: Part, container: Any, parts: Path) -> Any:
    found, child = _child(node, part)
    if found and isinstance(child, (dict, list)):
        return child
    if found and child is not None:
        raise PathError(f"'{format(parts)}' conflicts with an earlier value")
    _put(node, part, container, parts)
    return container


def _put(node: Any, part: Part, value: Any, parts: Path) -> None:
    if isinstance(node, list):
        if not isinstance(part, int):
            if not str(part).isdigit():
                raise PathError(f"'{format(parts)}': '{part}' is not a list index")
            part = int(part)
        node.extend([None] * (part + 1 - len(node)))
        node[part] = value
    elif isinstance(node, dict):
        node[part] = value
    else:
        raise PathError(f"'{format(parts)}' conflicts with an earlier value")


def delete(tree: Any, path: Path | str) -> bool:
    """Remove the entry at ``path`` (a list item becomes ``None``, keeping the indices of the others); found?"""
    parts = parse(path) if isinstance(path, str) else path
    parent = get(tree, parts[:-1]) if len(parts) > 1 else tree
    found, _ = _child(parent, parts[-1])
    if not found:
        return False
    if isinstance(parent, list):
        parent[int(parts[-1])] = None
    elif parts[-1] in parent:
        del parent[parts[-1]]
    else:
        del parent[str(parts[-1])]
    return True


def without(tree: dict, paths: list[str]) -> dict:
    """A deep copy of ``tree`` without the entries at ``paths``."""
    out = copy.deepcopy(tree)
    for path in paths:
        delete(out, path)
    return out


def merge(base: dict, extra: dict) -> dict:
    """Deep-merge ``extra`` into ``base`` (mappings merge, other values replace, patches patch lists); ``base``."""
    for key, value in extra.items():
        base[key] = _merged(base.get(key), value)
    return base


def _merged(below: Any, value: Any) -> Any:
    if isinstance(value, IndexPatch):
        out = copy.deepcopy(below) if isinstance(below, list) else []
        for index, item in sorted(value.items()):
            out.extend([None] * (index + 1 - len(out)))
            out[index] = _merged(out[index], item)
        return out
    if isinstance(value, dict) and isinstance(below, dict):
        return merge(below, value)
    if isinstance(value, dict):
        return merge({}, value)  # copies, and turns nested patches into lists
    return copy.deepcopy(value)
