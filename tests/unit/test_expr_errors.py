"""Error messages and their positions in the user's file: ``(text, message, (line, col))``."""

from __future__ import annotations

import pytest

from workflow_runner.errors import Location, ScalarOrigin, WorkflowError
from workflow_runner.expressions import Context, ExpressionError, Template, compile_string

FLOW = ScalarOrigin("wf.yaml", 5, 10)  # a plain scalar starting at line 5, column 10
BLOCK = ScalarOrigin("wf.yaml", 3, 7, block_indent=4)  # `run: |` at 3:7, body indented by 4
QUOTED = ScalarOrigin("wf.yaml", 2, 8, quoted=True)
DEEP_PARENS = "${{ " + "(" * 41 + "1" + ")" * 41 + " }}"
DEEP_NOTS = "${{ " + "!" * 45 + "true }}"
LONG_CHAIN = "${{ " + " + ".join(["1"] * 102) + " }}"

COMPILE_ERRORS_FLOW = [
    ("${{ (inputs.a }}", "expected ')' but got end of expression", (5, 23)),
    ("${{ inputs.a @ 1 }}", "unexpected character '@'", (5, 23)),
    ("${{ 'abc }}", "unterminated string", (5, 14)),
    ("${{ 'a' }} ${{ 'b }}", "unterminated string", (5, 25)),
    ("x ${{ inputs.a", "unterminated expression: missing '}}'", (5, 12)),
    ("$<< inputs.a", "unterminated expression: missing '>>'", (5, 10)),
    ("${{ foo(1) }}", "unknown function 'foo'", (5, 14)),
    ("${{ hashFiles('x') }}", "unknown function 'hashFiles'", (5, 14)),
    ("${{ contain('a', 'b') }}", "unknown function 'contain' (did you mean 'contains'?)", (5, 14)),
    ("${{ contains(1) }}", "function 'contains' takes 2 arguments, got 1", (5, 14)),
    ("${{ contains(1, 2, 3) }}", "function 'contains' takes 2 arguments, got 3", (5, 14)),
    ("${{ startsWith() }}", "function 'startsWith' takes 2 arguments, got 0", (5, 14)),
    ("${{ join() }}", "function 'join' takes 1 to 2 arguments, got 0", (5, 14)),
    ("${{ toJSON() }}", "function 'toJSON' takes 1 argument, got 0", (5, 14)),
    ("${{ fromjson(1, 2) }}", "function 'fromJSON' takes 1 argument, got 2", (5, 14)),
    ("${{ format() }}", "function 'format' takes at least 1 argument, got 0", (5, 14)),
    ("${{ always(1) }}", "function 'always' takes 0 arguments, got 1", (5, 14)),
    ("${{ foo }}", "unknown context 'foo'", (5, 14)),
    ("${{ input.x }}", "unknown context 'input' (did you mean 'inputs'?)", (5, 14)),
    ("${{ neds.x }}", "unknown context 'neds' (did you mean 'needs'?)", (5, 14)),
    ("${{ True }}", "unknown context 'True' (did you mean 'true'?)", (5, 14)),
    ("${{ eror }}", "unknown context 'eror' (did you mean 'error'?)", (5, 14)),
    ("${{ !includes }}", "unknown context 'includes'", (5, 15)),
    ("${{ }}", "empty expression", (5, 10)),
    ("a $<<  >> b", "empty expression", (5, 12)),
    ("${{ inputs.a inputs.b }}", "unexpected 'inputs'", (5, 23)),
    ("${{ true() }}", "unexpected '('", (5, 18)),
    ("${{ 1 0x10 }}", "unexpected '0x10'", (5, 16)),
    ("${{ inputs.count- 1 }}", "unexpected '1'", (5, 28)),
    ("${{ inputs.a = 1 }}", "unexpected character '=' (did you mean '=='?)", (5, 23)),
    ("${{ inputs.a & inputs.b }}", "unexpected character '&' (did you mean '&&'?)", (5, 23)),
    ("${{ inputs.a | inputs.b }}", "unexpected character '|' (did you mean '||'?)", (5, 23)),
    ('${{ "x" }}', "unexpected character '\"' (strings use single quotes)", (5, 14)),
    ("${{ inputs.a ${{ x }} }}", "unexpected character '$'", (5, 23)),
    ("${{ inputs. }}", "expected a property name after '.' but got end of expression", (5, 21)),
    ("${{ inputs.1 }}", "expected a property name after '.' but got '1'", (5, 21)),
    ("${{ 1abc }}", "invalid number '1abc'", (5, 14)),
    ("${{ 1.2.3 }}", "invalid number '1.2.3'", (5, 14)),
    ("${{ 1 + }}", "expected a value but got end of expression", (5, 17)),
    ("${{ ) }}", "expected a value but got ')'", (5, 14)),
    ("${{ [1] }}", "expected a value but got '['", (5, 14)),
    ("${{ inputs[*.x] }}", "expected a value but got '*'", (5, 21)),
    ("${{ inputs.a !includes }}", "expected a value but got end of expression", (5, 32)),
    ("${{ inputs get }}", "expected a value but got end of expression", (5, 24)),
    ("${{ 1 ? 2 }}", "expected ':' but got end of expression", (5, 19)),
    ("${{ contains(1 2) }}", "expected ',' or ')' but got '2'", (5, 25)),
    ("${{ inputs[1 }}", "expected ']' but got end of expression", (5, 22)),
    (DEEP_PARENS, "expression is nested too deeply (more than 40 levels)", (5, 54)),
    (DEEP_NOTS, "expression is nested too deeply (more than 40 levels)", (5, 54)),
    (LONG_CHAIN, "expression is nested too deeply (more than 100 levels)", (5, 14)),
]


@pytest.mark.parametrize("text, message, position", COMPILE_ERRORS_FLOW)
def test_compile_errors_in_a_flow_scalar(text, message, position):
    with pytest.raises(ExpressionError) as info:
        compile_string(text, origin=FLOW)
    assert info.value.message == message
    assert info.value.location == Location("wf.yaml", *position)


COMPILE_ERRORS_OTHER_SCALARS = [
    ("echo start\nrun ${{ foo() }}\n", BLOCK, "unknown function 'foo'", (5, 13)),
    ("${{ inputs.a\n  && }}", BLOCK, "expected a value but got end of expression", (5, 9)),
    ("line1\nline2 ${{ 'abc }}\n", BLOCK, "unterminated string", (5, 15)),
    ("a\nb\n${{ }}", BLOCK, "empty expression", (6, 5)),
    ("x\n  ${{ inputs.a", BLOCK, "unterminated expression: missing '}}'", (5, 7)),
    ("${{ inputs.a @ }}", BLOCK, "unexpected character '@'", (4, 18)),
    ("${{ foo() }}", QUOTED, "unknown function 'foo'", (2, 13)),
    ("a\n${{ foo }}", FLOW, "unknown context 'foo'", (6, 5)),
]


@pytest.mark.parametrize("text, origin, message, position", COMPILE_ERRORS_OTHER_SCALARS)
def test_compile_errors_in_block_quoted_and_multiline_scalars(text, origin, message, position):
    with pytest.raises(ExpressionError) as info:
        compile_string(text, origin=origin)
    assert info.value.message == message
    assert info.value.location == Location("wf.yaml", *position)


RUNTIME_ERRORS = [
    ("${{ error }}", "status keyword 'error' can only be used in an if: condition", (5, 14)),
    ("${{ success() }}", "status function 'success()' can only be used in an if: condition", (5, 14)),
    ("x ${{ fromJSON('{') }}", "fromJSON: invalid JSON (Expecting property name enclosed in double quotes at position 1)", (5, 16)),
    ("${{ fromJSON('') }}", "fromJSON: invalid JSON (empty string)", (5, 14)),
    ("${{ fromJSON(inputs.missing) }}", "fromJSON: invalid JSON (empty string)", (5, 14)),
    ("${{ fromJSON('NaN') }}", "fromJSON: invalid JSON (NaN is not valid JSON)", (5, 14)),
    ("${{ inputs.a && fromJSON(inputs.b) }}", "fromJSON: invalid JSON (Expecting value at position 0)", (5, 26)),
    ("${{ format('{1}', 'a') }}", "format: placeholder '{1}' has no value (only 1 value given)", (5, 14)),
    ("${{ format('{0}') }}", "format: placeholder '{0}' has no value (only 0 values given)", (5, 14)),
    ("${{ format('{', 1) }}", "format: unmatched '{' in '{'", (5, 14)),
    ("${{ format('a}b') }}", "format: unmatched '}' in 'a}b'", (5, 14)),
    ("${{ format('{x}', 1) }}", "format: invalid placeholder '{x}' (use {0}, {1}, …)", (5, 14)),
    ("${{ format('{ 0}', 1) }}", "format: invalid placeholder '{ 0}' (use {0}, {1}, …)", (5, 14)),
]


@pytest.mark.parametrize("text, message, position", RUNTIME_ERRORS)
def test_runtime_errors_are_located_at_the_expression(text, message, position):
    template = compile_string(text, origin=FLOW)
    assert isinstance(template, Template)
    with pytest.raises(ExpressionError) as info:
        template.evaluate(Context({"inputs": {"a": 1, "b": "x"}}))
    assert info.value.message == message
    assert info.value.location == Location("wf.yaml", *position)


def test_error_renders_as_file_line_col_message():
    with pytest.raises(WorkflowError) as info:
        compile_string("${{ foo() }}", origin=FLOW)
    assert str(info.value) == "wf.yaml:5:14: unknown function 'foo'"


def test_error_without_origin_has_no_location():
    with pytest.raises(ExpressionError) as info:
        compile_string("${{ foo() }}")
    assert info.value.location is None
    with pytest.raises(ExpressionError) as info:
        compile_string("${{ error }}").evaluate(Context({}))
    assert info.value.location is None and str(info.value).startswith("status keyword")


def test_deep_nesting_inside_a_deep_call_stack_is_still_an_expression_error():
    def nest(n):
        if n:
            return nest(n - 1)
        return compile_string("${{ " + "format(" * 40 + "1" + ")" * 40 + " }}")

    with pytest.raises(ExpressionError, match="nested too deeply"):
        nest(900)
