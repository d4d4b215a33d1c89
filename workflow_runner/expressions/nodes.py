"""AST of one expression.

Nodes are frozen dataclasses so a compiled template can be shared between jobs,
matrix legs and threads without copying. Every node carries ``offset``: the
position of its first (or operator) token in the *whole template string*, so an
error found while evaluating can point at the exact column in the user's file.
"""

from __future__ import annotations

from typing import Any, Iterator

from workflow_runner.records import ReadOnly, frozen


class PositionedError(Exception):
    """Internal error with an offset into the template string.

    The lexer, parser, evaluator and functions raise this; ``template.py`` turns
    it into an :class:`~workflow_runner.errors.ExpressionError` with a file
    Location. ``offset`` is None when the raiser does not know it yet (a function
    body); the evaluator fills in the call's offset.
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@frozen
class Node(ReadOnly):
    """An expression's syntax tree node; ``offset`` is where it starts in the expression text, for error locations."""

    offset: int

    def children(self) -> tuple[Node, ...]:
        return ()


@frozen
class Literal(Node):
    """A constant: a string, number, boolean or null written in the expression."""

    value: Any


@frozen
class BareWord(Literal):
    """A bare word read as its own name (platform dialect: ``pvc != Existing``); ``value`` is the word.

    A node of its own so that ``wfrun validate`` can point at every one.
    """


@frozen
class ListIndex(Node):
    """``index`` in ``inputs.list.[index]`` (platform dialect): the entry being resolved; indexes nothing elsewhere."""


@frozen
class ContextRef(Node):
    """A bare context name (lower-cased), or ``'.'`` for a self-relative ``.name``."""

    name: str


@frozen
class StatusRef(Node):
    """A status keyword (``error``) or status function (``failure()``); ``keyword`` is lower-case."""

    keyword: str
    is_function: bool = False


@frozen
class Property(Node):
    """``obj.name``; ``key`` is the casefolded name, kept to make lookups cheap."""

    obj: Node
    name: str
    key: str

    def children(self) -> tuple[Node, ...]:
        return (self.obj,)


@frozen
class Index(Node):
    """``obj[index]`` and ``obj get index`` (the two differ only in syntax)."""

    obj: Node
    index: Node

    def children(self) -> tuple[Node, ...]:
        return (self.obj, self.index)


@frozen
class Filter(Node):
    """``obj.*`` / ``obj[*]``: GitHub's object filter."""

    obj: Node

    def children(self) -> tuple[Node, ...]:
        return (self.obj,)


@frozen
class Unary(Node):
    """``!x``, ``-x`` or ``+x``."""

    op: str  # '!', '-', '+'
    operand: Node

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@frozen
class Binary(Node):
    """An arithmetic, comparison, equality or ``includes`` operation on two operands."""

    op: str  # arithmetic, comparison, equality, 'includes', '!includes'
    left: Node
    right: Node

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@frozen
class Logical(Node):
    """``a && b && c`` / ``a || b``: n-ary so long chains stay flat (no deep recursion)."""

    op: str  # '&&' or '||'
    operands: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.operands


@frozen
class Ternary(Node):
    """``cond ? then : other`` (platform expressions), evaluated lazily like JavaScript's."""

    cond: Node
    then: Node
    other: Node

    def children(self) -> tuple[Node, ...]:
        return (self.cond, self.then, self.other)


@frozen
class Call(Node):
    """A call of a value function from ``functions.FUNCTIONS``; ``name`` is lower-case."""

    name: str
    args: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.args


def depth_exceeding(node: Node, limit: int) -> Node | None:
    """The first node deeper than ``limit``, or None; iterative so it cannot overflow itself."""
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return current
        stack.extend((child, depth + 1) for child in current.children())
    return None


def bare_words(node: Node) -> Iterator[BareWord]:
    """Every :class:`BareWord` in ``node``, in no particular order."""
    stack = [node]
    while stack:
        current = stack.pop()
        if type(current) is BareWord:
            yield current
        else:
            stack.extend(current.children())


def references(node: Node) -> Iterator[tuple[tuple[str, ...], int]]:
    """Static property paths read by ``node``: ``(('needs', 'build', 'outputs'), offset)``.

    A path starts at a context (lower-cased; ``'.'`` for self-relative names) and
    extends through ``.name``, ``['literal']`` and ``get 'literal'`` as written;
    it stops at the first computed index or ``*`` filter. Computed indexes are
    searched for their own references.
    """
    stack = [node]
    while stack:
        current = stack.pop()
        chain: list[Node] = []
        root = current
        while isinstance(root, (Property, Index, Filter)):
            chain.append(root)
            root = root.obj
        chain.reverse()
        indexes = [link.index for link in chain if isinstance(link, Index)]
        if isinstance(root, ContextRef):
            path = [root.name]
            for link in chain:
                if isinstance(link, Property):
                    path.append(link.name)
                elif isinstance(link, Index) and isinstance(link.index, Literal) and isinstance(link.index.value, str):
                    path.append(link.index.value)
                else:
                    break
            yield tuple(path), root.offset
            stack.extend(reversed(indexes))
        elif chain:
            stack.extend(reversed([root, *indexes]))
        else:
            stack.extend(reversed(current.children()))
