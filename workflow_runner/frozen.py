"""Read-only dataclasses that cost less to define: ``@frozen`` on a subclass of :class:`ReadOnly`.

``@dataclass(frozen=True, slots=True)`` is what wfrun's records are, and Python 3.11 compiles
every method a dataclass generates on its own: ``frozen`` adds ``__setattr__``, ``__delattr__``
and ``__hash__`` to ``__init__``, ``__repr__`` and ``__eq__``. With some fifty such classes
loaded before a run's first job, defining them was a quarter of wfrun's start-up.

Here only ``__init__`` is generated. The rest is written once, on a shared base class:

- a field is set once (by ``__init__``) and can then be neither assigned nor deleted — the
  promise ``frozen=True`` makes, with the same :class:`dataclasses.FrozenInstanceError`;
- ``==``, ``hash()`` and ``repr()`` give what the generated methods give: the tuple of the
  compared fields of two instances of the same class, the hash of that tuple (fields are never
  reassigned, so it cannot change), ``Name(field=value, ...)`` over the fields shown in reprs.
  Each class gets its field getters (``operator.attrgetter``) when it is decorated.

Classes built by the thousand while a file is parsed (``errors.Location``) keep
``frozen=True``: its ``__init__`` sets fields without a Python call.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, fields
from operator import attrgetter
from typing import Any, Callable, TypeVar

T = TypeVar("T", bound=type)


class ReadOnly:
    """Base of :func:`frozen` classes: each slot can be written once, and never deleted."""

    __slots__ = ()
    _compared: Callable[[Any], tuple]
    _hashed: Callable[[Any], tuple]
    _shown: tuple[str, ...]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._compared(self) == self._compared(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._hashed(self))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._shown)
        return f"{self.__class__.__qualname__}({shown})"

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, name):
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")


def frozen(cls: T) -> T:
    """``@dataclass(frozen=True, slots=True)`` for a subclass of :class:`ReadOnly` (see the module's docstring)."""
    if not issubclass(cls, ReadOnly):
        raise TypeError(f"@frozen class {cls.__name__} must derive from frozen.ReadOnly")
    cls = dataclass(slots=True, repr=False, eq=False)(cls)
    every = fields(cls)
    cls._compared = _getter([f.name for f in every if f.compare])
    cls._hashed = _getter([f.name for f in every if (f.compare if f.hash is None else f.hash)])
    cls._shown = tuple(f.name for f in every if f.repr)
    return cls


def _getter(names: list[str]) -> Callable[[Any], tuple]:
    """The tuple of these fields of an instance (what the generated ``__eq__``/``__hash__`` compare)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()
