"""One coercion per input type: a user's or a default's value → the value workflows see.

Split from ``inputs.py`` (which walks the definition tree, computes defaults and
visibility) so each type's meaning reads in one place. A coercer raises
:class:`BadValue` with the end of a sentence ("must be a number, got 'x'");
the resolver adds the input's path and where the value came from.

Platform pickers whose values live in the platform (``kubernetes-clusters``,
``kubernetes-namespaces``, ``kubernetes-pvc``, ``organization-groups``,
``bucket``, ``storage``) take their value from ``--inputs``/``--set``, or from
the user config section of the same name (userconfig.py): a list of names, or a
map name → value. A name listed there is checked (with did-you-mean); a map
entry's value replaces the name; an input with no value and no default takes
the section's only entry, or its first one when the input has ``autoselect: true``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Protocol

from workflow_runner.errors import did_you_mean
from workflow_runner.expressions import Template

STRING_TYPES = {
    "string", "editor", "password", "header", "slurm-partitions", "slurm-accounts", "slurm-qos",
    "kubernetes-namespace", "kubernetes-cluster", "text", "textarea",
}
NAMED_TYPES = {"kubernetes-clusters", "kubernetes-namespaces", "kubernetes-pvc", "organization-groups", "bucket", "storage"}
"""Picker types whose names may be listed in the user config section of the same name."""
RESOURCE_TYPES = {"compute-clusters", "compute-resources"}
HERE_NAMES = ("", "local", "localhost")
"""Resource names that always mean "run on this machine"."""
WORKSPACE = "workspace"
"""The platform's user workspace (``include-workspace``): this machine, unless the config names a cluster so."""


class BadValue(Exception):
    """A value that does not fit its input's type; the message ends a sentence about the input."""


class Resolver(Protocol):
    """What a coercer may ask of the resolver (inputs.py)."""

    current: dict[str, Any]
    clusters: dict[str, Any]
    named: dict[str, Any]

    def coerce(self, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any: ...

    def group(self, defs: dict, user: Any, current: dict, path: tuple, def_path: tuple) -> dict[str, Any]: ...

    def evaluate(self, value: Any, def_path: tuple) -> Any: ...

    def list_item(self, index: int) -> Any: ...


Coercer = Callable[[Resolver, Any, dict, tuple, tuple], Any]

ABSENT = object()
"""An input that yields no value at all (a ``header``)."""
EMPTY: dict[str, Any] = {"boolean": False, "list": []}
"""Values of inputs declared without a default that need none (an unchecked box, no rows)."""


def current_user() -> str:
    """``getpass.getuser()`` without importing getpass (and termios) into every run."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if os.environ.get(name):
            return os.environ[name]
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # no passwd entry (containers)
        return "user"


def local_resource() -> dict[str, Any]:
    """The embedded default resource: no ip, so everything runs on this machine."""
    user = current_user()
    return {
        "id": "local", "ip": "", "name": "local", "namespace": user, "user": user,
        "type": "local", "provider": "local", "schedulerType": "", "uri": "",
    }


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {number_text(value)}"
    if isinstance(value, str):
        return f"'{value}'" if len(value) < 40 else "a long string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null"


def number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def coerce_text(r: Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    if isinstance(value, (dict, list)):
        raise BadValue(f"must be text, got {describe(value)}")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(value)
    return value


def coerce_number(r: Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    integer = spec.get("type") == "integer"
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise BadValue(f"must be {'an integer' if integer else 'a number'}, got {describe(value)}")
    if isinstance(value, str):
        try:
            value = float(value.strip()) if any(c in value for c in ".eE") or value.strip().lower() in ("nan", "inf") else int(value.strip())
        except ValueError:
            raise BadValue(f"must be {'an integer' if integer else 'a number'}, got {describe(value)}") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if integer and not isinstance(value, int):
        raise BadValue(f"must be an integer, got {describe(value)}")
    return value


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}


def coerce_bool(r: Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise BadValue(f"must be true or false, got {describe(value)}")


def option_values(spec: dict, key: Any = None) -> list[Any] | None:
    """The choices of a dropdown; ``key`` is the evaluated ``option-key`` when it is an expression.

    Forms: a list of values or ``{label, value}``; a map of objects whose field
    named by a plain ``option-key`` is the value; and the dependent dropdown of
    real files: ``option-key: ${{ inputs.resource.ip }}`` with ``options`` a
    map from that key's value to the list of choices (a key with no entry: none).
    """
    options = spec.get("options")
    if options is None:
        return None
    if isinstance(options, dict) and isinstance(spec.get("option-key"), Template):
        options = options.get(key if isinstance(key, str) else json.dumps(key), [])
        if not isinstance(options, list):
            options = [options]
    if isinstance(options, dict):
        field = spec.get("option-key")
        out = []
        for name, opt in options.items():
            if isinstance(opt, dict):
                out.append(opt.get(field) if field else opt.get("value", name))
            else:
                out.append(name)
        return out
    out = []
    for opt in options if isinstance(options, list) else []:
        out.append(opt.get("value", opt.get("label")) if isinstance(opt, dict) else opt)
    return out


def choices(r: Resolver, spec: dict, def_path: tuple) -> list[Any] | None:
    """The dropdown's choices now: the dependent form's ``option-key`` evaluated over the other inputs."""
    key = spec.get("option-key")
    if isinstance(key, Template):
        key = r.evaluate(key, def_path + ("option-key",))
    return option_values(spec, key)


def coerce_choice(r: Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    if value == "":
        return ""  # no selection: fine when the input is optional (the required check looks at it)
    allowed = choices(r, spec, def_path)
    if allowed is None or any(isinstance(a, Template) for a in allowed):
        return value
    for choice in allowed:
        if choice == value or (isinstance(choice, str) and str(value) == choice) or (not isinstance(choice, str) and str(choice) == str(value)):
            return choice
    if not allowed:
        raise BadValue(f"has no choices here (its option-key selects none of its options); got {describe(value)}")
    shown = ", ".join(repr(a) if isinstance(a, str) else json.dumps(a) for a in allowed)
    raise BadValue(f"must be one of {shown}; got {describe(value)}{did_you_mean(str(value), [str(a) for a in allowed])}")


def coerce_multi(r: Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            raise BadValue(f"must be a list of choices, got {describe(value)}") from None
    elif isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise BadValue(f"must be a list of choices, got {describe(value)}")
    return [coerce_choice(r, v, spec, path, def_path) for v in value]


def coerce_list(r: Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    """Each entry through the ``template``; ``inputs.<list>.[index]`` in it names the entry itself."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise BadValue(f"must be a list, got {describe(value)}") from None
    if not isinstance(value, list):
        raise BadValue(f"must be a list, got {describe(value)}")
    template = spec.get("template")
    if not isinstance(template, dict):
        return value
    single = "type" in template and not all(isinstance(v, dict) for v in template.values())
    out = []
    for i, item in enumerate(value):
        item_path = path + (str(i),)
        with r.list_item(i):
            if single:
                out.append(r.coerce(item, template, item_path, def_path + ("template",)))
            else:
                out.append(r.group(template, item if isinstance(item, dict) else {}, r.current, item_path, def_path + ("template",)))
    return out


def coerce_resource(r: Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    if isinstance(value, str):
        named = r.clusters.get(value)
        if value in HERE_NAMES or (named is None and value == WORKSPACE):
            return local_resource()
        if named is None:
            hint = did_you_mean(value, r.clusters)
            raise BadValue(f"names unknown cluster '{value}'{hint} (define it under 'clusters:' in the wfrun config)")
        value = {"name": value, **named}
    if not isinstance(value, dict):
        raise BadValue(f"must be a resource mapping (ip, user, schedulerType, ...) or a cluster name, got {describe(value)}")
    out = {k: "" for k in ("id", "ip", "name", "namespace", "user", "type", "provider", "schedulerType", "uri")}
    out.update(value)
    if out["schedulerType"] not in ("", "slurm", "pbs", None):
        raise BadValue(f"has schedulerType '{out['schedulerType']}'; expected 'slurm', 'pbs' or ''")
    return out


def coerce_named(r: Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    """A platform picker: a name from the user config section of its type, or any value when there is none."""
    section = r.named.get(spec.get("type"))
    if section is None or value == "":
        return value if isinstance(value, (dict, list)) else coerce_text(r, value, spec, path, def_path)
    names = list(section) if isinstance(section, (dict, list)) else []
    if isinstance(value, str) and value in names:
        return section[value] if isinstance(section, dict) else value
    shown = ", ".join(map(str, names)) or "none"
    raise BadValue(
        f"names unknown {spec.get('type')} {describe(value)}{did_you_mean(str(value), names)} "
        f"(known under '{spec.get('type')}:' in the wfrun config: {shown})"
    )


def autoselected(r: Resolver, spec: dict) -> Any:
    """The default of a picker without one: the config section's only entry, or its first with ``autoselect: true``."""
    section = r.named.get(spec.get("type"))
    if not section or (spec.get("autoselect") is not True and len(section) != 1):
        return None
    return next(iter(section))  # a name: coercion maps it to its value


def coerce_group_value(r: Resolver, value: Any, spec: dict, path: tuple, def_path: tuple) -> Any:
    return value


COERCE: dict[str, Coercer] = {
    "number": coerce_number,
    "integer": coerce_number,
    "boolean": coerce_bool,
    "dropdown": coerce_choice,
    "multi-dropdown": coerce_multi,
    "list": coerce_list,
    "group": coerce_group_value,
    **{t: coerce_resource for t in RESOURCE_TYPES},
    **{t: coerce_named for t in NAMED_TYPES},
    **{t: coerce_text for t in STRING_TYPES},
}
DEFAULT_COERCER: Coercer = coerce_text
