"""Value semantics shared by the evaluator and the functions.

Values are plain Python data (None, bool, int, float, str, list/tuple, Mapping),
exactly what YAML, JSON inputs and step outputs produce, so contexts need no
wrapping. The rules follow GitHub's ``@actions/expressions`` (a JavaScript
library): truthiness, loose equality with number coercion, case-insensitive
strings, ``Number(str)`` parsing and number printing. Integral results are
returned as ``int`` so ``${{ 4 / 2 }}`` passes ``2``, not ``2.0``, to a command.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

NULL, BOOL, NUMBER, STRING, ARRAY, OBJECT = "null", "bool", "number", "string", "array", "object"
PRIMITIVES = frozenset({NULL, BOOL, NUMBER, STRING})
MAX_SAFE_INTEGER = 2**53
MISSING: Any = object()
NAN = math.nan
INF = math.inf

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_INTEGER = re.compile(r"[+-]?[0-9]{1,15}\Z")
_RADIX = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)\Z")


class FilteredArray(list):
    """The result of a ``*`` filter: a property applied to it maps over its elements (GitHub semantics)."""

    __slots__ = ()


def kind(value: Any) -> str:
    """One of the expression types; anything unknown counts as an object (compared by identity)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, (list, tuple)):
        return ARRAY
    return OBJECT


def truthy(value: Any) -> bool:
    """GitHub truthiness: false, 0, -0, NaN, '' and null are falsy; empty lists/objects are truthy."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == value and value != 0
    if isinstance(value, str):
        return value != ""
    return True


# -- numbers ---------------------------------------------------------------


def normalize(number: int | float) -> int | float:
    """Integral numbers within the exact double range as int; everything else as float.

    Keeping ints bounded by 2**53 also keeps arithmetic cheap and every result
    printable (Python refuses to print ints with more than 4300 digits).
    """
    if isinstance(number, int):
        if -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
            return int(number)
        try:
            return float(number)
        except OverflowError:
            return INF if number > 0 else -INF
    if number.is_integer() and -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
        return int(number)
    return float(number)


def parse_number(text: str) -> int | float:
    """JavaScript ``Number(text)`` for an already stripped string: NaN when it is not a number."""
    if _INTEGER.match(text):
        return int(text)
    if _DECIMAL.match(text):
        return normalize(float(text))
    if _RADIX.match(text):
        return normalize(int(text, 0))
    if text in ("Infinity", "+Infinity"):
        return INF
    if text == "-Infinity":
        return -INF
    return NAN


def to_number(value: Any) -> int | float:
    """GitHub's number coercion: null → 0, booleans → 1/0, strings via Number() ('' → 0), else NaN."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return normalize(value)
    if isinstance(value, str):
        text = value.strip()
        return parse_number(text) if text else 0
    return NAN


def format_number(number: int | float) -> str:
    """JavaScript's ``String(number)``, after rounding to 15 significant digits like GitHub.

    So ``0.1 + 0.2`` prints ``0.3``, ``1.0`` prints ``1`` and ``1e21`` prints ``1e+21``.
    """
    number = normalize(number)
    if isinstance(number, int):
        return str(number)
    if number != number:
        return "NaN"
    if number in (INF, -INF):
        return "Infinity" if number > 0 else "-Infinity"
    number = float(f"{number:.15g}")
    if number.is_integer() and abs(number) <= MAX_SAFE_INTEGER:
        return str(int(number))
    sign = "-" if number < 0 else ""
    mantissa, _, exp = f"{abs(number):.14e}".partition("e")
    digits = mantissa.replace(".", "").rstrip("0") or "0"
    point = int(exp) + 1  # digits[:point] is the integer part
    count = len(digits)
    if count <= point <= 21:
        text = digits + "0" * (point - count)
    elif 0 < point <= 21:
        text = f"{digits[:point]}.{digits[point:]}"
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        e = point - 1
        text = digits[0] + ("." + digits[1:] if count > 1 else "") + f"e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + text


# -- strings and JSON ------------------------------------------------------


def stringify(value: Any) -> str:
    """How a value appears inside text: null → '', true/false, shortest numbers, lists/objects as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, (list, tuple, Mapping)):
        return to_json(value)
    return str(value)


def to_json(value: Any, indent: int | None = None) -> str:
    """JSON text; compact by default (safe to paste into a shell word), pretty with ``indent``."""
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(jsonable(value), ensure_ascii=False, indent=indent, separators=separators)


def jsonable(value: Any) -> Any:
    """Plain JSON data: integral floats as ints, NaN/Infinity as null (like JSON.stringify), str keys."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        number = normalize(value)
        return None if isinstance(number, float) and not math.isfinite(number) else number
    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else stringify(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def casefold_key(key: Any) -> Any:
    return key.casefold() if isinstance(key, str) else key


# -- comparison ------------------------------------------------------------


def _coerce(a: Any, b: Any) -> tuple[str, Any, str, Any]:
    """GitHub's coerceTypes: the JS abstract-equality conversions, but objects are never converted."""
    ka, kb = kind(a), kind(b)
    if ka != kb:
        if ka in (NULL, BOOL):
            a, ka = to_number(a), NUMBER
        if kb in (NULL, BOOL):
            b, kb = to_number(b), NUMBER
        if ka == NUMBER and kb == STRING:
            b, kb = to_number(b), NUMBER
        elif ka == STRING and kb == NUMBER:
            a, ka = to_number(a), NUMBER
    return ka, a, kb, b


def equals(a: Any, b: Any) -> bool:
    """Loose equality: numbers by value (NaN never equal), strings ignoring case, objects by identity."""
    ka, a, kb, b = _coerce(a, b)
    if ka != kb:
        return False
    if ka == STRING:
        return a == b or a.casefold() == b.casefold()
    if ka == NULL:
        return True
    if ka in (NUMBER, BOOL):
        return a == b
    return a is b


def less(a: Any, b: Any) -> bool:
    ka, a, kb, b = _coerce(a, b)
    if ka != kb:
        return False
    if ka == STRING:
        return a.casefold() < b.casefold()
    if ka in (NUMBER, BOOL):
        return a < b
    return False


def greater(a: Any, b: Any) -> bool:
    ka, a, kb, b = _coerce(a, b)
    if ka != kb:
        return False
    if ka == STRING:
        return a.casefold() > b.casefold()
    if ka in (NUMBER, BOOL):
        return a > b
    return False


# -- arithmetic (ACTIVATE extension; JavaScript number semantics) ------------


def add(a: Any, b: Any) -> Any:
    """``+`` concatenates when either side is a string, otherwise adds numbers."""
    if isinstance(a, str) or isinstance(b, str):
        return stringify(a) + stringify(b)
    return normalize(to_number(a) + to_number(b))


def subtract(a: Any, b: Any) -> int | float:
    return normalize(to_number(a) - to_number(b))


def multiply(a: Any, b: Any) -> int | float:
    return normalize(to_number(a) * to_number(b))


def divide(a: Any, b: Any) -> int | float:
    """JavaScript division: x/0 is ±Infinity, 0/0 is NaN; exact integer quotients stay ints."""
    x, y = to_number(a), to_number(b)
    if y == 0:
        if x == 0 or x != x:
            return NAN
        return INF if x > 0 else -INF
    if isinstance(x, int) and isinstance(y, int) and x % y == 0:
        return x // y
    return normalize(x / y)


def modulo(a: Any, b: Any) -> int | float:
    """JavaScript remainder: the sign follows the dividend; x % 0 is NaN."""
    x, y = to_number(a), to_number(b)
    if y == 0 or x != x or y != y or x in (INF, -INF):
        return NAN
    if y in (INF, -INF):
        return x
    if isinstance(x, int) and isinstance(y, int):
        r = abs(x) % abs(y)
        return r if x >= 0 else -r
    return normalize(math.fmod(x, y))


# -- lookups ---------------------------------------------------------------


def get_key(obj: Mapping, key: str, folded: str) -> Any:
    """``obj[key]`` ignoring case (exact match tried first, it is the common case); MISSING if absent."""
    value = obj.get(key, MISSING)
    if value is not MISSING:
        return value
    for k in obj:
        if isinstance(k, str) and k.casefold() == folded:
            return obj[k]
    return MISSING


def array_index(index: Any) -> int | None:
    """GitHub's integer index: Number(index) floored, None when negative, NaN or infinite."""
    number = to_number(index)
    if number != number or number in (INF, -INF) or number < 0:
        return None
    return int(number)


def index(obj: Any, idx: Any) -> Any:
    """``obj[idx]`` on a plain (unfiltered) value: MISSING when there is nothing there."""
    if isinstance(obj, Mapping):
        if kind(idx) in PRIMITIVES:
            key = stringify(idx)
            return get_key(obj, key, key.casefold())
        return MISSING
    if isinstance(obj, (list, tuple)):
        i = array_index(idx)
        return obj[i] if i is not None and i < len(obj) else MISSING
    return MISSING


def includes(container: Any, item: Any) -> bool:
    """ACTIVATE's ``x includes y``: substring (ignoring case), list element (loosely equal) or object key."""
    kc = kind(container)
    if kc == NULL:
        return False
    if kc in PRIMITIVES:
        return kind(item) in PRIMITIVES and stringify(item).casefold() in stringify(container).casefold()
    if kc == ARRAY:
        return any(equals(item, element) for element in container)
    if isinstance(container, Mapping) and kind(item) in PRIMITIVES:
        key = stringify(item)
        return get_key(container, key, key.casefold()) is not MISSING
    return False
