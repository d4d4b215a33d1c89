"""YAML text → a plain dict/list tree that remembers where every key and value came from.

ruamel.yaml composes the document into nodes that carry marks; we build our own
tree from them instead of using round-trip mode because round-trip objects are
slow to build and heavy to keep for 10,000-job files, and because every later
stage (schema errors, expression errors, graph errors) needs the same thing:
"where is the value at this path". ``YMap``/``YList`` are real dicts and lists,
so jsonschema and the model read them directly.

YAML 1.2 rules apply (so ``on:`` is the string "on"); a document that declares
``%YAML 1.1`` may produce the boolean key True, which is renamed to "on".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from workflow_runner.errors import LoadError, Location, ScalarOrigin
from workflow_runner.limits import MAX_NESTING, AliasBudget



class YMap(dict):
    """A mapping that knows the location of itself, each key, and each string value's text."""

    __slots__ = ("loc", "key_locs", "value_locs", "origins")

    def __init__(self, loc: Location) -> None:
        super().__init__()
        self.loc = loc
        self.key_locs: dict[Any, Location] = {}
        self.value_locs: dict[Any, Location] = {}
        self.origins: dict[Any, ScalarOrigin] = {}


class YList(list):
    __slots__ = ("loc", "value_locs", "origins")

    def __init__(self, loc: Location) -> None:
        super().__init__()
        self.loc = loc
        self.value_locs: list[Location] = []
        self.origins: dict[int, ScalarOrigin] = {}


def location_of(tree: Any, path: tuple | list, *, key: bool = False) -> Location | None:
    """The location of the value (or, with key=True, of the key) at ``path`` under ``tree``.

    Falls back to the deepest known ancestor, so a schema error on a missing key
    points at the mapping that lacks it.
    """
    node, best = tree, getattr(tree, "loc", None)
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, YMap) and part in node:
            loc = node.key_locs.get(part) if (key and last) else node.value_locs.get(part)
            best = loc or best
            node = node[part]
        elif isinstance(node, YList) and isinstance(part, int) and 0 <= part < len(node):
            best = node.value_locs[part]
            node = node[part]
        else:
            break
    return best


def origin_of(container: YMap | YList, key: Any) -> ScalarOrigin | None:
    return container.origins.get(key)


def load_file(path: str | Path) -> YMap:
    path = Path(path)
    return load_text(decode(read_source(path), str(path)), str(path))


def read_source(path: Path) -> bytes:
    """The bytes of a user's file; a LoadError naming the path when it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise LoadError("file not found", location=Location(str(path))) from None
    except IsADirectoryError:
        raise LoadError("is a directory, not a workflow file", location=Location(str(path))) from None
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}", location=Location(str(path))) from None


def decode(data: bytes, filename: str) -> str:
    """UTF-8 text with universal newlines (what ``Path.read_text`` gives); a LoadError if it is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(f"cannot read file: {exc}", location=Location(filename)) from None
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def load_text(text: str, filename: str) -> YMap:
    """Parse one YAML document whose top level must be a mapping."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="safe", pure=False)  # the C parser when ruamel.yaml.clib is present
    builder = _Builder(filename, text)
    try:
        tree = builder.build(yaml.parse(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        tab = _indenting_tab(text, mark.line) if mark else None
        if tab is not None:
            raise LoadError("invalid YAML: tabs are not allowed for indentation; indent with spaces",
                            location=Location(filename, mark.line + 1, tab + 1)) from None
        loc = Location(filename, mark.line + 1, mark.column + 1) if mark else Location(filename)
        problem = exc.problem or exc.context or "invalid YAML"
        raise LoadError(f"invalid YAML: {problem}", location=loc) from None
    except YAMLError as exc:
        raise LoadError(f"invalid YAML: {str(exc).splitlines()[0]}", location=Location(filename)) from None
    if tree is None:
        raise LoadError("the file is empty; a workflow needs at least 'jobs:'", location=Location(filename, 1, 1))
    if not isinstance(tree, YMap):
        where = tree.loc if isinstance(tree, YList) else Location(filename, 1, 1)
        raise LoadError("the top level must be a mapping (jobs:, on:, ...)", location=where)
    if True in tree:  # YAML 1.1 reads a bare `on:` key as boolean True
        _rename_key(tree, True, "on")
    return tree


def _indenting_tab(text: str, line0: int) -> int | None:
    """The 0-based column of a tab in the indentation of line ``line0`` (YAML forbids it), else None.

    The parser's own words ("found character that cannot start any token")
    never mention the tab, which is invisible in most editors.
    """
    lines = text.splitlines()
    if not 0 <= line0 < len(lines):
        return None
    line = lines[line0]
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    return indent.index("\t") if "\t" in indent else None


def _rename_key(tree: YMap, old: Any, new: str) -> None:
    value = tree.pop(old)
    tree[new] = value
    for table in (tree.key_locs, tree.value_locs, tree.origins):
        if old in table:
            table[new] = table.pop(old)


# YAML 1.2 core schema, for plain (unquoted, untagged) scalars.
_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
# Patterns as text: re compiles them on first use (and caches them), not at every import — a run whose
# file comes from the tree cache never parses YAML.
_INT = r"[-+]?[0-9]+\Z"
_OCT = r"0o[0-7]+\Z"
_HEX = r"0x[0-9a-fA-F]+\Z"
_FLOAT = r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z"
_INF = {".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"),
        "+.inf": float("inf"), "+.Inf": float("inf"), "+.INF": float("inf"),
        "-.inf": float("-inf"), "-.Inf": float("-inf"), "-.INF": float("-inf")}
_NAN = {".nan", ".NaN", ".NAN"}
_MAX_INT_DIGITS = 4000


class BadScalar(ValueError):
    """A scalar whose text cannot become the value its form or tag asks for; the message says why."""


def _to_float(value: str) -> float:
    """``!!float``: a finite text must stay finite (float(int) of 400 digits raises OverflowError)."""
    plain = resolve_plain(value)
    if isinstance(plain, (int, float)) and not isinstance(plain, bool):
        result = float(value) if isinstance(plain, int) else plain
        if result in (float("inf"), float("-inf")) and value not in _INF:
            raise BadScalar(f"'{value[:40]}' is out of range for a float")
        return result
    raise BadScalar(f"'{value[:40]}' is not a valid float")


def resolve_plain(value: str) -> Any:
    if value in _NULL:
        return None
    first = value[0]
    if first in "tTfF" and value in _BOOL:
        return _BOOL[value]
    if first in "0123456789+-.":
        if re.match(_INT, value):
            if len(value) > _MAX_INT_DIGITS:  # int() refuses (ValueError) past sys.get_int_max_str_digits()
                raise BadScalar(f"an integer of {len(value)} digits is too long (at most {_MAX_INT_DIGITS})")
            return int(value)
        if re.match(_HEX, value):
            return int(value, 16)
        if re.match(_OCT, value):
            return int(value[2:], 8)
        if re.match(_FLOAT, value):
            return float(value)
        if value in _INF:
            return _INF[value]
        if value in _NAN:
            return float("nan")
    return value


_EXPLICIT = {
    "tag:yaml.org,2002:str": str,
    "tag:yaml.org,2002:int": lambda v: int(resolve_plain(v)),
    "tag:yaml.org,2002:float": _to_float,
    "tag:yaml.org,2002:bool": lambda v: _BOOL[v],
    "tag:yaml.org,2002:null": lambda v: None,
}


class _Builder:
    """Builds the tree from parser events; faster than composing nodes and resolving tags."""

    def __init__(self, filename: str, text: str) -> None:
        self.filename = filename
        self.text = text
        self._lines: list[str] | None = None
        self.anchors: dict[str, Any] = {}
        self.anchor_sizes: dict[str, int] = {}

    def build(self, events: Any) -> Any:
        from ruamel.yaml import events as ev

        stack: list[Any] = []  # containers being filled; for maps, a pending key follows
        keys: list[Any] = []
        sizes: list[int] = []  # the expanded size of each open container so far (see AliasBudget)
        merges: list[list | None] = []  # per open mapping: its '<<' values, applied when it ends
        frame_anchors: list[str | None] = []  # end events carry no anchor
        open_anchors: set[str] = set()
        budget = AliasBudget()
        root: Any = None
        depth = 0
        docs = 0
        for event in events:
            cls = type(event)
            if cls is ev.ScalarEvent:
                mark = event.start_mark
                value = self._scalar(event)
                origin = None
                size = 1
                if type(value) is str:
                    origin = self._origin(mark, event.style)
                    size += len(value) // 32
                if event.anchor:
                    self.anchors[event.anchor] = value
                    self.anchor_sizes[event.anchor] = size
            elif cls is ev.MappingStartEvent or cls is ev.SequenceStartEvent:
                depth += 1
                if depth > MAX_NESTING:
                    raise LoadError("YAML nested too deeply", location=self._mark(event.start_mark))
                mark = event.start_mark
                value = YMap(self._mark(mark)) if cls is ev.MappingStartEvent else YList(self._mark(mark))
                origin = None
                if event.anchor:
                    self.anchors[event.anchor] = value
                    open_anchors.add(event.anchor)
                self._add(stack, keys, value, mark, origin, merges)
                stack.append(value)
                keys.append(_NO_KEY)
                sizes.append(1)
                merges.append(None)
                frame_anchors.append(event.anchor)
                continue
            elif cls is ev.MappingEndEvent or cls is ev.SequenceEndEvent:
                depth -= 1
                value = stack.pop()
                keys.pop()
                size = sizes.pop()
                pending = merges.pop()
                if pending:
                    for merged, merge_mark in pending:
                        self._merge(value, merged, merge_mark)
                anchor = frame_anchors.pop()
                if anchor is not None:
                    open_anchors.discard(anchor)
                    self.anchor_sizes[anchor] = size
                if sizes:
                    sizes[-1] += size
                if not stack:
                    root = value
                continue
            elif cls is ev.AliasEvent:
                mark = event.start_mark
                if event.anchor not in self.anchors:
                    raise LoadError(f"unknown alias '*{event.anchor}'", location=self._mark(mark))
                if event.anchor in open_anchors:
                    raise LoadError(f"alias '*{event.anchor}' refers to a node that contains it (a recursive structure)",
                                    location=self._mark(mark))
                value = self.anchors[event.anchor]
                size = self.anchor_sizes[event.anchor]
                budget.spend(size, self._mark(mark))
                origin = None
            elif cls is ev.DocumentStartEvent:
                docs += 1
                if docs > 1:
                    raise LoadError("expected one YAML document, found several (---)", location=self._mark(event.start_mark))
                continue
            else:
                continue
            if sizes:
                sizes[-1] += size
            if not stack:
                root = value
            else:
                self._add(stack, keys, value, mark, origin, merges)
        return root

    def _add(self, stack: list[Any], keys: list[Any], value: Any, mark: Any, origin: ScalarOrigin | None,
             merges: list[list | None]) -> None:
        if not stack:
            return
        top = stack[-1]
        if type(top) is YList:
            top.append(value)
            top.value_locs.append(self._mark(mark))
            if origin is not None:
                top.origins[len(top) - 1] = origin
            return
        key = keys[-1]
        if key is _NO_KEY:
            if isinstance(value, (YMap, YList)):
                raise LoadError("a mapping key must be a plain value", location=self._mark(mark))
            if type(value) is not str and not (value is True and len(stack) == 1):
                # Every key wfrun reads is a name (jobs, inputs, env, step fields); a null
                # or numeric key would reach code that joins names as text.
                shown = "null" if value is None else repr(value).lower() if type(value) is bool else repr(value)
                raise LoadError(f"a mapping key must be a name, not {shown}; quote it if it is meant as text",
                                location=self._mark(mark))
            if value in top or (value == "<<" and merges[-1]):
                raise LoadError(f"duplicate key '{value}'", location=self._mark(mark))
            keys[-1] = value
            top.key_locs[value] = self._mark(mark)
            return
        keys[-1] = _NO_KEY
        if key == "<<":
            # Applied when the mapping ends, once the merged nodes are complete and
            # every explicit key is known (explicit keys win; YAML 1.1 merge type).
            del top.key_locs[key]
            if merges[-1] is None:
                merges[-1] = []
            merges[-1].append((value, mark))
            return
        top[key] = value
        top.value_locs[key] = self._mark(mark)
        if origin is not None:
            top.origins[key] = origin

    def _merge(self, out: YMap, value: Any, mark: Any) -> None:
        """YAML 1.1 merge (https://yaml.org/type/merge.html): keys already in ``out`` win; in a list, earlier mappings win."""
        sources = value if isinstance(value, list) else [value]
        if not isinstance(value, (YMap, YList)) or not all(isinstance(src, YMap) for src in sources):
            raise LoadError("'<<' (merge key) takes a mapping or a list of mappings, e.g. '<<: *defaults' "
                            "or '<<: [*a, *b]'", location=self._mark(mark))
        for src in sources:
            for k, v in src.items():
                if k not in out:
                    out[k] = v
                    out.key_locs[k] = src.key_locs[k]
                    out.value_locs[k] = src.value_locs[k]
                    if k in src.origins:
                        out.origins[k] = src.origins[k]

    def _scalar(self, event: Any) -> Any:
        tag = event.ctag
        if tag is None or str(tag) == "!":
            if event.style or not event.implicit[0]:
                return event.value
            try:
                return resolve_plain(event.value)
            except BadScalar as exc:
                raise LoadError(str(exc), location=self._mark(event.start_mark)) from None
        name = str(tag)
        convert = _EXPLICIT.get(name)
        if convert is None:
            raise LoadError(f"unsupported YAML tag '{name}'", location=self._mark(event.start_mark))
        try:
            return convert(event.value)
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            why = str(exc) if isinstance(exc, BadScalar) else f"'{event.value[:40]}' is not a valid {name.rsplit(':', 1)[-1]}"
            raise LoadError(why, location=self._mark(event.start_mark)) from None

    def _mark(self, mark: Any) -> Location:
        return Location(self.filename, mark.line + 1, mark.column + 1)

    def _origin(self, mark: Any, style: Any) -> ScalarOrigin:
        if style in ("|", ">"):
            return ScalarOrigin(self.filename, mark.line + 1, mark.column + 1, block_indent=self._indent_after(mark.line))
        return ScalarOrigin(self.filename, mark.line + 1, mark.column + 1, quoted=style in ("'", '"'))

    def _indent_after(self, line0: int) -> int:
        if self._lines is None:
            self._lines = self.text.splitlines()
        lines = self._lines
        for i in range(line0 + 1, len(lines)):  # by index: a slice would copy the rest of the file per scalar
            line = lines[i]
            if line.strip():
                return len(line) - len(line.lstrip(" "))
        return 0


_NO_KEY = object()
