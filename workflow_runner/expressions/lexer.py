"""Tokens of one expression, each with its offset in the whole template string.

The lexer works on a slice ``text[start:end]`` of the template so offsets need
no translation later. Token kinds are the operator text itself (``'=='``,
``'('``, ``'!includes'``) or one of ``name number string eof``. Keywords
(``true``, ``includes``, ``get`` …) are lexed as names: whether ``get`` is an
operator or ``true`` a literal depends on where the parser meets it, and after
``.`` they are plain property names, as in GitHub.
"""

from __future__ import annotations

import re
from typing import Any

from .dialect import GITHUB, Dialect
from .nodes import PositionedError
from .values import parse_number

from workflow_runner.records import ReadOnly, frozen

NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_WHITESPACE = frozenset(" \t\r\n\f\v")
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
)
_NUMBER_TAIL = re.compile(r"[A-Za-z0-9_.]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# Two-character operators first so '<=' is not read as '<' '='.
_OPERATORS = ("==", "!=", "<=", ">=", "&&", "||", "(", ")", "[", "]", ".", ",", "!", "<", ">", "+", "-", "*", "/", "%", "?", ":")
_STRICT_OPERATORS = ("===", "!==")
"""Platform dialect only, tried before the two-character operators."""
_HINTS = {
    "=": " (did you mean '=='?)",
    "&": " (did you mean '&&'?)",
    "|": " (did you mean '||'?)",
    '"': " (strings use single quotes)",
}
_DIGITS = frozenset("0123456789")
# After one of these an operand is complete, so '.' is a property dot and '!includes' an operator.
_OPERAND_END = frozenset({"name", "number", "string", ")", "]"})


@frozen
class Token(ReadOnly):
    """One lexeme with its start and end offsets, so parse errors point at the exact character."""

    kind: str
    value: Any
    offset: int
    end: int
    lexeme: str | None = None  # the source text, when it differs from value (numbers)

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind == "eof":
            return "end of expression"
        if self.kind == "string":
            return repr(self.value)
        return f"'{self.value if self.lexeme is None else self.lexeme}'"


def tokenize(text: str, start: int = 0, end: int | None = None, dialect: Dialect = GITHUB) -> list[Token]:
    """All tokens of ``text[start:end]``, ending with an ``eof`` token placed right after the last one.

    ``dialect`` adds double-quoted strings and ``===``/``!==`` (see dialect.py).
    """
    end = len(text) if end is None else end
    tokens: list[Token] = []
    pos = start
    while pos < end:
        c = text[pos]
        if c in _WHITESPACE:
            pos += 1
            continue
        after_operand = _ends_operand(tokens)
        if c == "'" or (c == '"' and dialect.double_quotes):
            token = _string(text, pos, end, c)
        elif c in NAME_START:
            match = _NAME.match(text, pos, end)
            token = Token("name", match.group(), pos, match.end())
        elif c in _DIGITS or (c == "." and not after_operand and _is_digit(text, pos + 1, end)):
            token = _number(text, pos, end)
        elif c == "!" and after_operand and _word_at(text, pos + 1, end) == "includes":
            token = Token("!includes", "!includes", pos, pos + 9)
        elif dialect.strict_equality and text.startswith(_STRICT_OPERATORS, pos, end):
            token = Token(text[pos : pos + 3], text[pos : pos + 3], pos, pos + 3)
        else:
            token = _operator(text, pos, end)
        tokens.append(token)
        pos = token.end
    last = tokens[-1].end if tokens else start
    tokens.append(Token("eof", None, last, last))
    return tokens


def _string(text: str, pos: int, end: int, quote: str = "'") -> Token:
    """A string in ``quote``s; a doubled quote inside is one quote: ``'it''s'``, and the same with double
    quotes (one regex scan: linear in its length, however many escapes)."""
    match = STRING_RESTS[quote].match(text, pos + 1, end)
    if match is None:
        raise PositionedError("unterminated string", pos)
    close = match.end() - 1
    return Token("string", text[pos + 1 : close].replace(quote * 2, quote), pos, close + 1)


STRING_RESTS = {q: re.compile(f"(?:[^{q}]*+{q}{q})*+[^{q}]*+{q}") for q in ("'", '"')}
"""The rest of a string literal after its opening quote, up to and including its closing quote."""


def _number(text: str, pos: int, end: int) -> Token:
    match = _NUMBER.match(text, pos, end)
    stop = match.end()
    tail = _NUMBER_TAIL.match(text, stop, end)
    if tail:
        raise PositionedError(f"invalid number '{text[pos:tail.end()]}'", pos)
    lexeme = text[pos:stop]
    return Token("number", parse_number(lexeme), pos, stop, lexeme)


def _operator(text: str, pos: int, end: int) -> Token:
    for op in _OPERATORS:
        if text.startswith(op, pos, end):
            return Token(op, op, pos, pos + len(op))
    c = text[pos]
    raise PositionedError(f"unexpected character {c!r}" + _HINTS.get(c, ""), pos)


def _ends_operand(tokens: list[Token]) -> bool:
    """True when the tokens so far end with a complete operand (a ``*`` only as in ``a.*``)."""
    if not tokens:
        return False
    kind = tokens[-1].kind
    if kind == "*":
        return len(tokens) > 1 and tokens[-2].kind in (".", "[")
    return kind in _OPERAND_END


def _is_digit(text: str, pos: int, end: int) -> bool:
    return pos < end and text[pos] in _DIGITS


def _word_at(text: str, pos: int, end: int) -> str | None:
    match = _NAME.match(text, pos, end)
    return match.group() if match else None
