"""Evaluates an AST against a :class:`Context`.

One small function per node type, dispatched through a dict keyed by the node
class: an expression is compiled once and evaluated for every job, matrix leg
and retry, so this path stays free of isinstance ladders. Each handler calls
the dispatch table directly for its children, so one tree level costs one
Python frame (the parser caps the tree depth).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Callable, Protocol

from .dialect import LIST_INDEX_CONTEXT
from .functions import FUNCTIONS
from .nodes import (
    BareWord,
    Binary,
    Call,
    ContextRef,
    Filter,
    Index,
    ListIndex,
    Literal,
    Logical,
    Node,
    PositionedError,
    Property,
    StatusRef,
    Ternary,
    Unary,
)
from .values import (
    MISSING,
    PRIMITIVES,
    FilteredArray,
    add,
    array_index,
    divide,
    equals,
    get_key,
    greater,
    includes,
    index,
    kind,
    less,
    modulo,
    multiply,
    normalize,
    stringify,
    subtract,
    to_number,
    truthy,
)

from workflow_runner.records import Record, record


class StatusProvider(Protocol):
    """Answers the status keywords of an ``if:`` (``error``, ``always``, ``failure()`` …).

    Keywords are lower-case: always, never, completed, error, canceled,
    cancelled, success, failure. The engine implements this for a step (its
    job so far) or a job (its needs).
    """

    def status(self, keyword: str) -> bool: ...


@record
class Context(Record):
    """What an expression can see: lower-case context name → value (``'.'`` for self-relative names).

    A known context name that is absent here (``sessions`` in a run without
    sessions) evaluates to null. ``status`` is set only while evaluating an
    ``if:`` condition; status keywords elsewhere are an error.
    """

    values: Mapping[str, Any]
    status: StatusProvider | None = None


def evaluate(node: Node, ctx: Context) -> Any:
    """The value of ``node``; raises PositionedError for runtime errors (bad JSON, misplaced status keyword)."""
    return _EVAL[type(node)](node, ctx)


def _literal(node: Literal, ctx: Context) -> Any:
    return node.value


def _context(node: ContextRef, ctx: Context) -> Any:
    return ctx.values.get(node.name)


def _list_index(node: ListIndex, ctx: Context) -> Any:
    """The position of the list entry being resolved; NaN (which indexes nothing) outside a list template."""
    position = ctx.values.get(LIST_INDEX_CONTEXT)
    return math.nan if position is None else position


def _status(node: StatusRef, ctx: Context) -> bool:
    if ctx.status is None:
        what = f"status function '{node.keyword}()'" if node.is_function else f"status keyword '{node.keyword}'"
        raise PositionedError(f"{what} can only be used in an if: condition", node.offset)
    return bool(ctx.status.status(node.keyword))


def _property(node: Property, ctx: Context) -> Any:
    obj = _EVAL[type(node.obj)](node.obj, ctx)
    if isinstance(obj, Mapping):
        value = get_key(obj, node.name, node.key)
        return None if value is MISSING else value
    if type(obj) is FilteredArray:
        return _filtered_index(obj, node.name)
    return None


def _index(node: Index, ctx: Context) -> Any:
    obj = _EVAL[type(node.obj)](node.obj, ctx)
    idx = _EVAL[type(node.index)](node.index, ctx)
    if type(obj) is FilteredArray:
        return _filtered_index(obj, idx)
    value = index(obj, idx)
    return None if value is MISSING else value


def _filtered_index(items: FilteredArray, idx: Any) -> FilteredArray:
    """A property/index applied to every element of a filter result; elements without it are skipped."""
    result = FilteredArray()
    key = stringify(idx) if kind(idx) in PRIMITIVES else None
    folded = key.casefold() if key is not None else None
    position = array_index(idx)
    for item in items:
        if isinstance(item, Mapping):
            if key is not None:
                value = get_key(item, key, folded)
                if value is not MISSING:
                    result.append(value)
        elif isinstance(item, (list, tuple)):
            if position is not None and position < len(item):
                result.append(item[position])
    return result


def _filter(node: Filter, ctx: Context) -> FilteredArray:
    obj = _EVAL[type(node.obj)](node.obj, ctx)
    if type(obj) is FilteredArray:
        result = FilteredArray()
        for item in obj:
            if isinstance(item, Mapping):
                result.extend(item.values())
            elif isinstance(item, (list, tuple)):
                result.extend(item)
        return result
    if isinstance(obj, Mapping):
        return FilteredArray(obj.values())
    if isinstance(obj, (list, tuple)):
        return FilteredArray(obj)
    return FilteredArray()


def _unary(node: Unary, ctx: Context) -> Any:
    value = _EVAL[type(node.operand)](node.operand, ctx)
    if node.op == "!":
        return not truthy(value)
    if node.op == "-":
        return normalize(-to_number(value))
    return to_number(value)


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "==": equals,
    "!=": lambda a, b: not equals(a, b),
    "<": less,
    ">": greater,
    "<=": lambda a, b: equals(a, b) or less(a, b),
    ">=": lambda a, b: equals(a, b) or greater(a, b),
    "+": add,
    "-": subtract,
    "*": multiply,
    "/": divide,
    "%": modulo,
    "includes": includes,
    "!includes": lambda a, b: not includes(a, b),
    "===": lambda a, b: strict_equals(a, b),
    "!==": lambda a, b: not strict_equals(a, b),
}


def strict_equals(a: Any, b: Any) -> bool:
    """``===`` (platform dialect): ``==`` without coercion: values of different kinds are never equal."""
    return kind(a) == kind(b) and equals(a, b)


def _binary(node: Binary, ctx: Context) -> Any:
    left = _EVAL[type(node.left)](node.left, ctx)
    right = _EVAL[type(node.right)](node.right, ctx)
    return _BINARY[node.op](left, right)


def _logical(node: Logical, ctx: Context) -> Any:
    """``&&``/``||`` return the operand that decided the result, like JavaScript."""
    stop_when = node.op == "||"
    value = None
    for operand in node.operands:
        value = _EVAL[type(operand)](operand, ctx)
        if truthy(value) is stop_when:
            return value
    return value


def _ternary(node: Ternary, ctx: Context) -> Any:
    branch = node.then if truthy(_EVAL[type(node.cond)](node.cond, ctx)) else node.other
    return _EVAL[type(branch)](branch, ctx)


def _call(node: Call, ctx: Context) -> Any:
    args = [_EVAL[type(arg)](arg, ctx) for arg in node.args]
    try:
        return FUNCTIONS[node.name].body(*args)
    except PositionedError as e:
        if e.offset is None:
            e.offset = node.offset
        raise


_EVAL: dict[type, Callable[[Any, Context], Any]] = {
    Literal: _literal,
    BareWord: _literal,
    ListIndex: _list_index,
    ContextRef: _context,
    StatusRef: _status,
    Property: _property,
    Index: _index,
    Filter: _filter,
    Unary: _unary,
    Binary: _binary,
    Logical: _logical,
    Ternary: _ternary,
    Call: _call,
}
