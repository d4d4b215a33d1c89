"""Read-only dataclasses that cost less to define: ``@frozen`` on a subclass of :class:`ReadOnly`.

``@dataclass(frozen=True, slots=True)`` is what wfrun's records are, and Python 3.11 compiles
every method a dataclass generates on its own: ``frozen`` adds ``__setattr__``, ``__delattr__``
and ``__hash__`` to ``__init__``, ``__repr__`` and ``__eq__``. With some fifty such classes
loaded before a run's first job, defining them was a quarter of wfrun's start-up.

Here the two guards are written once, on a shared base class: a field is set once (by
``__init__``) and can then be neither assigned nor deleted — the promise ``frozen=True``
makes to every user of an instance, with the same :class:`dataclasses.FrozenInstanceError`.
Only ``__hash__`` is still generated (``unsafe_hash``: fields are never reassigned, so the
hash of an instance cannot change). Classes built by the thousand while a file is parsed
(``errors.Location``) keep ``frozen=True``: its ``__init__`` sets fields without a Python call.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass
from typing import Any, TypeVar

T = TypeVar("T", bound=type)


class ReadOnly:
    """Base of :func:`frozen` classes: each slot can be written once, and never deleted."""

    __slots__ = ()

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
    return dataclass(slots=True, unsafe_hash=True)(cls)
