"""Recursive-descent parser: tokens → AST, one method per precedence level.

Precedence, lowest first (each level is a method below, in this order)::

    a ? b : c           ternary, right-associative, nestable        _ternary
    ||                  returns an operand, short-circuit            _or
    &&                                                               _and
    == !=                                                            _equality
    includes !includes  binds tighter than ==, so                    _includes
                        ``x includes 'a' == true`` is ``(x includes 'a') == true``
    < <= > >=                                                        _comparison
    + -                 (ACTIVATE arithmetic)                        _additive
    * / %                                                            _multiplicative
    ! - +               prefix                                       _unary
    get                 ``a get 'b' get c`` = ``a['b'][c]``; its     _get
                        operands are postfix expressions, so
                        ``!a get 'b'`` is ``!(a get 'b')``
    . [] .* [*]         property, index, object filter               _postfix
    literals, (…), names, calls, ``.name`` (self-relative)           _primary

The platform dialect (``dialect.py``) also reads ``.[expr]`` as ``[expr]`` and
a bare word that is nothing else as a string (:class:`BareWord`).

Binary levels are left-associative. Names of contexts, status keywords and
functions are case-insensitive; ``true false null NaN Infinity`` and the word
operators ``includes get`` are case-sensitive keywords, as in GitHub.
"""

from __future__ import annotations

import math

from ..errors import did_you_mean
from .dialect import GITHUB, LIST_INDEX_CONTEXT, Dialect
from .functions import FUNCTIONS, STATUS_FUNCTIONS
from .lexer import Token, tokenize
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
    depth_exceeding,
)
from .values import normalize

CONTEXT_NAMES = frozenset(
    {"inputs", "needs", "env", "matrix", "sessions", "org", "steps", "secrets", "github", "job", "runner", "strategy", "vars"}
)
_KEYWORD_FOLDED = frozenset({"true", "false", "null"})
"""Case variants of these (``True``) stay errors even as bare words: a string there would flip a condition."""
STATUS_KEYWORDS = frozenset({"always", "never", "completed", "error", "canceled", "cancelled", "success", "failure"})
KEYWORD_LITERALS = {"true": True, "false": False, "null": None, "NaN": math.nan, "Infinity": math.inf}

# Nesting of (), [], call arguments, ?: branches and prefix operators. GitHub
# allows 50; each level costs about 13 Python frames here (one per precedence
# level), so 40 keeps the worst case near 550 frames, well inside the default
# recursion limit even when called from a deep stack. The AST depth (long
# operator chains parsed by loops) is capped separately so that evaluation
# cannot overflow the stack either. A RecursionError is still caught and
# reported as this error, as a last resort.
MAX_NESTING = 40
MAX_TREE_DEPTH = 100
TOO_DEEP = "expression is nested too deeply"


def parse(text: str, start: int, end: int, *, empty_offset: int | None = None, dialect: Dialect = GITHUB) -> Node:
    """The AST of the expression in ``text[start:end]``; node offsets are offsets into ``text``."""
    return _Parser(text, start, end, dialect).parse(start if empty_offset is None else empty_offset)


class _Parser:
    def __init__(self, text: str, start: int, end: int, dialect: Dialect = GITHUB) -> None:
        self.tokens = tokenize(text, start, end, dialect)
        self.pos = 0
        self.nesting = 0
        self.dialect = dialect

    # -- token helpers ---------------------------------------------------

    def _peek(self) -> Token:
        return self.tokens[self.pos]

    def _next(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind != "eof":
            self.pos += 1
        return token

    def _at_word(self, word: str) -> bool:
        token = self.tokens[self.pos]
        return token.kind == "name" and token.value == word

    def _expect(self, kind: str) -> Token:
        token = self._peek()
        if token.kind != kind:
            raise PositionedError(f"expected '{kind}' but got {token.describe()}", token.offset)
        return self._next()

    def _enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise PositionedError(f"{TOO_DEEP} (more than {MAX_NESTING} levels)", self._peek().offset)

    # -- grammar ---------------------------------------------------------

    def parse(self, empty_offset: int) -> Node:
        if self._peek().kind == "eof":
            raise PositionedError("empty expression", empty_offset)
        node = self._ternary()
        token = self._peek()
        if token.kind != "eof":
            raise PositionedError(f"unexpected {token.describe()}", token.offset)
        if depth_exceeding(node, MAX_TREE_DEPTH) is not None:  # reported at the start of the expression
            raise PositionedError(f"{TOO_DEEP} (more than {MAX_TREE_DEPTH} levels)", self.tokens[0].offset)
        return node

    def _ternary(self) -> Node:
        self._enter()
        node = self._or()
        if self._peek().kind == "?":
            question = self._next()
            then = self._ternary()
            self._expect(":")
            other = self._ternary()
            node = Ternary(question.offset, node, then, other)
        self.nesting -= 1
        return node

    def _or(self) -> Node:
        node = self._and()
        if self._peek().kind != "||":
            return node
        offset, operands = self._peek().offset, [node]
        while self._peek().kind == "||":
            self._next()
            operands.append(self._and())
        return Logical(offset, "||", tuple(operands))

    def _and(self) -> Node:
        node = self._equality()
        if self._peek().kind != "&&":
            return node
        offset, operands = self._peek().offset, [node]
        while self._peek().kind == "&&":
            self._next()
            operands.append(self._equality())
        return Logical(offset, "&&", tuple(operands))

    def _equality(self) -> Node:
        node = self._includes()
        while self._peek().kind in ("==", "!=", "===", "!=="):
            op = self._next()
            node = Binary(op.offset, op.kind, node, self._includes())
        return node

    def _includes(self) -> Node:
        node = self._comparison()
        while self._at_word("includes") or self._peek().kind == "!includes":
            op = self._next()
            node = Binary(op.offset, op.value, node, self._comparison())
        return node

    def _comparison(self) -> Node:
        node = self._additive()
        while self._peek().kind in ("<", "<=", ">", ">="):
            op = self._next()
            node = Binary(op.offset, op.kind, node, self._additive())
        return node

    def _additive(self) -> Node:
        node = self._multiplicative()
        while self._peek().kind in ("+", "-"):
            op = self._next()
            node = Binary(op.offset, op.kind, node, self._multiplicative())
        return node

    def _multiplicative(self) -> Node:
        node = self._unary()
        while self._peek().kind in ("*", "/", "%"):
            op = self._next()
            node = Binary(op.offset, op.kind, node, self._unary())
        return node

    def _unary(self) -> Node:
        if self._peek().kind not in ("!", "-", "+"):
            return self._get()
        op = self._next()
        self._enter()
        operand = self._unary()
        self.nesting -= 1
        if op.kind == "-" and isinstance(operand, Literal) and _is_number(operand.value):
            return Literal(op.offset, normalize(-operand.value))  # fold '-1' into a literal
        return Unary(op.offset, op.kind, operand)

    def _get(self) -> Node:
        node = self._postfix()
        while self._at_word("get"):
            op = self._next()
            key = self._postfix()
            if type(key) is BareWord:  # 'x get name': the key, as written; nothing to point out
                key = Literal(key.offset, key.value)
            node = Index(op.offset, node, key)
        return node

    def _postfix(self) -> Node:
        node = self._primary()
        while True:
            kind = self._peek().kind
            if kind == "." and self.dialect.list_items and self.tokens[self.pos + 1].kind == "[":
                self._next()  # 'list.[index]' is 'list[index]'; the '[' is read next time round
            elif kind == ".":
                dot = self._next()
                if self._peek().kind == "*":
                    node = Filter(self._next().offset, node)
                else:
                    name = self._property_name()
                    node = Property(dot.offset, node, name.value, name.value.casefold())
            elif kind == "[":
                bracket = self._next()
                if self._peek().kind == "*" and self.tokens[self.pos + 1].kind == "]":
                    self.pos += 2
                    node = Filter(bracket.offset, node)
                else:
                    index = self._ternary()
                    self._expect("]")
                    node = Index(bracket.offset, node, index)
            else:
                return node

    def _property_name(self) -> Token:
        token = self._peek()
        if token.kind != "name":
            raise PositionedError(f"expected a property name after '.' but got {token.describe()}", token.offset)
        return self._next()

    def _primary(self) -> Node:
        token = self._next()
        kind = token.kind
        if kind in ("number", "string"):
            return Literal(token.offset, token.value)
        if kind == "name":
            return self._name(token)
        if kind == "(":
            node = self._ternary()
            self._expect(")")
            return node
        if kind == ".":  # '.hidden': a property of the object the expression belongs to
            name = self._property_name()
            return Property(token.offset, ContextRef(token.offset, "."), name.value, name.value.casefold())
        raise PositionedError(f"expected a value but got {token.describe()}", token.offset)

    def _name(self, token: Token) -> Node:
        name: str = token.value
        if name in KEYWORD_LITERALS:
            return Literal(token.offset, KEYWORD_LITERALS[name])
        if self._peek().kind == "(":
            return self._call(token)
        lower = name.lower()
        if lower in CONTEXT_NAMES:
            return ContextRef(token.offset, lower)
        if lower in STATUS_KEYWORDS:
            return StatusRef(token.offset, lower)
        if self.dialect.list_items and lower == LIST_INDEX_CONTEXT:
            return ListIndex(token.offset)
        if self.dialect.bare_words and self._peek().kind not in (".", "[") and lower not in _KEYWORD_FOLDED:
            return BareWord(token.offset, name)
        choices = sorted(CONTEXT_NAMES | STATUS_KEYWORDS | {"true", "false", "null"})
        raise PositionedError(f"unknown context '{name}'{did_you_mean(name, choices)}", token.offset)

    def _call(self, token: Token) -> Node:
        lower = token.value.lower()
        function = FUNCTIONS.get(lower)
        if function is None:
            names = sorted(f.name for f in FUNCTIONS.values())
            raise PositionedError(f"unknown function '{token.value}'{did_you_mean(token.value, names)}", token.offset)
        self._next()  # '('
        args: list[Node] = []
        if self._peek().kind == ")":
            self._next()
        else:
            while True:
                args.append(self._ternary())
                separator = self._next()
                if separator.kind == ")":
                    break
                if separator.kind != ",":
                    raise PositionedError(f"expected ',' or ')' but got {separator.describe()}", separator.offset)
        problem = function.arity_error(len(args))
        if problem:
            raise PositionedError(problem, token.offset)
        if lower in STATUS_FUNCTIONS:
            return StatusRef(token.offset, STATUS_FUNCTIONS[lower], is_function=True)
        return Call(token.offset, lower, tuple(args))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
