"""Fuzzing: any string compiles and evaluates to a value or an ExpressionError, never anything else.

Three generators: arbitrary text, token soup inside ``${{ }}`` (reaches the
parser's error paths), and well-formed expressions from a small grammar (reaches
the evaluator; these must always compile).
"""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_runner.errors import ScalarOrigin
from workflow_runner.expressions import Context, ExpressionError, Template, compile_string, render

ORIGIN = ScalarOrigin("fuzz.yaml", 1, 1)
VALUES = {
    "inputs": {"a": 1, "b": "x", "c": [1, {"d": None}], "e": {"f": [True, 2.5]}, "n": None, "s": "0x1f", "j": '{"k": [1]}'},
    "needs": {"build": {"outputs": {"x": "3"}}},
    "matrix": {"k": "a"},
    ".": {"hidden": False},
}


class AllTrue:
    def status(self, keyword: str) -> bool:
        return keyword != "never"


CONTEXTS = [Context(VALUES), Context(VALUES, AllTrue())]


def run(text: str) -> None:
    """Compile and evaluate ``text``; only values or ExpressionErrors are acceptable."""
    try:
        compiled = compile_string(text, origin=ORIGIN)
    except ExpressionError as e:
        assert e.message and e.location is not None
        return
    if not isinstance(compiled, Template):
        assert compiled is text
        return
    compiled.references()
    for ctx in CONTEXTS:
        try:
            value = compiled.evaluate(ctx)
        except ExpressionError as e:
            assert e.message and e.location is not None
            continue
        if not compiled.is_single:
            assert isinstance(value, str)
        render({"k": [compiled]}, ctx)


FAST = settings(max_examples=400, deadline=None)


@FAST
@given(st.text())
def test_any_text(text):
    run(text)


@FAST
@given(st.text(alphabet="${}<> '()[].!=&|?:*-+/%,0123456789abeinx\n", max_size=60))
def test_delimiter_heavy_text(text):
    run(text)


TOKENS = [
    "inputs", "needs", "matrix", "env", "steps", "a", "b", "x-1", "count-1", "build", "outputs",
    ".", ".", "[", "]", "(", ")", "*", ",", "'s'", "''", "'it''s'", "'", "1", "0", "-1", "1.5", ".5", "0x1f", "1e5", "1e999",
    "true", "false", "null", "NaN", "Infinity", "+", "-", "*", "/", "%", "!", "==", "!=", "<", "<=", ">", ">=",
    "&&", "||", "?", ":", "includes", "!includes", "get", "=", "&", "|", "@", "\"", "{", "}", "$", "${{", "}}", ">>",
    "contains(", "startsWith(", "endsWith(", "format(", "join(", "toJSON(", "fromJSON(", "success()", "failure()",
    "always()", "cancelled()", "foo(", "error", "always", "never", "completed", "canceled", ".hidden", " ", "\n",
]


@FAST
@given(
    st.lists(st.sampled_from(TOKENS), max_size=25),
    st.lists(st.booleans(), max_size=25),
    st.sampled_from([("${{ ", " }}"), ("$<< ", " >>"), ("x ${{", "}} y"), ("${{", "}}${{ 1 }}")]),
)
def test_token_soup(tokens, spaces, delimiters):
    body = "".join(t + (" " if i < len(spaces) and spaces[i] else "") for i, t in enumerate(tokens))
    run(delimiters[0] + body + delimiters[1])


# -- well-formed expressions --------------------------------------------------

LEAVES = st.sampled_from(
    [
        "null", "true", "false", "0", "1", "-1", "2.5", "0x10", "1e3", "NaN", "Infinity", "''", "'a'", "'B'", "'3'",
        "'x''y'", "inputs", "inputs.a", "inputs.b", "inputs.c", "inputs.c[1].d", "inputs.e.f", "inputs.e.*", "inputs.c.*.d",
        "inputs.missing", "inputs.n", "inputs.s", "inputs[matrix.k]", "needs.build.outputs.x", "matrix", ".hidden", "env.X",
        "fromJSON(inputs.j)", "error", "always", "success()",
    ]
)
BINARY = ["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "includes", "!includes", "get"]


def _combine(children):
    binary = st.builds(lambda a, op, b: f"({a}) {op} ({b})", children, st.sampled_from(BINARY), children)
    unary = st.builds(lambda op, a: f"{op}({a})", st.sampled_from(["!", "-", "+"]), children)
    ternary = st.builds(lambda a, b, c: f"({a}) ? ({b}) : ({c})", children, children, children)
    index = st.builds(lambda a, b: f"({a})[{b}]", children, children)
    prop = st.builds(lambda a, name: f"({a}).{name}", children, st.sampled_from(["a", "b", "d", "f", "*", "x-1", "length"]))
    call = st.one_of(
        st.builds(lambda f, a, b: f"{f}({a}, {b})", st.sampled_from(["contains", "startsWith", "endsWith", "join"]), children, children),
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(["toJSON", "join", "format"]), children),
        st.builds(lambda a, b: f"format('{{0}}-{{1}}', {a}, {b})", children, children),
    )
    return st.one_of(binary, unary, ternary, index, prop, call)


EXPRESSIONS = st.recursive(LEAVES, _combine, max_leaves=12)


@FAST
@given(EXPRESSIONS, st.booleans())
def test_well_formed_expressions_always_compile(expr, embedded):
    text = f"v=${{{{ {expr} }}}}" if embedded else f"${{{{ {expr} }}}}"
    compiled = compile_string(text, origin=ORIGIN)
    assert isinstance(compiled, Template) and compiled.is_single is not embedded
    for ctx in CONTEXTS:
        try:
            value = compiled.evaluate(ctx)
        except ExpressionError as e:
            assert e.location is not None
            continue
        _assert_plain_data(value)


def _assert_plain_data(value) -> None:
    """Typed results are plain JSON-like data (a filter result comes back as a list)."""
    if isinstance(value, float) and not math.isfinite(value):
        return
    assert type(value) in (type(None), bool, int, float, str, list, dict), type(value)
    json.dumps(value, allow_nan=True)
