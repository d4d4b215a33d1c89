"""Strings with embedded expressions: ``${{ expr }}`` and its twin ``$<< expr >>``.

A string is split into literal text and expressions once, at load time. A
string that is exactly one expression evaluates to the expression's typed
value (``resource: ${{ inputs.resource }}`` passes an object); anything else —
including surrounding spaces or the trailing newline of a block scalar — is a
string template whose expressions are stringified. Any other ``$`` text
(``${PWD}``, ``$HOME``, ``$((1+1))``) is left alone for the shell.

The closing delimiter is searched for outside string literals, so
``${{ format('{{0}}', x) }}`` works. Every error is an ExpressionError whose
Location points into the user's file through the scalar's ScalarOrigin.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import field
from typing import Any

from ..errors import ExpressionError, Location, ScalarOrigin
from . import nodes
from .dialect import GITHUB, Dialect
from .evaluator import Context, evaluate
from .lexer import STRING_RESTS
from .nodes import Node, PositionedError
from .parser import TOO_DEEP, parse
from .values import FilteredArray, stringify

from workflow_runner.records import ReadOnly, frozen

DELIMITERS = {"${{": "}}", "$<<": ">>"}


def contains_expression(text: Any) -> bool:
    """Cheap test for an expression opener; the loader calls it on every scalar."""
    return isinstance(text, str) and ("${{" in text or "$<<" in text)


@frozen
class Template(ReadOnly):
    """A compiled string: literal parts (str) and expressions (AST nodes), in order.

    Equality and hashing use ``source`` and ``origin`` only. Build one with
    :func:`compile_string`.
    """

    source: str
    origin: ScalarOrigin | None
    is_single: bool = field(compare=False)
    parts: tuple[str | Node, ...] = field(compare=False, repr=False)
    bare: tuple[nodes.BareWord, ...] = field(default=(), compare=False, repr=False)
    """The bare words read as strings (platform dialect), found once at compile time."""

    def evaluate(self, ctx: Context) -> Any:
        """The typed value (single expression) or the rendered string; errors are located ExpressionErrors."""
        try:
            if self.is_single:
                value = evaluate(self.parts[0], ctx)
                return list(value) if type(value) is FilteredArray else value
            out = []
            for part in self.parts:
                out.append(part if type(part) is str else stringify(evaluate(part, ctx)))
            return "".join(out)
        except PositionedError as e:
            raise ExpressionError(e.message, location=self._locate(e.offset)) from None
        except RecursionError:
            raise ExpressionError("value is nested too deeply", location=self._locate(0)) from None

    def references(self) -> list[tuple[tuple[str, ...], Location | None]]:
        """Static property paths read, e.g. ``(('needs', 'build', 'outputs', 'x'), location)``.

        The context comes first, lower-cased (``'.'`` for self-relative
        ``.hidden``); properties follow as written, up to the first computed
        index or ``*`` filter. Index expressions contribute their own paths.
        """
        return [
            (path, self._locate(offset))
            for part in self.parts
            if type(part) is not str
            for path, offset in nodes.references(part)
        ]

    def bare_words(self) -> list[tuple[str, Location | None]]:
        """Bare words read as strings (platform dialect), with where each one is, in source order."""
        return [(word.value, self._locate(word.offset)) for word in self.bare]

    def _locate(self, offset: int | None) -> Location | None:
        return _locate(self.origin, self.source, offset or 0)


_COMPILED: dict[tuple[str, str], tuple[bool, tuple, tuple]] = {}
"""Parsed parts by source text: ASTs hold offsets into the text, not file positions, so
identical strings (``${{ inputs.resource.ip }}`` on every job) share one parse."""


def compile_string(text: str, *, origin: ScalarOrigin | None = None, dialect: Dialect = GITHUB) -> str | Template:
    """``text`` itself when it has no expression, else a Template; syntax errors raise ExpressionError.

    ``dialect`` is GitHub's by default; workflow files are compiled in the platform's (dialect.py).
    """
    if not contains_expression(text):
        return text
    key = (text, dialect.name)
    cached = _COMPILED.get(key)
    if cached is not None:
        return Template(text, origin, *cached)
    template = _compile(text, origin, dialect)
    if len(_COMPILED) >= 8192:
        _COMPILED.clear()
    _COMPILED[key] = (template.is_single, template.parts, template.bare)
    return template


def _compile(text: str, origin: ScalarOrigin | None, dialect: Dialect) -> Template:
    parts: list[str | Node] = []
    position = 0
    spans: list[tuple[int, int]] = []
    quotes = "'\"" if dialect.double_quotes else "'"
    try:
        for opener, body_start, body_end, closer_end in _scan(text, quotes):
            spans.append((opener, closer_end))
            if opener > position:
                parts.append(text[position:opener])
            parts.append(parse(text, body_start, body_end, empty_offset=opener, dialect=dialect))
            position = closer_end
    except PositionedError as e:
        raise ExpressionError(e.message, location=_locate(origin, text, e.offset or 0)) from None
    except RecursionError:
        opener = spans[-1][0] if spans else 0
        raise ExpressionError(TOO_DEEP, location=_locate(origin, text, opener)) from None
    if position < len(text):
        parts.append(text[position:])
    is_single = len(spans) == 1 and spans[0] == (0, len(text))
    return Template(text, origin, is_single, tuple(parts), _bare_words(parts))


def compile_condition(text: str, *, origin: ScalarOrigin | None = None, dialect: Dialect = GITHUB) -> Template:
    """An ``if:`` value: ``${{ … }}`` as usual, or a bare expression as GitHub allows (``if: failure()``).

    A bare expression compiles to a single-expression Template whose ``source``
    is the text itself, so error columns still point into the user's file.
    """
    if contains_expression(text):
        compiled = compile_string(text, origin=origin, dialect=dialect)
        assert isinstance(compiled, Template)
        return compiled
    try:
        node = parse(text, 0, len(text), dialect=dialect)
    except PositionedError as e:
        raise ExpressionError(e.message, location=_locate(origin, text, e.offset or 0)) from None
    except RecursionError:
        raise ExpressionError(TOO_DEEP, location=_locate(origin, text, 0)) from None
    return Template(text, origin, True, (node,), _bare_words([node]))


def _bare_words(parts: list[str | Node]) -> tuple[nodes.BareWord, ...]:
    found = [word for part in parts if type(part) is not str for word in nodes.bare_words(part)]
    return tuple(sorted(found, key=lambda w: w.offset))


def _scan(text: str, quotes: str = "'") -> Iterator[tuple[int, int, int, int]]:
    """``(opener, body_start, body_end, closer_end)`` for each expression, in order.

    The closer is searched for outside string literals delimited by any of ``quotes``.
    """
    position = 0
    while True:
        opener, closer = _next_opener(text, position)
        if opener < 0:
            return
        body_start = opener + 3
        search = body_start
        while True:
            close = text.find(closer, search)
            limit = close if close >= 0 else len(text)
            found = [q for q in (text.find(c, search, limit) for c in quotes) if q >= 0]
            if not found:
                break
            search = _string_end(text, min(found))
        if close < 0:
            raise PositionedError(f"unterminated expression: missing '{closer}'", opener)
        yield opener, body_start, close, close + 2
        position = close + 2


def _next_opener(text: str, start: int) -> tuple[int, str]:
    dollar = text.find("$", start)
    while dollar >= 0:
        opener = text[dollar : dollar + 3]
        if opener in DELIMITERS:
            return dollar, DELIMITERS[opener]
        dollar = text.find("$", dollar + 1)
    return -1, ""


def _string_end(text: str, quote: int) -> int:
    """The offset just after the string literal starting at ``quote`` (a doubled quote is an escaped one)."""
    match = STRING_RESTS[text[quote]].match(text, quote + 1)  # one regex scan: linear however many escapes
    if match is None:
        raise PositionedError("unterminated string", quote)
    return match.end()


def _locate(origin: ScalarOrigin | None, text: str, offset: int) -> Location | None:
    return origin.locate(text, offset) if origin is not None else None


def render(value: Any, ctx: Context) -> Any:
    """``value`` with every Template evaluated, recursively through dicts, lists and tuples.

    Containers without templates are returned as they are (no copy), so
    rendering large input objects is cheap.
    """
    if isinstance(value, Template):
        return value.evaluate(ctx)
    if isinstance(value, dict):
        rendered = {}
        changed = False
        for k, v in value.items():
            new_k, new_v = _render_key(k, ctx), render(v, ctx)
            changed = changed or new_k is not k or new_v is not v
            rendered[new_k] = new_v
        return rendered if changed else value
    if isinstance(value, (list, tuple)):
        items = [render(v, ctx) for v in value]
        if all(new is old for new, old in zip(items, value)):
            return value
        return items if isinstance(value, list) else tuple(items)
    return value


def _render_key(key: Any, ctx: Context) -> Any:
    return stringify(key.evaluate(ctx)) if isinstance(key, Template) else key


def walk_templates(value: Any) -> Iterator[Template]:
    """Every Template nested in ``value`` (dict keys and values, lists, tuples), depth first."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, Template):
            yield current
        elif isinstance(current, dict):
            for k, v in reversed(list(current.items())):
                stack.append(v)
                stack.append(k)
        elif isinstance(current, (list, tuple)):
            stack.extend(reversed(current))
