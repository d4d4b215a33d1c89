"""The built-in functions: GitHub's value functions and the status functions.

Names are case-insensitive (``toJson`` = ``toJSON``), as in GitHub. Arity is
checked when the expression is compiled, so a wrong call is reported at
validation time rather than halfway through a run. Bodies receive evaluated
arguments and raise :class:`PositionedError` without an offset; the evaluator
adds the call's position.

The status functions (``success() failure() cancelled() always()``) have no
body here: the parser turns them into status references, which ask the run's
:class:`StatusProvider` exactly like the bare keywords ``error`` or ``always``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from .nodes import PositionedError
from .values import ARRAY, PRIMITIVES, equals, kind, parse_number, stringify, to_json

from workflow_runner.records import ReadOnly, frozen

MAX_ARGUMENTS = 255


@frozen
class Function(ReadOnly):
    """A built-in function: its arity is checked when the expression is compiled, not when it runs."""

    name: str  # canonical spelling, used in messages
    min_args: int
    max_args: int
    body: Callable[..., Any] | None  # None for status functions

    def arity_error(self, count: int) -> str | None:
        """The message for a call with ``count`` arguments, or None when the count is fine."""
        if self.min_args <= count <= self.max_args:
            return None
        if self.min_args == self.max_args:
            wanted = f"{self.min_args} argument{'' if self.min_args == 1 else 's'}"
        elif self.max_args == MAX_ARGUMENTS:
            wanted = f"at least {self.min_args} argument{'' if self.min_args == 1 else 's'}"
        else:
            wanted = f"{self.min_args} to {self.max_args} arguments"
        return f"function '{self.name}' takes {wanted}, got {count}"


def contains(search: Any, item: Any) -> bool:
    """String: substring ignoring case; array: an element loosely equal to ``item``."""
    ks = kind(search)
    if ks in PRIMITIVES:
        return kind(item) in PRIMITIVES and stringify(item).casefold() in stringify(search).casefold()
    if ks == ARRAY:
        return any(equals(item, element) for element in search)
    return False


def starts_with(text: Any, prefix: Any) -> bool:
    if kind(text) not in PRIMITIVES or kind(prefix) not in PRIMITIVES:
        return False
    return stringify(text).casefold().startswith(stringify(prefix).casefold())


def ends_with(text: Any, suffix: Any) -> bool:
    if kind(text) not in PRIMITIVES or kind(suffix) not in PRIMITIVES:
        return False
    return stringify(text).casefold().endswith(stringify(suffix).casefold())


def format_(template: Any, *args: Any) -> str:
    """``format('{0} and {1}', a, b)`` with ``{{``/``}}`` as literal braces; a bad placeholder is an error."""
    fmt = stringify(template)
    out: list[str] = []
    i, n = 0, len(fmt)
    while i < n:
        brace = _next_brace(fmt, i)
        if brace < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:brace])
        if fmt.startswith(fmt[brace] * 2, brace):
            out.append(fmt[brace])
            i = brace + 2
            continue
        if fmt[brace] == "}":
            raise PositionedError(f"format: unmatched '}}' in {fmt!r}")
        close = fmt.find("}", brace)
        if close < 0:
            raise PositionedError(f"format: unmatched '{{' in {fmt!r}")
        placeholder = fmt[brace + 1 : close]
        if not (placeholder.isascii() and placeholder.isdigit()):
            raise PositionedError(f"format: invalid placeholder '{{{placeholder}}}' (use {{0}}, {{1}}, …)")
        number = int(placeholder) if len(placeholder) <= 9 else MAX_ARGUMENTS
        if number >= len(args):
            given = f"{len(args)} value{'' if len(args) == 1 else 's'}"
            raise PositionedError(f"format: placeholder '{{{placeholder}}}' has no value (only {given} given)")
        out.append(stringify(args[number]))
        i = close + 1
    return "".join(out)


def _next_brace(text: str, start: int) -> int:
    """The next '{' or '}' at or after ``start``; one regex scan, so a text of many braces stays linear."""
    match = _BRACE.search(text, start)
    return match.start() if match else -1


_BRACE = re.compile(r"[{}]")


def join(value: Any, separator: Any = ",") -> str:
    """Array elements joined (default ','); a primitive is returned as a string; an object gives ''."""
    k = kind(value)
    if k in PRIMITIVES:
        return stringify(value)
    if k != ARRAY:
        return ""
    sep = stringify(separator) if kind(separator) in PRIMITIVES else ","
    return sep.join(stringify(element) for element in value)


def to_json_pretty(value: Any) -> str:
    """Pretty JSON with a 2-space indent, as GitHub's toJSON."""
    return to_json(value, indent=2)


def from_json(text: Any) -> Any:
    source = stringify(text)
    if not source.strip():
        raise PositionedError("fromJSON: invalid JSON (empty string)")
    try:
        return json.loads(source, parse_constant=_reject_constant, parse_int=parse_number)
    except json.JSONDecodeError as e:
        raise PositionedError(f"fromJSON: invalid JSON ({e.msg} at position {e.pos})") from None
    except (ValueError, RecursionError) as e:
        raise PositionedError(f"fromJSON: invalid JSON ({e})") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _function(name: str, min_args: int, max_args: int, body: Callable[..., Any] | None) -> tuple[str, Function]:
    return name.lower(), Function(name, min_args, max_args, body)


FUNCTIONS: dict[str, Function] = dict(
    [
        _function("contains", 2, 2, contains),
        _function("startsWith", 2, 2, starts_with),
        _function("endsWith", 2, 2, ends_with),
        _function("format", 1, MAX_ARGUMENTS, format_),
        _function("join", 1, 2, join),
        _function("toJSON", 1, 1, to_json_pretty),
        _function("fromJSON", 1, 1, from_json),
        _function("success", 0, 0, None),
        _function("failure", 0, 0, None),
        _function("cancelled", 0, 0, None),
        _function("always", 0, 0, None),
    ]
)

# Status function → the keyword it asks the StatusProvider about.
STATUS_FUNCTIONS: dict[str, str] = {"success": "success", "failure": "failure", "cancelled": "cancelled", "always": "always"}
