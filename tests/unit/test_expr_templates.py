"""Templates: splitting strings, typed vs stringified results, both delimiters,
status keywords, references(), render() and walk_templates()."""

from __future__ import annotations

import math

import pytest

from workflow_runner.errors import Location, ScalarOrigin
from workflow_runner.expressions import (
    CONTEXT_NAMES,
    STATUS_KEYWORDS,
    Context,
    ExpressionError,
    Template,
    compile_string,
    contains_expression,
    render,
    walk_templates,
)

VALUES = {
    "inputs": {
        "one": 1,
        "two": 2,
        "name": "Bob",
        "list": [1, 2, 3],
        "obj": {"deep": 42},
        "objs": [{"name": "x"}, {"name": "y"}],
        "fallback": True,
        "nofallback": False,
    },
    "matrix": {"os": "linux", "k": "name"},
}
CTX = Context(VALUES)


def render_text(text: str):
    compiled = compile_string(text)
    return compiled.evaluate(CTX) if isinstance(compiled, Template) else compiled


def same(actual, expected) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    return type(actual) is type(expected) and actual == expected


TEMPLATES = [
    # typed: exactly one expression, spaces only inside the braces
    ("${{ inputs.one }}", 1),
    ("${{inputs.one}}", 1),
    ("${{   inputs.one   }}", 1),
    ("${{\n  inputs.one\n}}", 1),
    ("${{ inputs.list }}", [1, 2, 3]),
    ("${{ inputs.objs.*.name }}", ["x", "y"]),
    ("${{ null }}", None),
    ("${{ true }}", True),
    ("${{ 1.5 }}", 1.5),
    ("${{ '' }}", ""),
    ("$<< inputs.one >>", 1),
    ("$<<inputs.one>>", 1),
    ("$<< 1 > 0 >>", True),
    ("$<< '>>' >>", ">>"),
    ("${{ '}}' }}", "}}"),
    ("${{ '${{' }}", "${{"),
    ("${{ format('{{0}}') }}", "{0}"),
    ("${{ 'a''b' }}", "a'b"),
    # stringified: anything around the expression
    (" ${{ inputs.one }}", " 1"),
    ("${{ inputs.one }} ", "1 "),
    ("${{ inputs.one }}\n", "1\n"),
    ("x${{ inputs.one }}", "x1"),
    ("${{ inputs.one }}${{ inputs.two }}", "12"),
    ("${{ inputs.one }} and ${{ inputs.two }}", "1 and 2"),
    ("a $<< inputs.name >> b", "a Bob b"),
    ("${{ inputs.one }} $<< inputs.two >>", "1 2"),
    ("$<< inputs.one >>${{ inputs.two }}", "12"),
    ("${{ inputs.name }}-${{ matrix.os }}.txt", "Bob-linux.txt"),
    ("multi\n${{ inputs.one }}\nline", "multi\n1\nline"),
    ("a ${{ '}}' }} b", "a }} b"),
    ("x${{ null }}y", "xy"),
    ("v=${{ true }}", "v=true"),
    ("v=${{ false }}", "v=false"),
    ("v=${{ 1.0 }}", "v=1"),
    ("v=${{ 2.50 }}", "v=2.5"),
    ("v=${{ 0.1 + 0.2 }}", "v=0.3"),
    ("v=${{ 1e21 }}", "v=1e+21"),
    ("v=${{ 123e18 }}", "v=123000000000000000000"),
    ("v=${{ 1e-7 }}", "v=1e-7"),
    ("v=${{ 0.000001 }}", "v=0.000001"),
    ("v=${{ 1 / 3 }}", "v=0.333333333333333"),
    ("v=${{ 1 / 0 }}", "v=Infinity"),
    ("v=${{ -1 / 0 }}", "v=-Infinity"),
    ("v=${{ 0 / 0 }}", "v=NaN"),
    ("v=${{ -0 }}", "v=0"),
    ("v=${{ -1.5 }}", "v=-1.5"),
    ("v=${{ 123456789012 }}", "v=123456789012"),
    ("v=${{ inputs.list }}", "v=[1,2,3]"),
    ("v=${{ inputs.obj }}", 'v={"deep":42}'),
    ("v=${{ inputs.objs.*.name }}", 'v=["x","y"]'),
    ("v=${{ 'ü' }}", "v=ü"),
    ("v=${{ fromJSON('{\"k\": \"ü\"}') }}", 'v={"k":"ü"}'),
    ("echo '${{ inputs.name }}' > $OUT", "echo 'Bob' > $OUT"),
    # '$' followed by anything else stays literal
    ("$HOME ${{ inputs.name }}", "$HOME Bob"),
    ("${PWD} ${{ inputs.one }} $((1+1))", "${PWD} 1 $((1+1))"),
    ("cat <<EOF ${{ inputs.one }}", "cat <<EOF 1"),
    ("$${{ inputs.one }}", "$1"),
]


@pytest.mark.parametrize("text, expected", TEMPLATES)
def test_templates(text, expected):
    actual = render_text(text)
    assert same(actual, expected), f"{text!r} gave {actual!r}"


NO_EXPRESSION = ["plain", "", "${PWD}/x", "$HOME", "$ {{ inputs.x }}", "${ { x } }", "{{ inputs.x }}", "$<", "<< x >>", "$(( 1 << 2 ))"]


@pytest.mark.parametrize("text", NO_EXPRESSION)
def test_text_without_expression_is_returned_as_is(text):
    assert compile_string(text) is text
    assert contains_expression(text) is False


@pytest.mark.parametrize(
    "value, expected",
    [("${{", True), ("$<<", True), ("a ${{ b", True), ("x $<< y", True), ("${", False), (None, False), (123, False), (["${{"], False)],
)
def test_contains_expression(value, expected):
    assert contains_expression(value) is expected


@pytest.mark.parametrize(
    "text, single",
    [
        ("${{ x }}".replace("x", "inputs.one"), True),
        ("$<< inputs.one >>", True),
        ("${{inputs.one}}", True),
        (" ${{ inputs.one }}", False),
        ("${{ inputs.one }}\n", False),
        ("${{ inputs.one }}${{ inputs.two }}", False),
        ("${{ inputs.one }}x", False),
    ],
)
def test_is_single(text, single):
    assert compile_string(text).is_single is single


def test_template_is_frozen_and_comparable():
    origin = ScalarOrigin("wf.yaml", 1, 1)
    a = compile_string("${{ inputs.one }}", origin=origin)
    b = compile_string("${{ inputs.one }}", origin=origin)
    assert a == b and hash(a) == hash(b)
    assert a.source == "${{ inputs.one }}" and a.origin is origin
    with pytest.raises(AttributeError):
        a.source = "x"  # type: ignore[misc]


def test_compile_once_evaluate_many():
    template = compile_string("n=${{ matrix.n * 2 }}")
    assert [template.evaluate(Context({"matrix": {"n": n}})) for n in range(4)] == ["n=0", "n=2", "n=4", "n=6"]


# -- status keywords -------------------------------------------------------


class FakeStatus:
    def __init__(self, **states: bool) -> None:
        self.states = states
        self.asked: list[str] = []

    def status(self, keyword: str) -> bool:
        self.asked.append(keyword)
        return self.states.get(keyword, False)


FAILED = dict(always=True, never=False, completed=True, error=True, canceled=False, cancelled=False, success=False, failure=True)
SUCCEEDED = dict(always=True, never=False, completed=True, error=False, canceled=False, cancelled=False, success=True, failure=False)

STATUS = [
    ("always", FAILED, True),
    ("never", FAILED, False),
    ("completed", SUCCEEDED, True),
    ("!completed", SUCCEEDED, False),
    ("error", FAILED, True),
    ("error", SUCCEEDED, False),
    ("!error", SUCCEEDED, True),
    ("canceled", FAILED, False),
    ("cancelled", FAILED, False),
    ("success()", SUCCEEDED, True),
    ("success()", FAILED, False),
    ("failure()", FAILED, True),
    ("cancelled()", FAILED, False),
    ("always()", FAILED, True),
    ("ALWAYS", FAILED, True),
    ("Success()", SUCCEEDED, True),
    ("Error", FAILED, True),
    ("error || always", SUCCEEDED, True),
    ("error && inputs.fallback", FAILED, True),
    ("error && inputs.nofallback", FAILED, False),
    ("inputs.fallback ? error : never", FAILED, True),
    ("inputs.nofallback ? error : never", FAILED, False),
    ("failure() && inputs.name == 'bob'", FAILED, True),
]


@pytest.mark.parametrize("expr, states, expected", STATUS)
def test_status_keywords(expr, states, expected):
    template = compile_string("${{ " + expr + " }}")
    assert template.evaluate(Context(VALUES, FakeStatus(**states))) is expected


@pytest.mark.parametrize(
    "expr, asked",
    [
        ("canceled", ["canceled"]),
        ("cancelled()", ["cancelled"]),
        ("success()", ["success"]),
        ("failure()", ["failure"]),
        ("always()", ["always"]),
        ("false && error", []),
        ("true || error", []),
        ("error || completed", ["error", "completed"]),
    ],
)
def test_status_keywords_ask_the_provider_lazily(expr, asked):
    provider = FakeStatus()
    compile_string("${{ " + expr + " }}").evaluate(Context(VALUES, provider))
    assert provider.asked == asked


def test_status_keyword_outside_if_is_an_error():
    template = compile_string("x ${{ error }}", origin=ScalarOrigin("wf.yaml", 3, 5))
    with pytest.raises(ExpressionError) as info:
        template.evaluate(CTX)
    assert info.value.message == "status keyword 'error' can only be used in an if: condition"
    assert info.value.location == Location("wf.yaml", 3, 11)


def test_public_name_sets():
    assert {"inputs", "needs", "env", "matrix", "sessions", "org", "steps", "secrets"} <= CONTEXT_NAMES
    assert STATUS_KEYWORDS == {"always", "never", "completed", "error", "canceled", "cancelled", "success", "failure"}


# -- references ------------------------------------------------------------

REFERENCES = [
    ("${{ needs.build.outputs.x }}", [("needs", "build", "outputs", "x")]),
    ("${{ needs['a-b'].outputs }}", [("needs", "a-b", "outputs")]),
    ("${{ needs.a-b.outputs }}", [("needs", "a-b", "outputs")]),
    ("${{ inputs[matrix.k] }}", [("inputs",), ("matrix", "k")]),
    ("${{ NEEDS.Build.outputs }}", [("needs", "Build", "outputs")]),
    ("${{ 1 + 2 }}", []),
    ("${{ error }}", []),
    ("a ${{ inputs.a }} b $<< env.B >>", [("inputs", "a"), ("env", "B")]),
    ("${{ inputs.objs.*.name }}", [("inputs", "objs")]),
    ("${{ inputs.objs[*].name }}", [("inputs", "objs")]),
    ("${{ inputs.list[0].x }}", [("inputs", "list")]),
    ("${{ contains(needs.x.result, 'a') }}", [("needs", "x", "result")]),
    ("${{ .hidden }}", [(".", "hidden")]),
    ("${{ inputs get 'a' get matrix.k }}", [("inputs", "a"), ("matrix", "k")]),
    ("${{ error && needs.a.outputs.b }}", [("needs", "a", "outputs", "b")]),
    ("${{ (inputs).x }}", [("inputs", "x")]),
    ("${{ fromJSON(inputs.j).x }}", [("inputs", "j")]),
    ("${{ inputs[needs[matrix.k].outputs.x] }}", [("inputs",), ("needs",), ("matrix", "k")]),
    ("${{ inputs.a == 'x' ? needs.b.outputs.c : needs.d }}", [("inputs", "a"), ("needs", "b", "outputs", "c"), ("needs", "d")]),
    ("${{ inputs }}", [("inputs",)]),
]


@pytest.mark.parametrize("text, paths", REFERENCES)
def test_references(text, paths):
    assert [path for path, _ in compile_string(text).references()] == paths


def test_reference_locations():
    origin = ScalarOrigin("wf.yaml", 5, 10)
    refs = compile_string("x ${{ needs.a.outputs.b }} ${{ inputs.c }}", origin=origin).references()
    assert refs == [
        (("needs", "a", "outputs", "b"), Location("wf.yaml", 5, 16)),
        (("inputs", "c"), Location("wf.yaml", 5, 41)),
    ]
    assert compile_string("${{ inputs.c }}").references() == [(("inputs", "c"), None)]


# -- render / walk_templates -------------------------------------------------


def test_render_recurses_and_keeps_types():
    value = {
        "a": compile_string("${{ inputs.list }}"),
        "b": [compile_string("n=${{ inputs.one }}"), 7, None],
        "c": (compile_string("${{ inputs.two }}"), "x"),
        compile_string("${{ matrix.os }}-key"): True,
        "plain": {"deep": ["text"]},
    }
    assert render(value, CTX) == {"a": [1, 2, 3], "b": ["n=1", 7, None], "c": (2, "x"), "linux-key": True, "plain": {"deep": ["text"]}}
    assert render(value["plain"], CTX) is value["plain"]


def test_render_without_templates_returns_the_same_objects():
    data = {"a": [1, {"b": "c"}], "d": (1, 2)}
    assert render(data, CTX) is data
    assert render("text", CTX) == "text"
    assert render(5, CTX) == 5


def test_walk_templates_finds_every_template_in_order():
    t1, t2, t3, t4 = (compile_string(f"${{{{ inputs.{n} }}}}") for n in ("a", "b", "c", "d"))
    value = {"x": [t1, {"y": t2}], t3: ("z", t4), "n": 1}
    assert list(walk_templates(value)) == [t1, t2, t3, t4]
    assert list(walk_templates("plain")) == []


# -- bare if: conditions --------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [("inputs.one == 1", True), ("${{ inputs.one == 2 }}", False), ("error || always", True), ("inputs.name", "Bob"), ("  !never  ", True)],
)
def test_compile_condition_accepts_bare_and_wrapped_expressions(text, expected):
    from workflow_runner.expressions import compile_condition

    template = compile_condition(text)
    assert template.is_single
    assert template.evaluate(Context(VALUES, FakeStatus(**FAILED))) == expected


def test_compile_condition_errors_point_into_the_bare_text():
    from workflow_runner.expressions import compile_condition

    with pytest.raises(ExpressionError) as info:
        compile_condition("inputs.a == foo", origin=ScalarOrigin("wf.yaml", 7, 9))
    assert info.value.message == "unknown context 'foo'"
    assert info.value.location == Location("wf.yaml", 7, 21)
    with pytest.raises(ExpressionError, match="empty expression"):
        compile_condition("   ")
