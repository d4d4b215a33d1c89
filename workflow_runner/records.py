"""Dataclasses that cost less to define: ``@frozen`` (read-only) and ``@record`` (mutable) records.

Python 3.11 compiles every method a dataclass generates on its own: ``__init__``, ``__repr__``
and ``__eq__``, plus ``__setattr__``, ``__delattr__`` and ``__hash__`` for ``frozen=True``. With
some seventy classes loaded before a run's first job, defining them was a quarter of wfrun's
start-up. Here only ``__init__`` is generated; the rest is written once, on two base classes:

- ``==`` compares the tuple of the compared fields of two instances of the same class, and
  ``repr()`` is ``Name(field=value, ...)`` over the fields shown in reprs — what the generated
  methods give. Each class gets its field getters (``operator.attrgetter``) when it is decorated.
- :class:`ReadOnly` (``@frozen``, for ``@dataclass(frozen=True, slots=True)``): a field is set
  once, by ``__init__``, and can then be neither assigned nor deleted — the promise
  ``frozen=True`` makes, with the same :class:`dataclasses.FrozenInstanceError`; ``hash()`` is
  the hash of the hashed fields' tuple (fields are never reassigned, so it cannot change).
- :class:`Record` (``@record``, for a plain ``@dataclass``): mutable and, like any dataclass with
  ``==``, unhashable.

``__init__`` is written here too, not by :func:`dataclasses.dataclass`: it sets each field with
``object.__setattr__`` (a C call; ``self.x = x`` would run :meth:`ReadOnly.__setattr__`, a Python
call per field of every event and model node). It is made when the class is first instantiated,
from a template compiled once per shape of class (:func:`_make_init`), so classes cost no compile
of their own and a class a run never builds costs nothing. Fields may have defaults and
default factories, and ``__post_init__`` runs; ``init=False`` and ``kw_only`` fields, and a
field without a default after one with a default, are refused at decoration.

The two classes built by the hundred thousand while a file is parsed (``errors.Location`` and
``ScalarOrigin``) are written out by hand in errors.py: no decoration at import at all.
"""

from __future__ import annotations

from dataclasses import MISSING, FrozenInstanceError, dataclass, fields
from operator import attrgetter
from types import CodeType, FunctionType
from typing import Any, Callable, ClassVar, TypeVar

T = TypeVar("T", bound=type)


class _Fields:
    """``==`` and ``repr()`` from the fields :func:`_describe` noted on the class."""

    __slots__ = ()
    _compared: ClassVar[Callable[[Any], tuple]]
    _hashed: ClassVar[Callable[[Any], tuple]]
    _shown: ClassVar[tuple[str, ...]]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._compared(self) == self._compared(other)
        return NotImplemented

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._shown)
        return f"{self.__class__.__qualname__}({shown})"


class ReadOnly(_Fields):
    """Base of :func:`frozen` classes: each slot can be written once, and never deleted."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(self._hashed(self))

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, name):
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")


class Record(_Fields):
    """Base of :func:`record` classes: mutable, compared by value, so not hashable."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]


def frozen(cls: T) -> T:
    """``@dataclass(frozen=True, slots=True)`` for a subclass of :class:`ReadOnly` (see the module's docstring)."""
    if not issubclass(cls, ReadOnly):
        raise TypeError(f"@frozen class {cls.__name__} must derive from records.ReadOnly")
    return _describe(dataclass(slots=True, init=False, repr=False, eq=False)(cls))


def record(cls: T) -> T:
    """``@dataclass`` for a subclass of :class:`Record` (see the module's docstring)."""
    if not issubclass(cls, Record):
        raise TypeError(f"@record class {cls.__name__} must derive from records.Record")
    return _describe(dataclass(init=False, repr=False, eq=False)(cls))


def _describe(cls: T) -> T:
    every = fields(cls)
    defaulted = False
    for f in every:
        if not f.init or f.kw_only is True:
            raise TypeError(f"{cls.__name__}.{f.name}: records take every field positionally (no init=False, no kw_only)")
        if f.name == "self" or f.name.startswith("_records_"):
            raise TypeError(f"{cls.__name__}.{f.name}: a name records keep for __init__")
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        if defaulted and not has_default:
            raise TypeError(f"{cls.__name__}.{f.name}: a field without a default follows one with a default")
        defaulted = defaulted or has_default
    if "__init__" not in cls.__dict__:
        cls.__init__ = _first_init(cls)
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


def _first_init(cls: type) -> Callable[..., None]:
    """An ``__init__`` that compiles the class's real one (:func:`_make_init`) on first use and hands over to it."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        real = _make_init(cls)
        cls.__init__ = real
        real(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _make_init(cls: type) -> Callable[..., None]:
    """``def __init__(self, a, b=<default>, ...)`` setting each field with ``object.__setattr__``, as frozen dataclasses do.

    Compiling an ``__init__`` per class cost ~30 us each. Classes share a compiled template per
    shape (which fields have a default factory, whether ``__post_init__`` runs) with placeholder
    names; each class gets a copy of the template's code with its own field names
    (``CodeType.replace``) and its defaults, a microsecond's work.
    """
    every = fields(cls)
    post_init = hasattr(cls, "__post_init__")
    shape = (tuple(f.default_factory is not MISSING for f in every), post_init)
    template = _TEMPLATES.get(shape)
    if template is None:
        template = _TEMPLATES[shape] = _template(*shape)
    names = tuple(f.name for f in every)
    renamed = {f"f{i}": name for i, name in enumerate(names)}
    code = template.replace(
        co_varnames=("self", *names),
        co_consts=tuple(renamed.get(c, c) if isinstance(c, str) else c for c in template.co_consts),
        co_name="__init__",
        co_qualname=f"{cls.__qualname__}.__init__",
    )
    scope: dict[str, Any] = {"_records_set": object.__setattr__, "_records_missing": MISSING}
    defaults: list[Any] = []
    for i, f in enumerate(every):
        if f.default_factory is not MISSING:
            scope[f"_records_factory{i}"] = f.default_factory
            defaults.append(MISSING)
        elif f.default is not MISSING:
            defaults.append(f.default)
    init = FunctionType(code, scope, "__init__", tuple(defaults) or None)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


_TEMPLATES: dict[tuple, CodeType] = {}


def _template(factories: tuple[bool, ...], post_init: bool) -> CodeType:
    """The code of ``__init__(self, f0, f1, ...)`` for one shape of class (see :func:`_make_init`)."""
    params = ", ".join(["self", *(f"f{i}" for i in range(len(factories)))])
    body = [f"    _records_set(self, 'f{i}', _records_factory{i}() if f{i} is _records_missing else f{i})"
            if factory else f"    _records_set(self, 'f{i}', f{i})" for i, factory in enumerate(factories)]
    if post_init:
        body.append("    self.__post_init__()")
    source = f"def __init__({params}):\n" + ("\n".join(body) or "    pass") + "\n"
    scope: dict[str, Any] = {}
    exec(compile(source, "<records: __init__>", "exec"), scope)
    return scope["__init__"].__code__
