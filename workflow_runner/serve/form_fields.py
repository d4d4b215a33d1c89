"""The launch form's model: input definitions + resolved values → a tree of fields a template draws.

The form never evaluates anything itself: :func:`workflow_runner.serve.data.workflow_tree`
(the resolver of ``wfrun inputs``) gives values, hidden and ignored inputs and
errors; this module only decides which widget shows each input. What the
browser posts back is read by :func:`posted_values`: only the fields the user
*touched* count as given values, so an expression default (``default: ${{
inputs.a }}``) keeps following the inputs it is computed from, as on the CLI.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from workflow_runner import inputpath
from workflow_runner.inputs.types import NAMED_TYPES, RESOURCE_TYPES, option_values

PREFIX = "in."
"""Form field names of inputs: ``in.<dotted path>`` (list items: ``in.items.0.name``)."""
EXPR = re.compile(r"^\$\{\{\s*inputs\.([A-Za-z0-9_.\-]+)\s*\}\}$")


@dataclass
class Field:
    """One input as the form shows it."""

    path: str
    name: str
    kind: str
    label: str
    widget: str
    """text, textarea, password, number, slider, color, checkbox, select, multiselect, header, group, list."""
    value: Any = None
    help: str | None = None
    hidden: bool = False
    optional: bool = False
    error: str | None = None
    choices: list[tuple[str, str]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    children: list["Field"] = field(default_factory=list)
    items: list[list["Field"]] = field(default_factory=list)
    collapsed: bool = False

    @property
    def dom_id(self) -> str:
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "_", self.path)

    @property
    def text(self) -> str:
        """The value as an input box shows it."""
        if self.value is None:
            return ""
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        if isinstance(self.value, dict):
            return str(self.value.get("name", json.dumps(self.value)))
        if isinstance(self.value, (list, dict)):
            return json.dumps(self.value)
        return str(self.value)

    def selected(self, choice: str) -> bool:
        if isinstance(self.value, list):
            return choice in [str(v) for v in self.value]
        return choice == self.text


def _label(name: str, spec: dict) -> str:
    return str(spec.get("label") or name)


def _choices(spec: dict, values: dict) -> list[tuple[str, str]]:
    """(value, label) pairs; a dependent dropdown (``option-key: ${{ inputs.x }}``) keyed by x's current value."""
    options = spec.get("options")
    key = spec.get("option-key")
    if isinstance(options, dict) and isinstance(key, str) and "${{" in key:
        found = EXPR.match(key.strip())
        selected = inputpath.get(values, found.group(1)) if found else None
        chosen = options.get(selected if isinstance(selected, str) else json.dumps(selected), [])
        options = chosen if isinstance(chosen, list) else [chosen]
    labels: dict[str, str] = {}
    if isinstance(options, list):
        for opt in options:
            if isinstance(opt, dict):
                labels[str(opt.get("value", opt.get("label")))] = str(opt.get("label", opt.get("value")))
    plain = option_values({"options": options, **({"option-key": key} if key and "${{" not in str(key) else {})})
    return [(str(v), labels.get(str(v), str(v))) for v in plain or []]


def _picker_choices(kind: str, user: Any) -> list[tuple[str, str]]:
    if kind in RESOURCE_TYPES:
        return [(n, n) for n in ["localhost", *sorted(user.clusters)]]
    section = user.named.get(kind)
    names = list(section) if isinstance(section, (list, dict)) else []
    return [(str(n), str(n)) for n in names]


def short_error(error: dict[str, Any]) -> str:
    """The CLI's message without what the field next to it already says: the file location, the source ``form``."""
    message = str(error.get("message") or "")
    location = error.get("location")
    if location and message.startswith(f"{location}: "):
        message = message[len(location) + 2:]
    return message.removeprefix("form: ")


def build(defs: dict, tree: dict, user: Any, prefix: str = "", values: Any = None) -> list[Field]:
    """Fields for ``defs`` (a level of the definitions) with the values/hidden/errors of ``tree``."""
    values = tree["values"] if values is None else values
    errors = {e["input"]: short_error(e) for e in tree["errors"] if e.get("input")}
    out: list[Field] = []
    for name, spec in defs.items():
        if not isinstance(spec, dict):
            continue
        path = f"{prefix}{name}"
        if path in tree["ignored"]:
            continue
        kind = str(spec.get("type") or "string")
        value = values.get(name) if isinstance(values, dict) else None
        f = Field(path, name, kind, _label(name, spec), "text", value, help=spec.get("tooltip") or spec.get("description"),
                  hidden=path in tree["hidden"] or spec.get("hidden") is True, optional=spec.get("optional") is True,
                  error=errors.get(path))
        if kind == "header":
            f.widget = "header"
        elif kind == "group":
            f.widget, f.collapsed = "group", bool(spec.get("collapsed"))
            f.children = build(spec.get("items") or {}, tree, user, path + ".", value if isinstance(value, dict) else {})
        elif kind == "list":
            f.widget = "list"
            template = spec.get("template")
            for i, item in enumerate(value if isinstance(value, list) else []):
                if isinstance(template, dict) and template and "type" not in template:
                    f.items.append(build(template, tree, user, f"{path}.{i}.", item if isinstance(item, dict) else {}))
                else:
                    one = dict(template) if isinstance(template, dict) else {}
                    f.items.append(build({str(i): one}, tree, user, f"{path}.", {str(i): item}))
        elif kind == "password":
            f.widget, f.value = "password", None  # never echoed back
        elif kind in ("editor", "textarea"):
            f.widget = "textarea"
        elif kind in ("number", "integer"):
            f.widget = "slider" if spec.get("slider") else "number"
            f.attrs = {k: spec[k] for k in ("min", "max", "step") if isinstance(spec.get(k), (int, float))}
            if kind == "integer" and "step" not in f.attrs:
                f.attrs["step"] = 1
            f.attrs.setdefault("step", "any")
        elif kind == "color-picker":
            f.widget = "color"
        elif kind == "boolean":
            f.widget = "checkbox"
        elif kind in ("dropdown", "multi-dropdown"):
            f.widget = "multiselect" if kind == "multi-dropdown" or spec.get("multiple") else "select"
            f.choices = _choices(spec, tree["values"])
        elif kind in RESOURCE_TYPES or kind in NAMED_TYPES:
            f.choices = _picker_choices(kind, user)
            f.widget = "select" if f.choices else "text"
        out.append(f)
    return out


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for dotted, value in flat.items():
        parts = dotted.split(".")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


def posted_values(form: list[tuple[str, str]], multi: set[str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The values the user gave: touched fields only (``_touched``), the last value of a name wins (checkboxes
    send a hidden ``false`` before the box), names in ``_multi`` collect every value into a list."""
    touched: list[str] = []
    multis: set[str] = set(multi or ())
    flat: dict[str, Any] = {}
    for key, value in form:
        if key == "_touched":
            touched += [t for t in value.split(",") if t and t not in touched]
        elif key == "_multi":
            multis.add(value)
    for key, value in form:
        if not key.startswith(PREFIX):
            continue
        path = key[len(PREFIX):]
        if path in multis:
            flat.setdefault(path, [])
            if value != "":
                flat[path].append(value)
        else:
            flat[path] = value
    for path in multis:
        flat.setdefault(path, [])
    chosen = {p: v for p, v in flat.items() if any(p == t or p.startswith(t + ".") for t in touched)}
    return _nest(chosen), touched


def flatten(values: Any, prefix: str = "") -> list[str]:
    """Dotted paths of every leaf of ``values`` (preset and relaunch values count as touched)."""
    if isinstance(values, dict):
        return [p for k, v in values.items() for p in flatten(v, f"{prefix}{k}.")] or ([prefix[:-1]] if prefix else [])
    if isinstance(values, list):
        return [prefix[:-1]] if prefix else []
    return [prefix[:-1]] if prefix else []


__all__ = ["Field", "build", "posted_values", "flatten", "PREFIX"]
