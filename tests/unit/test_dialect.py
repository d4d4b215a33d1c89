"""The platform's expression dialect (DESIGN.md §3), as workflow files are compiled, and its limits.

The expression API stays GitHub-exact by default (test_expr_*.py); workflow
files are compiled with ``dialect=PLATFORM``.
"""

from __future__ import annotations

import json
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_runner.cli import main
from workflow_runner.errors import ScalarOrigin
from workflow_runner.expressions import GITHUB, PLATFORM, Context, ExpressionError, compile_condition, compile_string

FLOW = ScalarOrigin("wf.yaml", 5, 10)
VALUES = {"inputs": {"pvc": "Existing", "gpu": "None", "fmt": "yaml", "n": 1, "workers": [{"ip": "a"}, {"ip": "b"}]}}


def platform(text: str, values: dict | None = None, **ctx) -> object:
    template = compile_string(text, origin=FLOW, dialect=PLATFORM)
    return template.evaluate(Context({**(values or VALUES), **ctx}))


@pytest.mark.parametrize("text, expected", [
    ("${{ inputs.pvc != Existing }}", False),
    ("${{ inputs.pvc == Existing }}", True),
    ("${{ inputs.pvc == existing }}", True),  # compared as '==' compares strings: ignoring case
    ("${{ inputs.gpu == None }}", True),
    ("${{ inputs.fmt != yaml }}", False),
    ("${{ New }}", "New"),
    ("${{ inputs.pvc == New ? 'make' : 'reuse' }}", "reuse"),
    ("${{ inputs.workers get 0 get ip }}", "a"),
    ("${{ contains(inputs.pvc, Exist) }}", True),
])
def test_a_bare_word_is_its_own_name_as_a_string(text, expected):
    assert platform(text) == expected


@pytest.mark.parametrize("text, message", [
    ("${{ inptus.x }}", "unknown context 'inptus' (did you mean 'inputs'?)"),
    ("${{ New.x }}", "unknown context 'New'"),
    ("${{ New[0] }}", "unknown context 'New'"),
    ("${{ True }}", "unknown context 'True' (did you mean 'true'?)"),
    ("${{ inputs.a == NULL }}", "unknown context 'NULL'"),
    ("${{ Existing() }}", "unknown function 'Existing'"),
])
def test_what_stays_an_error_in_the_platform_dialect(text, message):
    with pytest.raises(ExpressionError) as info:
        compile_string(text, origin=FLOW, dialect=PLATFORM)
    assert info.value.message.startswith(message)


@pytest.mark.parametrize("text", ["${{ inputs.pvc != Existing }}", '${{ "x" }}', "${{ 1 === 1 }}", "${{ inputs.w.[index] }}"])
def test_the_github_dialect_is_unchanged(text):
    with pytest.raises(ExpressionError):
        compile_string(text, origin=FLOW, dialect=GITHUB)
    with pytest.raises(ExpressionError):
        compile_string(text, origin=FLOW)  # the default


@pytest.mark.parametrize("text, expected", [
    ("${{ 1 === 1 }}", True),
    ("${{ 1 == '1' }}", True),
    ("${{ 1 === '1' }}", False),
    ("${{ 1 !== '1' }}", True),
    ("${{ null == false }}", True),  # GitHub: null and false both coerce to 0
    ("${{ null === false }}", False),
    ("${{ 0 == false }}", True),
    ("${{ 0 === false }}", False),
    ("${{ 'abc' === 'ABC' }}", True),  # only coercion differs from '=='
    ("${{ inputs.n === 1 }}", True),
    ("${{ inputs.missing === null }}", True),
    ("${{ inputs.pvc !== 'Existing' || false }}", False),
    ("${{ 1 === 1 == true }}", True),  # same precedence as '==', left-associative
])
def test_strict_equality_is_equality_without_coercion(text, expected):
    assert platform(text) is expected


@pytest.mark.parametrize("text, expected", [
    ('${{ "source ~/pw/activate" }}', "source ~/pw/activate"),
    ('${{ inputs.fmt == "YAML" }}', True),
    ('${{ "say ""hi""" }}', 'say "hi"'),
    ('${{ "it\'s }}" }}', "it's }}"),
    ("${{ '\"' }}", '"'),
    ('x ${{ org.TOKEN == "" }} y', "x true y"),
])
def test_double_quoted_strings(text, expected):
    assert platform(text) == expected


def test_an_unterminated_double_quoted_string_is_located():
    with pytest.raises(ExpressionError) as info:
        compile_string('${{ "abc }}', origin=FLOW, dialect=PLATFORM)
    assert info.value.message == "unterminated string"
    assert (info.value.location.line, info.value.location.col) == (5, 14)


def test_list_item_reference_reads_the_entry_being_resolved():
    text = "${{ inputs.workers.[index].ip }}"
    assert platform(text, index=1) == "b"
    assert platform(text, index=0) == "a"
    assert platform(text) is None  # outside a list template: no entry


def test_conditions_use_the_dialect_too():
    template = compile_condition("inputs.pvc != New", origin=FLOW, dialect=PLATFORM)
    assert template.evaluate(Context(VALUES)) is True


def test_bare_words_are_listed_with_their_place():
    template = compile_string("${{ inputs.a == New || inputs.b == Old || inputs.x get key }}", origin=FLOW, dialect=PLATFORM)
    assert [(w, loc.col) for w, loc in template.bare_words()] == [("New", 26), ("Old", 45)]  # not 'key': a get key


WORKFLOW = """\
'on':
  execute:
    inputs:
      pvc:
        type: dropdown
        default: New
        options: [New, Existing]
      name:
        type: string
        default: data
        hidden: ${{ inputs.pvc != Existing }}
        ignore: ${{ .hidden }}
jobs:
  a:
    steps:
      - run: echo ${{ inputs.pvc == New && "new" || "old" }} ${{ inputs.pvc === 'New' }}
        if: ${{ inputs.pvc != Existing }}
"""


def test_a_platform_workflow_validates_with_a_hint_per_bare_word(write, wfrun):
    path = write("wf.yaml", WORKFLOW)
    result = wfrun("validate", "--strict", path)
    assert result.code == 0, result.err
    hints = [line for line in result.err.splitlines() if line.startswith("hint:")]
    assert hints == [
        f"hint: {path}:11:35: bare word 'Existing' is read as the string 'Existing' (and 1 more); quote it ('Existing') to say so",
        f"hint: {path}:16:37: bare word 'New' is read as the string 'New'; quote it ('New') to say so",
    ]
    assert "warning" not in result.err


def test_a_bare_word_that_looks_like_a_typo_is_a_warning(write, wfrun):
    path = write("wf.yaml", "jobs:\n  a:\n    if: eror\n    steps:\n      - run: 'true'\n")
    result = wfrun("validate", path)
    assert result.code == 0
    assert f"warning: {path}:3:9: bare word 'eror' is read as the string 'eror' (did you mean 'error'?)" in result.err
    assert wfrun("validate", "--strict", path).code == 2


def test_a_platform_workflow_runs_with_the_dialect(write, wfrun):
    path = write("wf.yaml", WORKFLOW)
    result = wfrun("run", path)
    assert result.code == 0, result.err
    result = wfrun("inputs", path, "--set", "pvc=Existing")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"pvc": "Existing", "name": "data"}
    result = wfrun("inputs", path)
    assert json.loads(result.out) == {"pvc": "New"}


SIBLINGS = """\
'on':
  execute:
    inputs:
      mode:
        type: string
        default: a
      x:
        type: string
        hidden: ${{ .ignore }}
        ignore: ${{ inputs.mode != 'b' }}
        optional: ${{ .hidden }}
      y:
        type: string
        optional: ${{ .hidden }}
        hidden: ${{ inputs.mode == 'a' }}
      z:
        type: string
        hidden: ${{ .optional }}
        optional: ${{ .hidden }}
        default: z
jobs:
  a:
    steps:
      - run: 'true'
"""


def test_sibling_attributes_in_any_order(write, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("WFRUN_CONFIG", str(tmp_path / "none.yaml"))
    path = write("wf.yaml", SIBLINGS)
    assert main(["inputs", str(path)]) == 0  # x ignored, y hidden so optional: nothing required
    assert json.loads(capsys.readouterr().out) == {"mode": "a", "y": None, "z": "z"}
    assert main(["inputs", str(path), "--set", "mode=b"]) == 2  # x shown and required, y shown and required
    err = capsys.readouterr().err
    assert "input 'x' is required" in err and "input 'y' is required" in err


LIST = """\
'on':
  execute:
    inputs:
      workers:
        type: list
        template:
          resource:
            type: compute-clusters
          scheduler:
            type: boolean
            default: ${{ inputs.workers.[index].resource.schedulerType != '' }}
            hidden: ${{ inputs.workers.[index].resource.schedulerType == '' }}
            ignore: ${{ .hidden }}
          slurm:
            type: group
            hidden: ${{ inputs.workers.[index].resource.schedulerType != 'slurm' || inputs.workers.[index].scheduler == false }}
            ignore: ${{ .hidden }}
            items:
              partition:
                type: slurm-partitions
                resource: ${{ inputs.workers.[index].resource }}
              time:
                type: string
                default: '01:00:00'
                prefillDefault: 'true'
          label:
            type: string
            default: ${{ 'worker on ' + inputs.workers.[index].resource.name }}
            optional: ${{ inputs.workers.[index].scheduler }}
jobs:
  a:
    steps:
      - run: 'true'
"""


def test_list_template_references_read_the_same_entry(write, capsys, monkeypatch, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("clusters:\n  hpc: {ip: login.example.org, user: u, schedulerType: slurm}\n")
    monkeypatch.setenv("WFRUN_CONFIG", str(config))
    path = write("wf.yaml", LIST)
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"workers": [{"resource": "local"}, {"resource": "hpc", "slurm": {"partition": "debug"}}]}))
    assert main(["inputs", str(path), "--inputs", str(values)]) == 0, capsys.readouterr().err
    local, hpc = json.loads(capsys.readouterr().out)["workers"]
    assert "scheduler" not in local and "slurm" not in local  # hidden, so ignored: this entry has no scheduler
    assert local["label"] == "worker on local"
    assert hpc["scheduler"] is True
    assert hpc["slurm"] == {"partition": "debug", "time": "01:00:00"}
    assert hpc["label"] == "worker on hpc"


def test_a_required_field_of_a_list_entry_is_reported_with_its_index(write, capsys, monkeypatch, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("clusters:\n  hpc: {ip: login.example.org, user: u, schedulerType: slurm}\n")
    monkeypatch.setenv("WFRUN_CONFIG", str(config))
    path = write("wf.yaml", LIST)
    assert main(["inputs", str(path), "--set", 'workers=[{"resource": "local"}, {"resource": "hpc"}]']) == 2
    err = capsys.readouterr().err
    assert "input 'workers.1.slurm.partition' is required but has no value" in err
    assert "workers.0" not in err


# -- fuzz: the dialect's extra syntax never escapes as anything but a value or an ExpressionError --------

DIALECT_TOKENS = [
    "inputs", "workers", "a", "New", "None", "yaml", "index", ".", "[", "]", "(", ")", "\"x\"", "\"\"", "\"", "'y'",
    "===", "!==", "==", "!=", "=", "!", "&&", "||", "?", ":", "get", "includes", "1", "null", "True", "true", ".hidden",
    ".[", "[index]", "contains(", ",", " ", "}}", "${{",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(DIALECT_TOKENS), max_size=20), st.sampled_from([None, 0, 1, 5]))
def test_dialect_token_soup(tokens, index):
    text = "${{ " + " ".join(tokens) + " }}"
    try:
        template = compile_string(text, origin=FLOW, dialect=PLATFORM)
    except ExpressionError as e:
        assert e.message and e.location is not None
        return
    if isinstance(template, str):
        return
    template.references()
    template.bare_words()
    try:
        template.evaluate(Context({**VALUES, ".": {"hidden": True}, "index": index}))
    except ExpressionError as e:
        assert e.message and e.location is not None
