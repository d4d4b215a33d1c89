"""Resolving ``on.execute.inputs``: user values over defaults, coerced to their declared types, to a fixed point.

Defaults and the ``hidden``/``ignore``/``optional`` attributes may be expressions over other
inputs, so values are computed until nothing changes; ``${{ .hidden }}`` reads the input's
own attribute (:class:`SiblingAttributes`). Coercion per type lives in :mod:`.types`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Callable

from workflow_runner.errors import InputError, Location, WorkflowError, did_you_mean
from workflow_runner.expressions import Context, ExpressionError, Template, render
from workflow_runner.expressions.dialect import LIST_INDEX_CONTEXT
from workflow_runner.inputs.sources import ResolvedInputs, Sources
from workflow_runner.inputs.types import (
    ABSENT,
    COERCE,
    DEFAULT_COERCER,
    EMPTY,
    NAMED_TYPES,
    RESOURCE_TYPES,
    BadValue,
    autoselected,
    describe,
    local_resource,
    number_text,
)
from workflow_runner.model import Workflow


class Resolver:
    def __init__(self, workflow: Workflow, sources: Sources, clusters: dict[str, Any], strict: bool, named: dict[str, Any]) -> None:
        self.wf = workflow
        self.sources = sources
        self.user = sources.merged()
        self.clusters = clusters
        self.named = named
        """User config sections of the platform pickers (input_types.NAMED_TYPES)."""
        self.strict = strict
        self.unknown_is_error = False
        self.index: int | None = None
        """Position of the list entry whose template is being resolved: ``index`` in ``inputs.list.[index]``."""
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
            new = self.group(defs, self.user, values, (), ("on", "execute", "inputs"))
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

    def group(self, defs: dict, user: Any, current: dict, path: tuple, def_path: tuple) -> dict[str, Any]:
        out: dict[str, Any] = {}
        user = user if isinstance(user, dict) else {}
        for name, spec in defs.items():
            if not isinstance(spec, dict):
                continue
            value = self._value(name, spec, user, current, path + (name,), def_path + (name,))
            if value is not ABSENT:
                out[name] = value
        return out

    def _value(self, name: str, spec: dict, user: dict, current: dict, path: tuple, def_path: tuple) -> Any:
        kind = spec.get("type", "string")
        if kind == "header":
            return ABSENT
        if kind == "group":
            sub_user = user.get(name)
            if sub_user is not None and not isinstance(sub_user, dict):
                self._error(path, f"must be a mapping of its items, got {describe(sub_user)}")
                sub_user = {}
            return self.group(spec.get("items") or {}, sub_user or {}, current, path, def_path + ("items",))
        if name in user:
            return self.coerce(user[name], spec, path, def_path)
        default = spec.get("default")
        if isinstance(default, Template) or isinstance(default, (dict, list)):
            before = len(self.errors)
            default = self._eval(default, current, self._siblings(spec, current, def_path), def_path + ("default",))
            if len(self.errors) > before:  # reported: not also 'required'
                self.errored.add(".".join(path))
        if default is None and kind in RESOURCE_TYPES:
            return local_resource()
        if default is None and "default" not in spec and kind in EMPTY:
            return copy.deepcopy(EMPTY[kind])
        if default is None and "default" not in spec:
            default = autoselected(self, spec)
        if default is None:
            return None
        return self.coerce(default, spec, path, def_path, from_default=True)

    # -- coercion ----------------------------------------------------------

    def coerce(self, value: Any, spec: dict, path: tuple, def_path: tuple, from_default: bool = False) -> Any:
        kind = spec.get("type", "string")
        if value is None:
            return None
        try:
            out = COERCE.get(kind, DEFAULT_COERCER)(self, value, spec, path, def_path)
        except BadValue as bad:
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
                self._error(path, f"must be {word} {number_text(limit)}, got {number_text(value)}", from_default=from_default, def_path=def_path)

    # -- visibility --------------------------------------------------------

    def _apply_visibility(self, defs: dict, values: dict, path: tuple, def_path: tuple) -> dict:
        out: dict[str, Any] = {}
        for name, spec in defs.items():
            if not isinstance(spec, dict) or name not in values:
                continue
            p, dp = path + (name,), def_path + (name,)
            attrs = self._siblings(spec, self.current, dp)
            dotted = ".".join(p)
            if attrs["ignore"]:
                self.result.ignored.append(dotted)
                continue
            if attrs["hidden"]:
                self.result.hidden.append(dotted)
            value = values[name]
            if spec.get("type") == "group" and isinstance(value, dict):
                value = self._apply_visibility(spec.get("items") or {}, value, p, dp + ("items",))
            elif spec.get("type") == "list" and isinstance(value, list) and _is_item_group(spec.get("template")):
                value = self._list_visibility(spec["template"], value, p, dp + ("template",))
            elif value is None and self.strict and not attrs["optional"] and not attrs["hidden"] and not self._has_error(dotted):
                self._error(p, "is required but has no value", missing=True, def_path=dp, kind=spec.get("type", "string"))
            out[name] = value
        return out

    # -- helpers -----------------------------------------------------------

    def _list_visibility(self, template: dict, items: list, path: tuple, def_path: tuple) -> list:
        """``hidden``/``ignore``/``optional`` of every entry's fields, each seeing its own entry as ``[index]``."""
        out = []
        for i, item in enumerate(items):
            with self.list_item(i):
                out.append(self._apply_visibility(template, item, path + (str(i),), def_path) if isinstance(item, dict) else item)
        return out

    @contextmanager
    def list_item(self, index: int) -> Iterator[None]:
        outer, self.index = self.index, index
        try:
            yield
        finally:
            self.index = outer

    def evaluate(self, value: Any, def_path: tuple) -> Any:
        """An attribute expression (``option-key``) over the inputs as computed so far."""
        return self._eval(value, self.current, {}, def_path)

    def _siblings(self, spec: dict, current: dict, def_path: tuple) -> SiblingAttributes:
        return SiblingAttributes(spec, lambda raw, own, attr: self._eval(raw, current, own, def_path + (attr,)))

    def _eval(self, value: Any, current: dict, own: Any, def_path: tuple) -> Any:
        ctx = Context(values={"inputs": current, ".": own, "env": {}, "org": {}, LIST_INDEX_CONTEXT: self.index})
        try:
            return render(value, ctx)
        except ExpressionError as exc:
            self.errors.append(exc)
            return None

    def _has_error(self, dotted: str) -> bool:
        """Already reported (its own bad value, or its group's): a 'required' error would only repeat it."""
        return any(dotted == e or dotted.startswith(e + ".") for e in self.errored)

    def _error(self, path: tuple, message: str, *, missing: bool = False, from_default: bool = False, def_path: tuple = (),
               kind: str = "") -> None:
        dotted = ".".join(path)
        self.errored.add(dotted)
        if missing:
            msg = f"input '{dotted}' {message} (set it in --inputs FILE or with --set {dotted}=VALUE)"
            if kind in NAMED_TYPES:
                msg = (f"input '{dotted}' ({kind}) {message}: set it in --inputs FILE or with --set {dotted}=NAME, "
                       f"or name it in a '{kind}:' section of the wfrun config (its only entry, or with autoselect its first, is the default)")
            self.errors.append(InputError(msg, location=self.wf.locate(def_path, key=True)))
        elif from_default:
            self.errors.append(InputError(f"default of input '{dotted}' {message}", location=self.wf.locate(def_path + ("default",))))
        else:
            self.errors.append(InputError(f"input '{dotted}' {message}", location=Location(self.sources.origin(dotted))))
        self.errors[-1].input_path = dotted

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
                    self.errors[-1].input_path = dotted
                else:
                    self.result.warnings.append(f"{where}: {message}")
            elif spec.get("type") == "group":
                self._warn_unknown(spec.get("items") or {}, value, path + (name,))



class SiblingAttributes(Mapping):
    """An input's own attributes as ``${{ .hidden }}`` sees them, each evaluated when first read.

    Lazy so that any order works (``hidden: ${{ .ignore }}`` before ``ignore:``);
    ``hidden``/``ignore``/``optional`` read as booleans. An attribute that refers
    back to itself through others reads as null (false) instead of looping.
    """

    FLAGS = ("hidden", "optional", "ignore")

    def __init__(self, spec: dict, evaluate: Callable[[Any, "SiblingAttributes", str], Any]) -> None:
        self.spec = spec
        self.evaluate = evaluate
        self.done: dict[str, Any] = {}
        self.busy: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        if name in self.done:
            return self.done[name]
        if name not in self.spec and name not in self.FLAGS:
            raise KeyError(name)
        if name in self.busy:
            return None
        self.busy.add(name)
        raw = self.spec.get(name, False)
        value = self.evaluate(raw, self, name) if isinstance(raw, Template) else raw
        self.busy.discard(name)
        self.done[name] = bool(value) if name in self.FLAGS else value
        return self.done[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self.FLAGS, *self.spec]))

    def __len__(self) -> int:
        return len(list(iter(self)))


def _is_item_group(template: Any) -> bool:
    """A list template that is a map of inputs (entries are objects), not one input definition."""
    return isinstance(template, dict) and not ("type" in template and not all(isinstance(v, dict) for v in template.values()))


def resolve(
    workflow: Workflow,
    sources: Sources | None = None,
    *,
    clusters: dict[str, Any] | None = None,
    strict: bool = True,
    named: dict[str, Any] | None = None,
    unknown_is_error: bool = False,
) -> ResolvedInputs:
    """The ``inputs`` context. ``strict=False`` (validation) skips the required-value check.

    ``clusters`` and ``named`` are the user config's cluster and picker sections (userconfig.py).
    ``unknown_is_error``: a value for an input the workflow does not declare is
    an error (``--set``/``--inputs``: a typo must not run with the default), not
    a warning (``with:`` of a called workflow, where extra keys are ignored).
    """
    resolver = Resolver(workflow, sources or Sources(), clusters or {}, strict, named or {})
    resolver.unknown_is_error = unknown_is_error
    return resolver.resolve()


def resolve_report(
    workflow: Workflow,
    sources: Sources | None = None,
    *,
    clusters: dict[str, Any] | None = None,
    named: dict[str, Any] | None = None,
) -> tuple[ResolvedInputs, list[WorkflowError]]:
    """Like :func:`resolve` (strict, unknown inputs are errors) but returns the tree *and* every error.

    For a form that re-evaluates as the user types (``wfrun serve``): the values the
    resolver reached (defaults, hidden/ignore/optional evaluated) are still shown
    while some fields are wrong; each InputError names its field in ``input_path``.
    """
    resolver = Resolver(workflow, sources or Sources(), clusters or {}, True, named or {})
    resolver.unknown_is_error = True
    try:
        return resolver.resolve(), []
    except WorkflowError:
        return resolver.result, list(resolver.errors)


def check_value(workflow: Workflow, spec: dict, value: Any, dotted: str) -> str | None:
    """Why a literal ``value`` does not fit the input ``spec`` (type, choices, min/max), or None if it does.

    For values known before anything runs (a ``uses:`` step's literal ``with:``
    entries): the same coercion as resolving inputs, so the check and the run agree.
    """
    resolver = Resolver(workflow, Sources(), {}, False, {})
    resolver.coerce(value, spec, tuple(dotted.split(".")), ())
    return resolver.errors[0].message if resolver.errors else None
