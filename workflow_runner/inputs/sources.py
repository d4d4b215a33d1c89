"""Where input values come from: ``--config`` presets, ``--inputs`` files (or stdin), ``--set`` pairs, in layers.

Also the result of resolving them (:class:`ResolvedInputs`) and how it is masked.
"""

from __future__ import annotations

import json
from dataclasses import field
from typing import Any

from workflow_runner import inputpath
from workflow_runner import limits
from workflow_runner.errors import InputError, Location, did_you_mean
from workflow_runner.masking import mask_tree
from workflow_runner.model import Workflow
from workflow_runner.records import Record, record

MASK = "***"


@record
class ResolvedInputs(Record):
    """The values of a run's inputs, and what must be masked, said or hidden about them."""

    values: dict[str, Any]
    secrets: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)

    def masked(self) -> dict[str, Any]:
        return mask(self.values, self.secrets)


def mask(value: Any, secrets: list[str]) -> Any:
    return mask_tree(value, secrets)


@record
class Sources(Record):
    """User-provided values with a description of where each layer came from (for errors)."""

    layers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def merged(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for _, layer in self.layers:
            deep_merge(out, layer)
        return out

    def origin(self, path: str) -> str:
        """The source that set ``path`` last (for 'inputs.json: input x ...' messages)."""
        for name, layer in reversed(self.layers):
            try:
                found = inputpath.has(layer, path)
            except inputpath.PathError:  # a key that is no path ('', 'a..b'): it is reported as unknown
                found = any(key == path for key in layer) if isinstance(layer, dict) else False
            if found:
                return name
        return "inputs"


def deep_merge(base: dict, extra: dict) -> dict:
    return inputpath.merge(base, extra)


def parse_set(items: list[str]) -> dict[str, Any]:
    """``--set a.b=value`` / ``--set l[0].x=value`` pairs to a nested dict; values that parse as JSON keep their type.

    A list index changes only that item of the list underneath (an :class:`inputpath.IndexPatch`).
    """
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"expects NAME=VALUE, got '{item}'", location=Location("--set"))
        name, raw = item.split("=", 1)
        try:
            value: Any = json.loads(raw)
        except (ValueError, RecursionError):
            value = raw
        depth = name.count(".") + name.count("[") + 1
        if depth + 1 > limits.MAX_NESTING or limits.deeper_than(value, limits.MAX_NESTING - depth):
            shown = name if len(name) <= 40 else name[:40] + "…"
            raise InputError(f"'{shown}' nests more than {limits.MAX_NESTING} levels deep", location=Location("--set"))
        try:
            inputpath.set_in(out, inputpath.parse(name), value, patch=True)
        except inputpath.PathError as exc:
            raise InputError(str(exc), location=Location("--set")) from None
    return out


def preset(workflow: Workflow, name: str) -> dict[str, Any]:
    """The values of a ``configurations:`` preset, for ``--config NAME``."""
    presets = workflow.configurations
    if name not in presets:
        hint = did_you_mean(name, presets)
        known = ", ".join(presets) or "none defined"
        raise InputError(f"unknown configuration '{name}'{hint} (known: {known})", location=Location("--config"))
    value = presets[name]
    if isinstance(value, dict) and isinstance(value.get("inputs"), dict):
        value = value["inputs"]
    if not isinstance(value, dict):
        raise InputError(f"configuration '{name}' must be a mapping of input values", location=workflow.locate(("configurations", name)))
    return json.loads(json.dumps(value))


_STDIN: list[str] = []


def provide_stdin(text: str) -> None:
    """What ``--inputs -`` reads in this process, when it came another way (a detached run's hand-off pipe)."""
    _STDIN[:] = [text]


def read_stdin_once() -> str:
    """Standard input, read once per process: ``--inputs -`` (wfrun serve passes values this way, never in argv)."""
    if not _STDIN:
        import sys

        _STDIN.append(sys.stdin.read())
    return _STDIN[0]


def load_values_file(path: str) -> dict[str, Any]:
    """An ``--inputs`` file: JSON or YAML, a mapping at the top; ``-`` reads standard input."""
    from workflow_runner.errors import LoadError
    from workflow_runner.loader import load_text

    try:
        text = read_stdin_once() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise InputError(f"cannot read inputs file: {exc.strerror}", location=Location(path)) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"the inputs file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})",
                         location=Location(path)) from None
    not_a_mapping = "the inputs file must hold a mapping of input names to values"
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except (RecursionError, ValueError) as exc:
        if not isinstance(exc, json.JSONDecodeError):  # nested past the recursion limit, an int of > 4300 digits
            raise InputError(_json_limit(exc), location=Location(path)) from None
        if path.lower().endswith(".json"):
            raise InputError(f"invalid JSON: {exc.msg}", location=Location(path, exc.lineno, exc.colno)) from None
        try:
            data = load_text(text, path)
        except LoadError as exc:
            if exc.message.startswith("the file is empty"):  # only comments or '---'
                return {}
            if exc.message.startswith("the top level must be a mapping"):
                raise InputError(not_a_mapping, location=exc.location) from None
            raise InputError(exc.message, location=exc.location) from None
        data = json.loads(json.dumps(data))
    if not isinstance(data, dict):
        raise InputError(not_a_mapping, location=Location(path))
    if limits.deeper_than(data):
        raise InputError(_json_limit(RecursionError()), location=Location(path))
    return data


def _json_limit(exc: BaseException) -> str:
    """Why a JSON text within the syntax is still refused: too deep, or a number too long to convert."""
    if isinstance(exc, RecursionError):
        return f"values nested more than {limits.MAX_NESTING} levels deep"
    return f"a number is too long ({str(exc).split(':')[0].lower()})"
