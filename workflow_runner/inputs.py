"""Resolve ``on.execute.inputs``: user values over defaults, coerced to their declared types.

Precedence, lowest first: definition defaults, a ``configurations`` preset
(``--config NAME``), the ``--inputs`` file, ``--set a.b=c``. Defaults and the
``hidden``/``ignore``/``optional`` attributes may be expressions over other
inputs (``default: ${{ inputs.resource.schedulerType != 'slurm' }}``), so values
are computed to a fixed point; ``${{ .hidden }}`` reads the input's own
attribute. An ignored input is removed. ``password`` values are secrets: they
are collected so every log line and every stored value can be masked.
"""

from __future__ import annotations

import copy
import getpass
import json
from dataclasses import dataclass, field
from typing import Any

from workflow_runner import limits
from workflow_runner.errors import InputError, Location, WorkflowError, did_you_mean
from workflow_runner.expressions import Context, ExpressionError, Template, render
from workflow_runner.model import Workflow

STRING_TYPES = {
    "string", "editor", "password", "header", "slurm-partitions", "slurm-accounts", "slurm-qos",
    "bucket", "storage", "organization-groups", "kubernetes-clusters", "kubernetes-namespaces",
    "kubernetes-namespace", "kubernetes-cluster", "text", "textarea",
}
RESOURCE_TYPES = {"compute-clusters", "compute-resources"}
MASK = "***"


def local_resource() -> dict[str, Any]:
    """The embedded default resource: no ip, so everything runs on this machine."""
    user = _user()
    return {
        "id": "local", "ip": "", "name": "local", "namespace": user, "user": user,
        "type": "local", "provider": "local", "schedulerType": "", "uri": "",
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return "user"


@dataclass
class ResolvedInputs:
    values: dict[str, Any]
    secrets: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)

    def masked(self) -> dict[str, Any]:
        return mask(self.values, self.secrets)


def mask(value: Any, secrets: list[str]) -> Any:
    if not secrets:
        return value
    if isinstance(value, dict):
        return {k: mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            if secret:
                value = value.replace(secret, MASK)
    return value


@dataclass
class Sources:
    """User-provided values with a description of where each layer came from (for errors)."""

    layers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def merged(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for _, layer in self.layers:
            deep_merge(out, layer)
        return out

    def origin(self, path: str) -> str:
        """The source that set ``path`` last (for 'inputs.json: input x ...' messages)."""
        parts = path.split(".")
        for name, layer in reversed(self.layers):
            node: Any = layer
            for part in parts:
                if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                elif isinstance(node, dict) and part in node:
                    node = node[part]
                else:
                    break
            else:
                return name
        return "inputs"


def deep_merge(base: dict, extra: dict) -> dict:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def parse_set(items: list[str]) -> dict[str, Any]:
    """``--set a.b=value`` pairs to a nested dict; values that parse as JSON keep their type."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"expects NAME=VALUE, got '{item}'", location=Location("--set"))
        name, raw = item.split("=", 1)
        try:
            value: Any = json.loads(raw)
        except (ValueError, RecursionError):
            value = raw
        node = out
        parts = name.strip().split(".")
        if not all(parts):
            raise InputError(f"empty name part in '{name}'", location=Location("--set"))
        if len(parts) + 1 > limits.MAX_NESTING or limits.deeper_than(value, limits.MAX_NESTING - len(parts)):
            shown = name if len(name) <= 40 else name[:40] + "…"
            raise InputError(f"'{shown}' nests more than {limits.MAX_NESTING} levels deep", location=Location("--set"))
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"'{name}' conflicts with an earlier value", location=Location("--set"))
        node[parts[-1]] = value
    return out


class _Resolver:
    def __init__(self, workflow: Workflow, sources: Sources, clusters: dict[str, Any], strict: bool) -> None:
        self.wf = workflow
        self.sources = sources
        self.user = sources.merged()
        self.clusters = clusters
        self.strict = strict
        self.unknown_is_error = False
        self.errors: list[WorkflowError] = []
        self.errored: set[str] = set()
        self.result = ResolvedInputs(values={})
        self.current: dict[str, Any] = {}
        """The whole inputs tree of the previous pass: what expressions in definitions see."""

    # -- definitions walk -------------------------------------------------

    def resolve(self) -> ResolvedInputs:
        defs = self.wf.inputs
        values: dict[str, Any] = {}
        for _ in range(12):  # defaults over other inputs: iterate to a fixed point
            self.errors, self.errored, self.result.secrets = [], set(), []
            self.current = values
            new = self._group(defs, self.user, values, (), ("on", "execute", "inputs"))
            if new == values:
                break
            values = new
        self.current = values
        self.result.values = self._apply_visibility(defs, values, (), ("on", "execute", "inputs"))
        self._warn_unknown(defs, self.user, ())
        if self.errors:
            from workflow_runner.errors import raise_all

            raise_all(self.errors)
        return self.result

    def _group(self, defs: dict, user: Any, current: dict, path: tuple, def_path: tuple) -> dict[str, Any]:
        out: dict[str, Any] = {}
        user = user if isinstance(user, dict) else {}
        for name, spec in defs.items():
            if not isinstance(spec, dict):
                continue
            value = self._value(name, spec, user, current, path + (name,), def_path + (name,))
            if value is not _ABSENT:
                out[name] = value
        return out

    def _value(self, name: str, spec: dict, user: dict, current: dict, path: tuple, def_path: tuple) -> Any:
        kind = spec.get("type", "string")
        if kind == "header":
            return _ABSENT
        if kind == "group":
            sub_user = user.get(name)
            if sub_user is not None and not isinstance(sub_user, dict):
                self._error(path, f"must be a mapping of its items, got {_describe(sub_user)}")
                sub_user = {}
            return self._group(spec.get("items") or {}, sub_user or {}, current, path, def_path + ("items",))
        if name in user:
            return self._coerce(user[name], spec, path, def_path)
        default = spec.get("default")
        if isinstance(default, Template) or isinstance(default, (dict, list)):
            before = len(self.errors)
            default = self._eval(default, current, {}, def_path + ("default",))
            if len(self.errors) > before:  # reported: not also 'required'
                self.errored.add(".".join(path))
        if default is None and kind in RESOURCE_TYPES:
            return local_resource()
        if default is None and "default" not in spec and kind in _EMPTY:
            return copy.deepcopy(_EMPTY[kind])
        if default is None:
            return None
        return self._coerce(default, spec, path, def_path, from_default=True)

    # -- coercion ----------------------------------------------------------

    def _coerce(self, value: Any, spec: dict, path: tuple, def_path: tuple, from_default: bool = False) -> Any:
        kind = spec.get("type", "string")
        if value is None:
            return None
        try:
            out = _COERCE.get(kind, _coerce_any)(self, value, spec, path, def_path)
        except _Bad as bad:
            self._error(path, str(bad), from_default=from_default, def_path=def_path)
            return None
        if kind == "password" and isinstance(out, str) and out and out not in self.result.secrets:
            self.result.secrets.append(out)
        self._check_range(out, spec, path, def_path, from_default)
        return out

    def _check_range(self, value: Any, spec: dict, path: tuple, def_path: tuple, from_default: bool) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return
        for bound, ok in (("min", lambda v, b: v >= b), ("max", lambda v, b: v <= b)):
            limit = spec.get(bound)
            if isinstance(limit, Template):
                limit = self._eval(limit, self.current, {}, def_path + (bound,))
            if isinstance(limit, (int, float)) and not isinstance(limit, bool) and not ok(value, limit):
                word = "at least" if bound == "min" else "at most"
                self._error(path, f"must be {word} {_num(limit)}, got {_num(value)}", from_default=from_default, def_path=def_path)

    # -- visibility --------------------------------------------------------

    def _apply_visibility(self, defs: dict, values: dict, path: tuple, def_path: tuple) -> dict:
        out: dict[str, Any] = {}
        for name, spec in defs.items():
            if not isinstance(spec, dict) or name not in values:
                continue
            p, dp = path + (name,), def_path + (name,)
            attrs: dict[str, Any] = {}
            for attr in ("hidden", "optional", "ignore"):
                raw = spec.get(attr, False)
                attrs[attr] = bool(self._eval(raw, self.current, attrs, dp + (attr,))) if isinstance(raw, Template) else bool(raw)
            dotted = ".".join(p)
            if attrs["ignore"]:
                self.result.ignored.append(dotted)
                continue
            if attrs["hidden"]:
                self.result.hidden.append(dotted)
            value = values[name]
            if spec.get("type") == "group" and isinstance(value, dict):
                value = self._apply_visibility(spec.get("items") or {}, value, p, dp + ("items",))
            elif value is None and self.strict and not attrs["optional"] and not attrs["hidden"] and not self._has_error(dotted):
                self._error(p, "is required but has no value", missing=True, def_path=dp)
            out[name] = value
        return out

    # -- helpers -----------------------------------------------------------

    def _eval(self, value: Any, current: dict, own: dict, def_path: tuple) -> Any:
        ctx = Context(values={"inputs": current, ".": own, "env": {}, "org": {}})
        try:
            return render(value, ctx)
        except ExpressionError as exc:
            self.errors.append(exc)
            return None

    def _has_error(self, dotted: str) -> bool:
        """Already reported (its own bad value, or its group's): a 'required' error would only repeat it."""
        return any(dotted == e or dotted.startswith(e + ".") for e in self.errored)

    def _error(self, path: tuple, message: str, *, missing: bool = False, from_default: bool = False, def_path: tuple = ()) -> None:
        dotted = ".".join(path)
        self.errored.add(dotted)
        if missing:
            msg = f"input '{dotted}' {message} (set it in --inputs FILE or with --set {dotted}=VALUE)"
            self.errors.append(InputError(msg, location=self.wf.locate(def_path, key=True)))
        elif from_default:
            self.errors.append(InputError(f"default of input '{dotted}' {message}", location=self.wf.locate(def_path + ("default",))))
        else:
            self.errors.append(InputError(f"input '{dotted}' {message}", location=Location(self.sources.origin(dotted))))

    def _warn_unknown(self, defs: dict, user: Any, path: tuple) -> None:
        if not isinstance(user, dict):
            return
        for name, value in user.items():
            spec = defs.get(name)
            if not isinstance(spec, dict):
                dotted = ".".join(path + (name,))
                where = self.sources.origin(dotted)
                message = f"unknown input '{dotted}'{did_you_mean(name, defs)}"
                if self.unknown_is_error:
                    self.errors.append(InputError(message, location=Location(where)))
                else:
                    self.result.warnings.append(f"{where}: {message}")
            elif spec.get("type") == "group":
                self._warn_unknown(spec.get("items") or {}, value, path + (name,))


class _Bad(Exception):
    pass


_ABSENT = object()
_EMPTY: dict[str, Any] = {"boolean": False, "list": []}
"""Values of inputs declared without a default that need none (an unchecked box, no rows)."""


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {_num(value)}"
    if isinstance(value, str):
        return f"'{value}'" if len(value) < 40 else "a long string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null"


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _coerce_any(r: _Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    if isinstance(value, (dict, list)):
        raise _Bad(f"must be text, got {_describe(value)}")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _num(value)
    return value


def _coerce_number(r: _Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    integer = spec.get("type") == "integer"
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise _Bad(f"must be {'an integer' if integer else 'a number'}, got {_describe(value)}")
    if isinstance(value, str):
        try:
            value = float(value.strip()) if any(c in value for c in ".eE") or value.strip().lower() in ("nan", "inf") else int(value.strip())
        except ValueError:
            raise _Bad(f"must be {'an integer' if integer else 'a number'}, got {_describe(value)}") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if integer and not isinstance(value, int):
        raise _Bad(f"must be an integer, got {_describe(value)}")
    return value


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}


def _coerce_bool(r: _Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise _Bad(f"must be true or false, got {_describe(value)}")


def option_values(spec: dict) -> list[Any] | None:
    options = spec.get("options")
    if options is None:
        return None
    if isinstance(options, dict):
        key = spec.get("option-key")
        out = []
        for name, opt in options.items():
            if isinstance(opt, dict):
                out.append(opt.get(key) if key else opt.get("value", name))
            else:
                out.append(name)
        return out
    out = []
    for opt in options if isinstance(options, list) else []:
        out.append(opt.get("value", opt.get("label")) if isinstance(opt, dict) else opt)
    return out


def _coerce_choice(r: _Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    allowed = option_values(spec)
    if allowed is None or any(isinstance(a, Template) for a in allowed):
        return value
    for choice in allowed:
        if choice == value or (isinstance(choice, str) and str(value) == choice) or (not isinstance(choice, str) and str(choice) == str(value)):
            return choice
    shown = ", ".join(repr(a) if isinstance(a, str) else json.dumps(a) for a in allowed)
    raise _Bad(f"must be one of {shown}; got {_describe(value)}{did_you_mean(str(value), [str(a) for a in allowed])}")


def _coerce_multi(r: _Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            raise _Bad(f"must be a list of choices, got {_describe(value)}") from None
    elif isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise _Bad(f"must be a list of choices, got {_describe(value)}")
    return [_coerce_choice(r, v, spec, path, def_path) for v in value]


def _coerce_list(r: _Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _Bad(f"must be a list, got {_describe(value)}") from None
    if not isinstance(value, list):
        raise _Bad(f"must be a list, got {_describe(value)}")
    template = spec.get("template")
    if not isinstance(template, dict):
        return value
    single = "type" in template and not all(isinstance(v, dict) for v in template.values())
    out = []
    for i, item in enumerate(value):
        item_path = path + (str(i),)
        if single:
            out.append(r._coerce(item, template, item_path, def_path + ("template",)))
        else:
            out.append(r._group(template, item if isinstance(item, dict) else {}, r.current, item_path, def_path + ("template",)))
    return out


def _coerce_resource(r: _Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    if isinstance(value, str):
        if value in ("", "local", "localhost"):
            return local_resource()
        named = r.clusters.get(value)
        if named is None:
            hint = did_you_mean(value, r.clusters)
            raise _Bad(f"names unknown cluster '{value}'{hint} (define it under 'clusters:' in the wfrun config)")
        value = {"name": value, **named}
    if not isinstance(value, dict):
        raise _Bad(f"must be a resource mapping (ip, user, schedulerType, ...) or a cluster name, got {_describe(value)}")
    out = {k: "" for k in ("id", "ip", "name", "namespace", "user", "type", "provider", "schedulerType", "uri")}
    out.update(value)
    if out["schedulerType"] not in ("", "slurm", "pbs", None):
        raise _Bad(f"has schedulerType '{out['schedulerType']}'; expected 'slurm', 'pbs' or ''")
    return out


def _coerce_group_value(r: _Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    return value


_COERCE = {
    "number": _coerce_number,
    "integer": _coerce_number,
    "boolean": _coerce_bool,
    "dropdown": _coerce_choice,
    "multi-dropdown": _coerce_multi,
    "list": _coerce_list,
    "group": _coerce_group_value,
    **{t: _coerce_resource for t in RESOURCE_TYPES},
    **{t: _coerce_any for t in STRING_TYPES},
}


def resolve(
    workflow: Workflow,
    sources: Sources | None = None,
    *,
    clusters: dict[str, Any] | None = None,
    strict: bool = True,
    unknown_is_error: bool = False,
) -> ResolvedInputs:
    """The ``inputs`` context. ``strict=False`` (validation) skips the required-value check.

    ``unknown_is_error``: a value for an input the workflow does not declare is
    an error (``--set``/``--inputs``: a typo must not run with the default), not
    a warning (``with:`` of a called workflow, where extra keys are ignored).
    """
    resolver = _Resolver(workflow, sources or Sources(), clusters or {}, strict)
    resolver.unknown_is_error = unknown_is_error
    return resolver.resolve()


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


def load_values_file(path: str) -> dict[str, Any]:
    """An ``--inputs`` file: JSON or YAML, a mapping at the top."""
    from workflow_runner.errors import LoadError
    from workflow_runner.loader import load_text

    try:
        text = open(path, encoding="utf-8").read()
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
