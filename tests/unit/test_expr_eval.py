"""Expression semantics, table-driven: ``(expression, expected)`` evaluated as ``${{ expression }}``.

Each table is one topic of DESIGN.md §3; the expected values follow GitHub's
``@actions/expressions`` plus the ACTIVATE extensions (ternary, arithmetic,
includes, get, status keywords, self-relative names).
"""

from __future__ import annotations

import math

import pytest

from workflow_runner.expressions import Context, Template, compile_string

NAN = math.nan
INF = math.inf

VALUES = {
    "inputs": {
        "name": "Bob",
        "empty": "",
        "zero": 0,
        "one": 1,
        "two": 2,
        "pi": 3.14,
        "yes": True,
        "no": False,
        "nothing": None,
        "list": [1, 2, 3],
        "words": ["a", "B", "c"],
        "emptylist": [],
        "emptyobj": {},
        "obj": {"Key": "v", "nested": {"deep": 42}, "a-b": "dash"},
        "count-1": 7,
        "count": 5,
        "objs": [{"name": "x", "v": 1}, {"name": "y", "v": 2}, {"other": 3}],
        "numstr": "42",
        "floatstr": "1.5",
        "hex": "0x10",
        "spaces": "  7  ",
        "nested_lists": [[1, 2], [3, 4], 5],
        "dict_of_dicts": {"a": {"id": 1}, "b": {"id": 2}},
        "json": '{"a": [1, 2]}',
        "advanced_settings": {"localport": 8080, "tiktoken_encodings": True},
    },
    "needs": {
        "build": {"outputs": {"x": "3", "rundir": "/tmp/run", "NUM_WORKERS": "4"}, "result": "success"},
        "build-container": {"outputs": {"image": "img:1"}},
    },
    "env": {"HOME": "/home/u"},
    "matrix": {"k": "name", "worker_id": 2, "os": "linux"},
    "org": {"HF_TOKEN": "tok"},
    "steps": {"s1": {"outputs": {"o": "v"}}},
    "sessions": {"session": "sess-1"},
    ".": {"hidden": True, "type": "string"},
}


def ev(expr: str, values=VALUES, status=None):
    template = compile_string("${{ " + expr + " }}")
    assert isinstance(template, Template) and template.is_single
    return template.evaluate(Context(values, status))


def same(actual, expected) -> bool:
    """Equal *and* of the same type (so 1 is not True and 2 is not 2.0); NaN equals NaN."""
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(same(a, e) for a, e in zip(actual, expected))
    if isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(same(actual[k], expected[k]) for k in expected)
    return actual == expected


def check(expr, expected):
    actual = ev(expr)
    assert same(actual, expected), f"{expr!r} gave {actual!r}, expected {expected!r}"


LITERALS = [
    ("null", None),
    ("true", True),
    ("false", False),
    ("1", 1),
    ("0", 0),
    ("-1", -1),
    ("1.5", 1.5),
    ("1.0", 1),
    ("-1.5", -1.5),
    (".5", 0.5),
    ("5.", 5),
    ("007", 7),
    ("1e3", 1000),
    ("1E3", 1000),
    ("1e+3", 1000),
    ("1e-3", 0.001),
    ("1.5e2", 150),
    ("2.5e-1", 0.25),
    ("0xff", 255),
    ("0xFF", 255),
    ("0x0", 0),
    ("0o17", 15),
    ("0b101", 5),
    ("1e400", INF),
    ("NaN", NAN),
    ("Infinity", INF),
    ("-Infinity", -INF),
    ("'abc'", "abc"),
    ("''", ""),
    ("'it''s'", "it's"),
    ("''''", "'"),
    ("'a''''b'", "a''b"),
    ("'  spaced  '", "  spaced  "),
    ("'ünï ☃'", "ünï ☃"),
    ("'\"'", '"'),
    ("'}}'", "}}"),
    ("'${{ x }}'", "${{ x }}"),
    ("'a\nb'", "a\nb"),
    ("(1)", 1),
    ("((true))", True),
    ("  1  ", 1),
]


@pytest.mark.parametrize("expr, expected", LITERALS)
def test_literals(expr, expected):
    check(expr, expected)


PRECEDENCE = [
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("1 + 2 * 3 - 4 / 2", 5),
    ("(1 + 2) * (3 + 4)", 21),
    ("10 - 4 - 3", 3),
    ("10 - (4 - 3)", 9),
    ("100 / 10 / 5", 2),
    ("2 * 3 % 4", 2),
    ("7 % 4 * 2", 6),
    ("10 % 3 + 1", 2),
    ("10 / 4 * 2", 5),
    ("-2 * 3", -6),
    ("- 2 + 5", 3),
    ("-(2 + 5)", -7),
    ("2 - -1", 3),
    ("2 + +1", 3),
    ("1 + 2 == 3", True),
    ("1 < 2 == true", True),
    ("2 > 1 == 1 > 0", True),
    ("1 < 2 < 3", True),
    ("3 > 2 > 1", False),
    ("1 == 1 == true", True),
    ("2 == 2 == 2", False),
    ("!false == true", True),
    ("!1 == 0", True),
    ("!(1 == 0)", True),
    ("!!1", True),
    ("!0", True),
    ("true || false && false", True),
    ("(true || false) && false", False),
    ("false && true || true", True),
    ("1 == 1 && 2 == 2", True),
    ("1 < 2 && 2 < 3", True),
    ("true ? 1 : 0 + 10", 1),
    ("false ? 1 : 0 + 10", 10),
    ("1 + 1 ? 2 : 3", 2),
    ("false || false ? 1 : 2", 2),
    ("true && false ? 1 : 2", 2),
    ("(true ? 1 : 2) + 1", 2),
    ("true ? false ? 1 : 2 : 3", 2),
    ("true ? true ? 1 : 2 : 3", 1),
    ("false ? 1 : false ? 2 : 3", 3),
    ("false ? 1 : true ? 2 : 3", 2),
    ("true ? 1 : false ? 2 : 3", 1),
    ("inputs.list includes 1 == true", True),
    ("true == inputs.list includes 1", True),
    ("1 + 1 includes 2", True),
    ("inputs get 'name' == 'bob'", True),
    ("!inputs get 'yes'", False),
    ("-inputs.one", -1),
    ("-inputs.obj.nested.deep", -42),
    ("inputs.name + '!' == 'BOB!'", True),
    ("!inputs.yes || inputs.one", 1),
    ("inputs.one + inputs.two * 2", 5),
]


@pytest.mark.parametrize("expr, expected", PRECEDENCE)
def test_precedence_and_associativity(expr, expected):
    check(expr, expected)


EQUALITY = [
    ("1 == 1", True),
    ("1 == 1.0", True),
    ("1 != 2", True),
    ("1 == '1'", True),
    ("'1' == 1", True),
    ("1 == '01'", True),
    ("1 == ' 1 '", True),
    ("1000 == '1e3'", True),
    ("16 == '0x10'", True),
    ("3 == '0b11'", True),
    ("0x10 == '0x10'", True),
    ("-16 == '-0x10'", False),
    ("1000 == '1_000'", False),
    ("1 == 'abc'", False),
    ("0 == ''", True),
    ("null == ''", True),
    ("null == 0", True),
    ("null == false", True),
    ("null == null", True),
    ("null == 'null'", False),
    ("true == 1", True),
    ("true == 2", False),
    ("true == 'true'", False),
    ("false == ''", True),
    ("false == '0'", True),
    ("true == '1'", True),
    ("true == true", True),
    ("false != true", True),
    ("'abc' == 'ABC'", True),
    ("'abc' != 'ABD'", True),
    ("'straße' == 'STRASSE'", True),
    ("'a' == 'a '", False),
    ("'' == ''", True),
    ("NaN == NaN", False),
    ("NaN != NaN", True),
    ("-0 == 0", True),
    ("Infinity == Infinity", True),
    ("'Infinity' == Infinity", True),
    ("'-Infinity' == -Infinity", True),
    ("'inf' == Infinity", False),
    ("inputs.list == inputs.list", True),
    ("inputs.list == inputs.words", False),
    ("inputs.emptyobj == inputs.emptyobj", True),
    ("inputs.list == '[1,2,3]'", False),
    ("inputs.list == 1", False),
    ("inputs.emptylist == 0", False),
    ("inputs.emptylist == false", False),
    ("inputs.list != null", True),
    ("inputs.missing == null", True),
    ("inputs.nothing == null", True),
    ("inputs.yes == true", True),
    ("inputs.numstr == 42", True),
    ("inputs.floatstr == 1.5", True),
    ("inputs.hex == 16", True),
    ("inputs.spaces == 7", True),
    ("inputs.name == 'bob'", True),
    ("inputs.name != 'BOB'", False),
    ("inputs.advanced_settings.tiktoken_encodings == true", True),
    ("needs.build.outputs.x == 3", True),
    ("inputs.missing != 'pull' || inputs.name != 'all'", True),
]


@pytest.mark.parametrize("expr, expected", EQUALITY)
def test_loose_equality(expr, expected):
    check(expr, expected)


COMPARISONS = [
    ("1 < 2", True),
    ("2 < 1", False),
    ("1 <= 1", True),
    ("1 >= 2", False),
    ("2 > 1", True),
    ("-1 < 0", True),
    ("1.5 > 1", True),
    ("Infinity > 1e308", True),
    ("'a' < 'b'", True),
    ("'B' > 'a'", True),
    ("'abc' < 'ABD'", True),
    ("'a' <= 'A'", True),
    ("'a' >= 'A'", True),
    ("'' < 'a'", True),
    ("'10' < '9'", True),
    ("10 < '9'", False),
    ("'10' > 9", True),
    ("null < 1", True),
    ("null <= 0", True),
    ("null >= 0", True),
    ("null < null", False),
    ("null <= null", True),
    ("false < true", True),
    ("true > false", True),
    ("true >= true", True),
    ("true < 2", True),
    ("'abc' < 1", False),
    ("'abc' > 1", False),
    ("'abc' >= 1", False),
    ("NaN < 1", False),
    ("NaN >= NaN", False),
    ("inputs.list < 1", False),
    ("inputs.list >= inputs.list", True),
    ("inputs.obj > inputs.obj", False),
    ("matrix.worker_id <= inputs.count", True),
    ("matrix.worker_id > '1'", True),
    ("needs.build.outputs.NUM_WORKERS >= 4", True),
]


@pytest.mark.parametrize("expr, expected", COMPARISONS)
def test_comparisons(expr, expected):
    check(expr, expected)


CASE_INSENSITIVE = [
    ("INPUTS.NAME", "Bob"),
    ("Inputs.Name", "Bob"),
    ("inputs.NAME", "Bob"),
    ("inputs['NAME']", "Bob"),
    ("inputs['name']", "Bob"),
    ("inputs.obj.key", "v"),
    ("inputs.obj.KEY", "v"),
    ("inputs.obj['A-B']", "dash"),
    ("NEEDS.BUILD.OUTPUTS.X", "3"),
    ("needs.build.outputs.num_workers", "4"),
    ("Matrix.K", "name"),
    ("ENV.home", "/home/u"),
    ("CONTAINS('ABC', 'b')", True),
    ("toJson(1)", "1"),
    ("TOJSON(1)", "1"),
    ("FORMAT('{0}', 1)", "1"),
    ("startswith('Hello', 'HE')", True),
    ("ENDSWITH('Hello', 'LO')", True),
    ("FromJson('1')", 1),
    ("inputs.objs.*.NAME", ["x", "y"]),
]


@pytest.mark.parametrize("expr, expected", CASE_INSENSITIVE)
def test_case_insensitivity(expr, expected):
    check(expr, expected)


TRUTHINESS = [
    ("null", False),
    ("false", False),
    ("0", False),
    ("-0", False),
    ("0.0", False),
    ("NaN", False),
    ("''", False),
    ("true", True),
    ("1", True),
    ("-1", True),
    ("0.5", True),
    ("Infinity", True),
    ("'0'", True),
    ("'false'", True),
    ("'null'", True),
    ("' '", True),
    ("inputs.emptylist", True),
    ("inputs.emptyobj", True),
    ("inputs.list", True),
    ("inputs.missing", False),
    ("inputs.empty", False),
    ("inputs.zero", False),
    ("inputs.nothing", False),
    ("sessions.session", True),
    ("inputs.objs.*.missing", True),
]


@pytest.mark.parametrize("expr, expected", TRUTHINESS)
def test_truthiness(expr, expected):
    check(f"!!({expr})", expected)
    check(f"({expr}) ? 'yes' : 'no'", "yes" if expected else "no")


LOGICAL = [
    ("1 && 2", 2),
    ("0 && 2", 0),
    ("'' && 2", ""),
    ("null && 2", None),
    ("1 || 2", 1),
    ("0 || 2", 2),
    ("'' || 'default'", "default"),
    ("null || null", None),
    ("false || 0", 0),
    ("0 || false", False),
    ("inputs.missing || 'fallback'", "fallback"),
    ("inputs.name || 'fallback'", "Bob"),
    ("inputs.name && inputs.one", 1),
    ("inputs.list && inputs.obj.key", "v"),
    ("inputs.emptylist || 1", []),
    ("1 && 2 && 3", 3),
    ("1 && 0 && 3", 0),
    ("0 || 0 || 3", 3),
    ("0 || 2 || 3", 2),
    ("true && 'x' || 'y'", "x"),
    ("false && 'x' || 'y'", "y"),
    ("inputs.zero || inputs.empty", ""),
    ("true || fromJSON('bad')", True),
    ("false && fromJSON('bad')", False),
    ("true ? 1 : fromJSON('bad')", 1),
    ("false ? fromJSON('bad') : 2", 2),
]


@pytest.mark.parametrize("expr, expected", LOGICAL)
def test_logical_operators_return_an_operand(expr, expected):
    check(expr, expected)


ARITHMETIC = [
    ("1 + 2", 3),
    ("2 + 3 + 4", 9),
    ("1.5 + 1.5", 3),
    ("0.1 + 0.2", 0.1 + 0.2),
    ("5 - 7", -2),
    ("3 * 4", 12),
    ("0.5 * 4", 2),
    ("4 / 2", 2),
    ("5 / 2", 2.5),
    ("1 / 3", 1 / 3),
    ("7 % 3", 1),
    ("-7 % 3", -1),
    ("7 % -3", 1),
    ("5.5 % 2", 1.5),
    ("1 / 0", INF),
    ("-1 / 0", -INF),
    ("0 / 0", NAN),
    ("1 % 0", NAN),
    ("Infinity % 2", NAN),
    ("5 % Infinity", 5),
    ("Infinity - Infinity", NAN),
    ("1e21 * 1", 1e21),
    ("'3' - 1", 2),
    ("'3' * '4'", 12),
    ("'1.5' * 2", 3),
    ("'' - 1", -1),
    ("'abc' - 1", NAN),
    ("'3' + 1", "31"),
    ("1 + '3'", "13"),
    ("'a' + 'b'", "ab"),
    ("'a' + null", "a"),
    ("null + 'a'", "a"),
    ("'a' + true", "atrue"),
    ("'v' + 1.5", "v1.5"),
    ("'v' + 1.0", "v1"),
    ("'v' + 0.1 * 3", "v0.3"),
    ("'x' + inputs.list", "x[1,2,3]"),
    ("'x' + inputs.obj.nested", 'x{"deep":42}'),
    ("null + 1", 1),
    ("true + true", 2),
    ("false - 1", -1),
    ("inputs.list + 1", NAN),
    ("-null", 0),
    ("-true", -1),
    ("-'5'", -5),
    ("+'5'", 5),
    ("-inputs.zero", 0),
    ("needs.build.outputs.NUM_WORKERS - 1", 3),
    ("needs.build.outputs.rundir + '/start_service.sh'", "/tmp/run/start_service.sh"),
    ("matrix.worker_id * 10", 20),
    ("inputs.pi * 2", 6.28),
    ("2 * inputs.pi", 6.28),
    ("inputs.one + inputs.two", 3),
    ("inputs.count - 1", 4),
    ("inputs.count -1", 4),
    ("inputs.count-1", 7),
]


@pytest.mark.parametrize("expr, expected", ARITHMETIC)
def test_arithmetic(expr, expected):
    check(expr, expected)


INCLUDES = [
    ("inputs.name includes 'ob'", True),
    ("inputs.name includes 'OB'", True),
    ("inputs.name includes 'x'", False),
    ("inputs.name !includes 'x'", True),
    ("inputs.name !includes 'b'", False),
    ("inputs.list includes 2", True),
    ("inputs.list includes '2'", True),
    ("inputs.list includes 4", False),
    ("inputs.list !includes 4", True),
    ("inputs.list!includes 4", True),
    ("(inputs.list)!includes 1", False),
    ("inputs.words includes 'b'", True),
    ("inputs.obj includes 'key'", True),
    ("inputs.obj includes 'KEY'", True),
    ("inputs.obj includes 'v'", False),
    ("inputs.obj !includes 'nope'", True),
    ("null includes 'a'", False),
    ("inputs.missing !includes 'a'", True),
    ("inputs.emptylist includes null", False),
    ("'abc' includes ''", True),
    ("123 includes 2", True),
    ("inputs.list includes inputs.one", True),
    ("inputs.list includes inputs.list", False),
    ("inputs.name includes inputs.list", False),
    ("inputs.objs.*.name includes 'Y'", True),
    ("'a,b' includes 'a' && true", True),
]


@pytest.mark.parametrize("expr, expected", INCLUDES)
def test_includes(expr, expected):
    check(expr, expected)


GET = [
    ("inputs get 'name'", "Bob"),
    ("inputs get 'NAME'", "Bob"),
    ("inputs get 'obj' get 'nested' get 'deep'", 42),
    ("inputs get 'missing'", None),
    ("inputs get 'missing' get 'x'", None),
    ("inputs get matrix.k", "Bob"),
    ("inputs get (matrix.k)", "Bob"),
    ("inputs.list get 0", 1),
    ("inputs.list get 5", None),
    ("inputs get 'obj' get 'a-b'", "dash"),
    ("(inputs get 'obj').key", "v"),
    ("null get 'a'", None),
    ("inputs.get", None),
    ("inputs get 'list' get 1 + 1", 3),
    ("inputs get 'yes' ? 1 : 2", 1),
]


@pytest.mark.parametrize("expr, expected", GET)
def test_get(expr, expected):
    check(expr, expected)


INDEX_AND_FILTERS = [
    ("inputs.list[0]", 1),
    ("inputs.list[2]", 3),
    ("inputs.list[3]", None),
    ("inputs.list[-1]", None),
    ("inputs.list[1.7]", 2),
    ("inputs.list['1']", 2),
    ("inputs.list[true]", 2),
    ("inputs.list[null]", 1),
    ("inputs.list['x']", None),
    ("inputs.obj['Key']", "v"),
    ("inputs['obj']['nested']['deep']", 42),
    ("inputs[matrix.k]", "Bob"),
    ("inputs[inputs.list]", None),
    ("inputs.name[0]", None),
    ("inputs.list.x", None),
    ("inputs.nothing.x", None),
    ("inputs.missing.x.y.z", None),
    ("inputs.objs[1].name", "y"),
    ("inputs.objs.*.name", ["x", "y"]),
    ("inputs.objs[*].name", ["x", "y"]),
    ("inputs.objs[ * ].name", ["x", "y"]),
    ("inputs.objs.*.v", [1, 2]),
    ("inputs.objs.*.missing", []),
    ("inputs.list.*", [1, 2, 3]),
    ("inputs.obj.*", ["v", {"deep": 42}, "dash"]),
    ("inputs.dict_of_dicts.*.id", [1, 2]),
    ("inputs.nested_lists.*[0]", [1, 3]),
    ("inputs.nested_lists.*.*", [1, 2, 3, 4]),
    ("inputs.objs.*.*", ["x", 1, "y", 2, 3]),
    ("inputs.objs.*.name[0]", []),
    ("inputs.name.*", []),
    ("inputs.missing.*.x", []),
    ("contains(inputs.objs.*.name, 'y')", True),
    ("join(inputs.objs.*.name, '+')", "x+y"),
    ("toJSON(inputs.objs.*.v)", "[\n  1,\n  2\n]"),
    ("fromJSON(inputs.json).a[1]", 2),
]


@pytest.mark.parametrize("expr, expected", INDEX_AND_FILTERS)
def test_index_and_object_filters(expr, expected):
    check(expr, expected)


FUNCTIONS = [
    # contains
    ("contains('Hello', 'ell')", True),
    ("contains('Hello', 'ELL')", True),
    ("contains('Hello', 'x')", False),
    ("contains('Hello', '')", True),
    ("contains(inputs.list, 2)", True),
    ("contains(inputs.list, '2')", True),
    ("contains(inputs.list, 5)", False),
    ("contains(inputs.words, 'b')", True),
    ("contains(inputs.emptylist, 1)", False),
    ("contains(inputs.obj, 'key')", False),
    ("contains(123, 2)", True),
    ("contains(true, 'RU')", True),
    ("contains(null, '')", True),
    ("contains('abc', inputs.list)", False),
    ("contains(inputs.list, inputs.list)", False),
    # startsWith / endsWith
    ("startsWith('Hello', 'he')", True),
    ("startsWith('Hello', 'lo')", False),
    ("endsWith('Hello', 'LO')", True),
    ("endsWith('Hello', 'he')", False),
    ("startsWith(123, 1)", True),
    ("endsWith(1.5, 5)", True),
    ("endsWith(true, 'ue')", True),
    ("startsWith(null, '')", True),
    ("startsWith(inputs.list, '[')", False),
    ("startsWith('abc', inputs.list)", False),
    # format
    ("format('{0}', 'a')", "a"),
    ("format('{0} {1}', 'a', 'b')", "a b"),
    ("format('{1}{0}', 'a', 'b')", "ba"),
    ("format('{0}{0}', 'x')", "xx"),
    ("format('{{0}}', 'x')", "{0}"),
    ("format('{{{0}}}', 'x')", "{x}"),
    ("format('}}{{')", "}{"),
    ("format('plain')", "plain"),
    ("format('{0}', null)", ""),
    ("format('{0}', true)", "true"),
    ("format('{0}', 1.50)", "1.5"),
    ("format('{0}', inputs.list)", "[1,2,3]"),
    ("format('{0}-{1}', matrix.os, matrix.worker_id)", "linux-2"),
    ("format(1)", "1"),
    ("format('{0}', 'it''s')", "it's"),
    ("format('{10}', 0,1,2,3,4,5,6,7,8,9,'ten')", "ten"),
    # join
    ("join(inputs.list)", "1,2,3"),
    ("join(inputs.list, ' ')", "1 2 3"),
    ("join(inputs.words, '')", "aBc"),
    ("join('abc', '-')", "abc"),
    ("join(null)", ""),
    ("join(1.5)", "1.5"),
    ("join(inputs.obj)", ""),
    ("join(inputs.emptylist)", ""),
    ("join(inputs.list, null)", "123"),
    ("join(inputs.list, inputs.list)", "1,2,3"),
    ("join(inputs.nested_lists)", "[1,2],[3,4],5"),
    # toJSON
    ("toJSON(null)", "null"),
    ("toJSON(1)", "1"),
    ("toJSON(1.5)", "1.5"),
    ("toJSON(2.0)", "2"),
    ("toJSON('a')", '"a"'),
    ("toJSON('ü')", '"ü"'),
    ("toJSON(true)", "true"),
    ("toJSON(NaN)", "null"),
    ("toJSON(inputs.emptylist)", "[]"),
    ("toJSON(inputs.emptyobj)", "{}"),
    ("toJSON(inputs.obj.nested)", '{\n  "deep": 42\n}'),
    ("toJSON(inputs.list)", "[\n  1,\n  2,\n  3\n]"),
    # fromJSON
    ("fromJSON('1')", 1),
    ("fromJSON('1.5')", 1.5),
    ("fromJSON('1e2')", 100.0),
    ("fromJSON('true')", True),
    ("fromJSON('null')", None),
    ("fromJSON('\"s\"')", "s"),
    ("fromJSON(' [] ')", []),
    ("fromJSON('[1, 2]')", [1, 2]),
    ("fromJSON('[1,2]')[1]", 2),
    ("fromJSON('{\"a\": {\"b\": 2}}').a.b", 2),
    ("fromJSON('{\"A\": 1}').a", 1),
    ("fromJSON(toJSON(inputs.obj.nested)).deep", 42),
    ("fromJSON(1)", 1),
    ("fromJSON(inputs.json)", {"a": [1, 2]}),
]


@pytest.mark.parametrize("expr, expected", FUNCTIONS)
def test_functions(expr, expected):
    check(expr, expected)


NAMES = [
    ("inputs.count-1", 7),
    ("inputs.count - 1", 4),
    ("inputs.count-1 - 1", 6),
    ("inputs.count-1-1", None),
    ("inputs.obj.a-b", "dash"),
    ("inputs.obj.a-b-c", None),
    ("needs.build-container.outputs.image", "img:1"),
    ("needs['build-container'].outputs.image", "img:1"),
    ("inputs._private", None),
    ("inputs.advanced_settings.localport", 8080),
    ("inputs.includes", None),
    ("inputs.true", None),
    ("inputs.null", None),
]


@pytest.mark.parametrize("expr, expected", NAMES)
def test_names_with_dashes_and_keywords_as_properties(expr, expected):
    check(expr, expected)


SELF_RELATIVE = [
    (".hidden", True),
    (".HIDDEN", True),
    (".type", "string"),
    (".missing", None),
    (". hidden", True),
    ("!.hidden", False),
    (".hidden && inputs.one", 1),
    ("inputs.name == 'Bob' && .hidden", True),
    ("(.type)", "string"),
    (".hidden ? 1 : 2", 1),
    ("- .5 + .5", 0),
]


@pytest.mark.parametrize("expr, expected", SELF_RELATIVE)
def test_self_relative_names(expr, expected):
    check(expr, expected)


CONTEXTS = [
    ("env.HOME", "/home/u"),
    ("org.HF_TOKEN", "tok"),
    ("steps.s1.outputs.o", "v"),
    ("sessions.session", "sess-1"),
    ("matrix.worker_id", 2),
    ("github", None),
    ("github.event.name", None),
    ("vars.x", None),
    ("secrets.X", None),
    ("job.status", None),
    ("runner.os", None),
    ("strategy", None),
]


@pytest.mark.parametrize("expr, expected", CONTEXTS)
def test_contexts_known_but_absent_are_null(expr, expected):
    check(expr, expected)


def test_single_expression_returns_the_context_object_itself():
    assert ev("inputs") is VALUES["inputs"]
    assert ev("inputs.list") is VALUES["inputs"]["list"]


def test_self_relative_without_self_is_null():
    assert ev(".hidden", values={"inputs": {}}) is None


def test_filter_result_is_a_plain_list():
    assert type(ev("inputs.objs.*.name")) is list
