"""Errors a user can cause, each carrying where in their files it happened.

Hierarchy (everything a user can fix is a WorkflowError; the CLI prints it as one
line ``file:line:col: message`` and exits 2; anything else is a bug and keeps its
traceback)::

    WorkflowError
    ├── LoadError          malformed YAML, unreadable file
    ├── SchemaError        a key or value the workflow schema rejects
    ├── ExpressionError    ${{ }} syntax, unknown function/context, evaluation failure
    ├── InputError         a missing, mistyped or out-of-range input value
    ├── GraphError         unknown needs, cycles, bad matrix
    ├── UsesError          a uses: target that cannot be found or escapes its path
    └── TargetError        a host that cannot be reached or refuses us
    ErrorGroup             several WorkflowErrors reported together (validation)
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any

_set = object.__setattr__


class _Position:
    """What ``@dataclass(frozen=True, slots=True)`` gives, written out: ``==``, ``hash``, ``repr``, read-only fields.

    Written by hand because these two classes are loaded by every wfrun process and built by the
    hundred thousand while a big file is parsed: a dataclass compiles six methods each at import
    (~0.7 ms of every start-up), and the ``__init__`` here sets fields as a frozen dataclass's does.
    """

    __slots__ = ()
    __match_args__: tuple[str, ...] = ()

    def as_tuple(self) -> tuple:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self.as_tuple() == other.as_tuple()  # type: ignore[attr-defined]
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.as_tuple())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{self.__class__.__qualname__}({shown})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple:
        # Pickled by the thousand in a cached tree (treecache.py): a constructor call
        # unpickles several times faster than __setstate__.
        return self.__class__, self.as_tuple()


class Location(_Position):
    """A 1-based position in a user's file (or an input path when file is a path like ``inputs.json``)."""

    __slots__ = ("file", "line", "col")
    __match_args__ = ("file", "line", "col")
    file: str | None
    line: int | None
    col: int | None

    def __init__(self, file: str | None, line: int | None = None, col: int | None = None) -> None:
        _set(self, "file", file)
        _set(self, "line", line)
        _set(self, "col", col)

    def as_tuple(self) -> tuple:
        return (self.file, self.line, self.col)

    def __str__(self) -> str:
        parts = [self.file or "<string>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)


class ScalarOrigin(_Position):
    """Where a YAML string scalar's text begins, so an offset inside it maps back to the file.

    Block scalars (``|``/``>``) start on the line after their indicator and every
    line is indented by ``block_indent`` columns that the loader stripped; flow
    scalars start at (line, col), shifted by one for a quote character.
    """

    __slots__ = ("file", "line", "col", "block_indent", "quoted")
    __match_args__ = ("file", "line", "col", "block_indent", "quoted")
    file: str | None
    line: int
    col: int
    block_indent: int | None
    quoted: bool

    def __init__(self, file: str | None, line: int, col: int, block_indent: int | None = None, quoted: bool = False) -> None:
        _set(self, "file", file)
        _set(self, "line", line)
        _set(self, "col", col)
        _set(self, "block_indent", block_indent)
        _set(self, "quoted", quoted)

    def as_tuple(self) -> tuple:
        return (self.file, self.line, self.col, self.block_indent, self.quoted)

    def locate(self, text: str, offset: int) -> Location:
        before = text[:offset]
        newlines = before.count("\n")
        col_in_line = offset - (before.rfind("\n") + 1)
        if self.block_indent is not None:
            return Location(self.file, self.line + 1 + newlines, self.block_indent + 1 + col_in_line)
        if newlines == 0:
            return Location(self.file, self.line, self.col + col_in_line + (1 if self.quoted else 0))
        return Location(self.file, self.line + newlines, col_in_line + 1)

    @property
    def location(self) -> Location:
        return Location(self.file, self.line, self.col)


class WorkflowError(Exception):
    """An error the user can fix; rendered as ``location: message``."""

    def __init__(self, message: str, *, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"


class LoadError(WorkflowError):
    pass


class SchemaError(WorkflowError):
    pass


class ExpressionError(WorkflowError):
    pass


class InputError(WorkflowError):
    input_path: str | None = None
    """The dotted input this error is about, when there is one (the web form shows it next to that field)."""


class GraphError(WorkflowError):
    pass


class UsesError(WorkflowError):
    pass


class TargetError(WorkflowError):
    pass


class ConnectionFailed(TargetError):
    """A connection could not be made or was dropped (refused, unreachable, timed out, closed by the server).

    Unlike a rejected host key or login, trying again may work: a step with ``retry:`` retries it.
    """


class ErrorGroup(WorkflowError):
    """Several independent mistakes, so the user can fix them in one go."""

    def __init__(self, errors: list[WorkflowError]) -> None:
        self.errors = sorted(errors, key=_sort_key)
        super().__init__("\n".join(str(e) for e in self.errors))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def _sort_key(err: WorkflowError) -> tuple:
    loc = err.location
    if loc is None:
        return ("", 0, 0)
    return (loc.file or "", loc.line or 0, loc.col or 0)


def raise_all(errors: list[WorkflowError]) -> None:
    """Raise nothing, the single error, or an ErrorGroup of all of them."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ErrorGroup(errors)


def did_you_mean(word: str, choices) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or '' when nothing is close."""
    import difflib

    match = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""
