"""@frozen and @record classes (workflow_runner/records.py) keep every promise of the dataclasses they replace."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from workflow_runner.engine.events import StepFinished
from workflow_runner.expressions import compile_string
from workflow_runner.records import ReadOnly, Record, frozen, record


@frozen
class Point(ReadOnly):
    """A test record."""

    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


def test_fields_cannot_be_assigned_or_deleted_once_built():
    p = Point(1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'x'"):
        p.x = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'y'"):
        del p.y
    with pytest.raises(AttributeError):  # slots: no new attributes either
        p.z = 1  # type: ignore[attr-defined]
    assert (p.x, p.y) == (1, 2)


def test_equal_records_compare_and_hash_alike_and_copy_and_pickle():
    a, b = Point(1, 2, ("t",)), Point(1, 2, ("t",))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Point(1, 3)
    assert dataclasses.replace(a, y=9) == Point(1, 9, ("t",))
    assert copy.deepcopy(a) == a and copy.copy(a) == a
    assert pickle.loads(pickle.dumps(a)) == a
    assert repr(a) == "Point(x=1, y=2, tags=('t',))"
    assert dataclasses.is_dataclass(a) and [f.name for f in dataclasses.fields(a)] == ["x", "y", "tags"]
    assert not hasattr(a, "__dict__")


def test_the_engines_records_are_read_only():
    event = StepFinished("job", "step", "completed", 0, 1.0, None, None, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.status = "failed"  # type: ignore[misc]
    template = compile_string("a ${{ inputs.x }} b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        template.parts = ()  # type: ignore[misc]
    assert hash(template) == hash(compile_string("a ${{ inputs.x }} b"))


def test_frozen_needs_the_read_only_base():
    with pytest.raises(TypeError, match="must derive from records.ReadOnly"):
        @frozen
        class Loose:  # noqa: F841
            x: int


def test_eq_hash_and_repr_match_what_dataclass_generates_field_options_included():
    from dataclasses import dataclass, field

    @frozen
    class Ours(ReadOnly):
        """Ours."""

        a: int
        hidden: str = field(default="h", repr=False)
        ignored: int = field(default=0, compare=False)
        unhashed: int = field(default=0, hash=False)

    @dataclass(frozen=True, slots=True)
    class Ours2:  # the same fields, generated the standard way; named alike for repr
        """Theirs."""

        a: int
        hidden: str = field(default="h", repr=False)
        ignored: int = field(default=0, compare=False)
        unhashed: int = field(default=0, hash=False)

    cases = [(1, "x", 2, 3), (1, "x", 9, 3), (1, "x", 2, 4), (2, "y", 2, 3)]
    for left in cases:
        for right in cases:
            assert (Ours(*left) == Ours(*right)) == (Ours2(*left) == Ours2(*right))
        assert hash(Ours(*left)) == hash(Ours2(*left))
        assert repr(Ours(*left)).replace("Ours(", "X(") == repr(Ours2(*left)).replace("Ours2(", "X(")
    assert Ours(1) != (1, "h", 0, 0) and Ours(1).__eq__(Ours2(1)) is NotImplemented


def test_a_record_is_mutable_compared_by_value_and_unhashable_like_a_dataclass():
    from dataclasses import dataclass, field

    @record
    class Mine(Record):
        """Mine."""

        a: int
        items: list[str] = field(default_factory=list)
        note: str = field(default="", compare=False, repr=False)

    @dataclass
    class Mine2:
        """Theirs."""

        a: int
        items: list[str] = field(default_factory=list)
        note: str = field(default="", compare=False, repr=False)

    m = Mine(1)
    m.a = 2
    m.items.append("x")
    assert m == Mine(2, ["x"], note="other") and m != Mine(3)
    assert repr(m).split(".")[-1] == repr(Mine2(2, ["x"])).split(".")[-1].replace("Mine2", "Mine")
    with pytest.raises(TypeError, match="unhashable"):
        hash(m)
    assert Mine(1).items is not Mine(1).items  # default_factory still per instance
    with pytest.raises(TypeError, match="must derive from records.Record"):
        @record
        class Loose:  # noqa: F841
            x: int


def test_init_takes_defaults_factories_keywords_and_runs_post_init():
    @record
    class Counter(Record):
        """A test record with a factory and a __post_init__."""

        name: str
        seen: list[int] = dataclasses.field(default_factory=list)
        limit: int = 0

        def __post_init__(self) -> None:
            self.limit = self.limit or 10

    a, b = Counter("a"), Counter(name="b", limit=3)
    a.seen.append(1)
    assert (a.seen, b.seen, a.limit, b.limit) == ([1], [], 10, 3)
    assert Counter("c", [2]).seen == [2]
    with pytest.raises(TypeError):
        Counter()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Counter("a", nope=1)  # type: ignore[call-arg]
    assert Point(y=2, x=1) == Point(1, 2)


def test_fields_are_set_without_the_read_only_setattr():
    calls = []

    @frozen
    class Watched(ReadOnly):
        """A test record that counts assignments through __setattr__."""

        a: int
        b: int = 2

        def __setattr__(self, name, value):
            calls.append(name)
            ReadOnly.__setattr__(self, name, value)

    w = Watched(1)
    assert (w.a, w.b, calls) == (1, 2, [])
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.a = 3
    assert calls == ["a"]


def test_records_that_cannot_take_positional_fields_are_refused():
    with pytest.raises(TypeError, match="follows one with a default"):
        @record
        class Bad(Record):
            """Out of order."""

            a: int = 0
            b: int  # type: ignore[misc]
    with pytest.raises(TypeError, match="positionally"):
        @record
        class Hidden(Record):
            """init=False."""

            a: int = dataclasses.field(default=0, init=False)


def test_positions_keep_the_promises_of_the_frozen_dataclasses_they_were():
    from workflow_runner.errors import Location, ScalarOrigin

    loc = Location("w.yaml", 3, 5)
    assert loc == Location("w.yaml", 3, 5) and hash(loc) == hash(("w.yaml", 3, 5)) and loc != Location("w.yaml", 3)
    assert loc != ScalarOrigin("w.yaml", 3, 5) and Location("f") == Location("f", None, None)
    assert repr(loc) == "Location(file='w.yaml', line=3, col=5)" and str(loc) == "w.yaml:3:5"
    origin = ScalarOrigin("w.yaml", 2, 4, None, True)
    assert repr(origin) == "ScalarOrigin(file='w.yaml', line=2, col=4, block_indent=None, quoted=True)"
    assert origin.locate("ab", 1) == Location("w.yaml", 2, 6)
    for value in (loc, origin):
        assert pickle.loads(pickle.dumps(value)) == value
        assert copy.deepcopy(value) == value and copy.copy(value) == value
        with pytest.raises(dataclasses.FrozenInstanceError):
            value.line = 9  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            del value.file
        assert not hasattr(value, "__dict__")
    match loc:
        case Location(file, line, col):
            assert (file, line, col) == ("w.yaml", 3, 5)


def test_classes_of_one_shape_share_a_template_and_keep_their_own_names_and_defaults():
    @frozen
    class Left(ReadOnly):
        """Shape: three fields, no factory."""

        a: int
        b: int = 1
        c: str = "l"

    @frozen
    class Right(ReadOnly):
        """The same shape, other names and defaults."""

        x: str
        y: str = "y"
        z: int = 9

    left, right = Left(0), Right("r", z=3)
    assert (left.a, left.b, left.c, right.x, right.y, right.z) == (0, 1, "l", "r", "y", 3)
    assert Left.__init__.__code__.co_varnames[:4] == ("self", "a", "b", "c")
    assert Right.__init__.__qualname__.endswith("Right.__init__")
    with pytest.raises(TypeError):
        Right("r", a=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="keep for __init__"):
        @record
        class Clash(Record):
            """A reserved name."""

            self: int
