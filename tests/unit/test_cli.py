"""The ``wfrun`` command line: help, exit codes, and the commands that run nothing (validate, inputs,
graph, schema, actions). A few checks run the real CLI in a subprocess (the ``wfrun`` fixture);
the rest call ``cli.main`` in-process and read stdout/stderr with capsys.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from workflow_runner import __version__, cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "activate"

EXAMPLE_FILES = sorted(EXAMPLES.rglob("*.yaml"))
REFERENCE_FILES = sorted(REFERENCE.glob("*.yaml")) if REFERENCE.is_dir() else []

SECRET_WF = """\
name: secret
jobs:
  a:
    steps:
      - run: echo ${{ inputs.who }}
'on':
  execute:
    inputs:
      who: {type: string}
      token: {type: password, default: hunter2hunter2}
      n: {type: integer, default: 1, max: 10}
      extra: {type: string, default: x, ignore: true}
"""
SECRET_WHO_LINE = 9  # line of 'who:' in SECRET_WF (column 7)

WARN_WF = """\
jobs:
  a:
    steps:
      - run: echo ${{ inputs.nope }}
"""


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """In-process runs get their own WFRUN_HOME, no user config, no extra marketplace."""
    monkeypatch.setenv("WFRUN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WFRUN_CONFIG", str(tmp_path / "no-config.yaml"))
    monkeypatch.delenv("WFRUN_MARKETPLACE_PATH", raising=False)


def run(capsys, *args) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def exits(capsys, *args) -> tuple[int, str, str]:
    """For argparse paths that end with SystemExit (--help, --version, usage errors)."""
    with pytest.raises(SystemExit) as excinfo:
        cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return excinfo.value.code, out, err


# ---------------------------------------------------------------- help, version, usage


def test_version_subprocess(wfrun):
    result = wfrun("--version")
    assert result.code == 0, result.err
    assert result.out.strip() == f"wfrun {__version__}"


def test_help_lists_commands_and_exit_codes(capsys):
    code, out, _ = exits(capsys, "--help")
    assert code == 0
    assert out.startswith("usage: wfrun")
    for word in ("run", "validate", "inputs", "graph", "schema", "actions", "--version",
                 "exit codes: 0 completed, 1 a job failed, 2 invalid input or usage, 130 interrupted, 143 terminated"):
        assert word in out


@pytest.mark.parametrize(
    "command, options",
    [
        ("run", ["--inputs", "--set", "--config", "--max-parallel", "--grace", "--quiet", "--json", "--no-live",
                 "--known-hosts", "--identity", "--insecure-no-host-key-check", "workflow"]),
        ("validate", ["--strict", "FILE"]),
        ("inputs", ["--inputs", "--set", "--config", "workflow"]),
        ("graph", ["--format", "text", "mermaid", "dot", "workflow"]),
        ("schema", ["--action"]),
        ("actions", ["SLUG/VERSION"]),
    ],
)
def test_subcommand_help(capsys, command, options):
    code, out, _ = exits(capsys, command, "--help")
    assert code == 0
    assert out.startswith(f"usage: wfrun {command}")
    for option in options:
        assert option in out, f"'{option}' missing from 'wfrun {command} --help'"


def test_no_arguments_prints_usage_and_exits_2(wfrun):
    result = wfrun()
    assert result.code == 2
    assert "usage: wfrun" in result.out + result.err
    assert "Traceback" not in result.err


def test_unknown_option_is_a_usage_error(capsys):
    code, _, err = exits(capsys, "validate", "--bogus", "x.yaml")
    assert code == 2
    assert "unrecognized arguments: --bogus" in err


def test_bad_graph_format_is_a_usage_error(capsys):
    code, _, err = exits(capsys, "graph", EXAMPLES / "hello.yaml", "--format", "png")
    assert code == 2
    assert "invalid choice: 'png'" in err


# ---------------------------------------------------------------- schema


@pytest.mark.parametrize("extra, title", [((), "wfrun workflow"), (("--action",), "wfrun action definition")])
def test_schema_is_json_schema_2020_12(capsys, extra, title):
    import jsonschema

    code, out, _ = run(capsys, "schema", *extra)
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == title
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_accepts_the_examples(capsys):
    import jsonschema

    from workflow_runner.loader import load_file

    code, out, _ = run(capsys, "schema")
    validator = jsonschema.Draft202012Validator(json.loads(out))
    for path in EXAMPLE_FILES:
        tree = json.loads(json.dumps(load_file(path)))
        errors = [e.message for e in validator.iter_errors(tree)]
        assert errors == [], f"{path}: {errors}"


# ---------------------------------------------------------------- graph


FAN = EXAMPLES / "fan-out-fan-in.yaml"
FAN_EDGES = [("prepare", "count-words"), ("prepare", "count-lines"), ("prepare", "checksum"),
             ("count-words", "gather"), ("count-lines", "gather"), ("checksum", "gather")]


def test_graph_text(capsys):
    code, out, _ = run(capsys, "graph", FAN)
    assert code == 0
    assert out.splitlines() == [
        "prepare",
        "count-words  <- prepare",
        "count-lines  <- prepare",
        "checksum  <- prepare",
        "gather  <- count-words, count-lines, checksum",
    ]


def test_graph_text_marks_matrix_jobs(capsys):
    code, out, _ = run(capsys, "graph", EXAMPLES / "matrix.yaml")
    assert code == 0
    assert out.splitlines() == ["train [matrix]", "summary  <- train"]


def test_graph_mermaid(capsys):
    code, out, _ = run(capsys, "graph", FAN, "--format", "mermaid")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "graph TD"
    assert '  j_count_words["count-words"]' in lines
    ident = {"prepare": "j_prepare", "count-words": "j_count_words", "count-lines": "j_count_lines",
             "checksum": "j_checksum", "gather": "j_gather"}
    edges = [line.strip() for line in lines if "-->" in line]
    assert sorted(edges) == sorted(f"{ident[a]} --> {ident[b]}" for a, b in FAN_EDGES)


def test_graph_dot(capsys):
    code, out, _ = run(capsys, "graph", FAN, "--format", "dot")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "digraph workflow {" and lines[-1] == "}"
    assert '  "gather";' in lines
    edges = [line.strip() for line in lines if "->" in line]
    assert sorted(edges) == sorted(f'"{a}" -> "{b}";' for a, b in FAN_EDGES)


def test_graph_mermaid_keeps_similar_job_names_apart(capsys, write):
    # 'a-b' and 'a_b' are two jobs; their mermaid ids must differ or the graph merges them
    path = write("similar.yaml", """\
jobs:
  a-b:
    steps: [{run: echo}]
  a_b:
    needs: [a-b]
    steps: [{run: echo}]
""")
    code, out, _ = run(capsys, "graph", path, "--format", "mermaid")
    assert code == 0
    assert out.splitlines() == ["graph TD", '  j_a_b["a-b"]', '  j_a_b_2["a_b"]', "  j_a_b --> j_a_b_2"]


def test_graph_of_an_invalid_workflow_exits_2(capsys, write):
    path = write("cycle.yaml", "jobs:\n  a:\n    needs: [b]\n    steps: [{run: echo}]\n  b:\n    needs: [a]\n    steps: [{run: echo}]\n")
    code, out, err = run(capsys, "graph", path)
    assert code == 2
    assert out == ""
    assert "cycle" in err and "Traceback" not in err


# ---------------------------------------------------------------- inputs


def test_inputs_prints_json_subprocess(wfrun):
    result = wfrun("inputs", EXAMPLES / "hello.yaml", "--set", "name=x")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"name": "x"}


def test_inputs_defaults(capsys):
    code, out, _ = run(capsys, "inputs", FAN)
    assert code == 0
    assert json.loads(out) == {"chunks": 3}


def test_inputs_masks_passwords(capsys, write):
    path = write("secret.yaml", SECRET_WF)
    code, out, err = run(capsys, "inputs", path, "--set", "who=someone-hunter2hunter2")
    assert code == 0, err
    assert json.loads(out) == {"who": "someone-***", "token": "***", "n": 1}
    assert "hunter2hunter2" not in out + err
    assert "# ignored: extra" in err


def test_inputs_password_from_set_is_masked(capsys, write):
    path = write("secret.yaml", SECRET_WF)
    code, out, err = run(capsys, "inputs", path, "--set", "who=x", "--set", "token=pa55word!")
    assert code == 0, err
    assert json.loads(out)["token"] == "***"
    assert "pa55word!" not in out + err


def test_inputs_file_config_and_set_layers(capsys, write, tmp_path):
    path = write("layers.yaml", SECRET_WF + "configurations:\n  big: {n: 9, who: cfg}\n")
    values = write("in.yaml", "n: 5\n")
    code, out, err = run(capsys, "inputs", path, "--config", "big", "--inputs", values)
    assert code == 0, err
    assert json.loads(out)["n"] == 5 and json.loads(out)["who"] == "cfg"
    code, out, err = run(capsys, "inputs", path, "--config", "big", "--inputs", values, "--set", "n=7")
    assert json.loads(out)["n"] == 7


def test_inputs_unknown_key_is_an_error(capsys, write):
    path = write("secret.yaml", SECRET_WF)
    code, out, err = run(capsys, "inputs", path, "--set", "who=x", "--set", "wh0=y")
    assert code == 2
    assert out == ""
    assert err.splitlines() == ["wfrun: --set: unknown input 'wh0' (did you mean 'who'?)"]


@pytest.mark.parametrize(
    "args, line",
    [
        (["--set", "who=x", "--set", "n=abc"], "wfrun: --set: input 'n' must be an integer, got 'abc'"),
        (["--set", "who=x", "--set", "n=11"], "wfrun: --set: input 'n' must be at most 10, got 11"),
        (["--set", "who"], "wfrun: --set: expects NAME=VALUE, got 'who'"),
        (["--config", "big"], "wfrun: --config: unknown configuration 'big' (known: none defined)"),
    ],
)
def test_inputs_errors_exit_2_in_one_line(capsys, write, args, line):
    path = write("secret.yaml", SECRET_WF)
    code, out, err = run(capsys, "inputs", path, *args)
    assert code == 2
    assert out == ""
    assert err.splitlines() == [line]


def test_inputs_missing_required_points_at_definition(capsys, write):
    path = write("secret.yaml", SECRET_WF)
    code, out, err = run(capsys, "inputs", path)
    assert code == 2
    assert err.splitlines() == [
        f"wfrun: {path}:{SECRET_WHO_LINE}:7: input 'who' is required but has no value "
        "(set it in --inputs FILE or with --set who=VALUE)"
    ]


# ---------------------------------------------------------------- validate


def test_there_are_examples():
    assert len(EXAMPLE_FILES) >= 5


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[str(p.relative_to(EXAMPLES)) for p in EXAMPLE_FILES])
def test_validate_each_example(capsys, path):
    code, out, err = run(capsys, "validate", path)
    assert code == 0, err
    assert out.strip().startswith(f"{path}: ok")
    assert "warning" not in err  # examples are clean


def test_validate_all_examples_at_once_subprocess(wfrun):
    result = wfrun("validate", *EXAMPLE_FILES)
    assert result.code == 0, result.err
    assert len([line for line in result.out.splitlines() if ": ok" in line]) == len(EXAMPLE_FILES)


@pytest.mark.reference
def test_reference_directory_exists():
    assert REFERENCE.is_dir(), f"missing reference workflows: {REFERENCE}"
    assert len(REFERENCE_FILES) >= 8


@pytest.mark.reference
@pytest.mark.parametrize("path", REFERENCE_FILES, ids=[p.stem for p in REFERENCE_FILES])
def test_validate_each_reference_workflow(capsys, path):
    code, out, err = run(capsys, "validate", path)
    assert code == 0, err
    assert out.startswith(f"{path}: ok")
    assert "Traceback" not in err


def test_validate_warning_is_ok_unless_strict(capsys, write):
    path = write("warn.yaml", WARN_WF)
    code, out, err = run(capsys, "validate", path)
    assert code == 0
    assert out.strip() == f"{path}: ok (1 warning)"
    assert err.splitlines() == [f"warning: {path}:4:23: inputs.nope is not declared under on.execute.inputs (it will be null)"]
    code, out, err = run(capsys, "validate", "--strict", path)
    assert code == 2
    assert out == ""
    assert "inputs.nope is not declared" in err


def test_validate_strict_without_warnings_is_0(capsys):
    code, _, err = run(capsys, "validate", "--strict", EXAMPLES / "hello.yaml")
    assert code == 0, err


def test_validate_reports_every_file_and_exits_2_if_any_fails(capsys, write, tmp_path):
    bad = write("bad.yaml", "jobs:\n  a:\n    steps:\n      - run: echo ${{ inputs. }}\n")
    missing = tmp_path / "missing.yaml"
    code, out, err = run(capsys, "validate", bad, missing, EXAMPLES / "hello.yaml")
    assert code == 2
    assert out.splitlines() == [f"{EXAMPLES / 'hello.yaml'}: ok"]
    assert f"{missing}: file not found" in err.splitlines()
    assert any(line.startswith(f"{bad}:4:") for line in err.splitlines())


# ---------------------------------------------------------------- actions


def test_actions_lists_job_runner(capsys):
    code, out, _ = run(capsys, "actions")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("job_runner "))
    assert "v3.5, v4.0" in row


def test_actions_show_job_runner_v4(capsys):
    code, out, _ = run(capsys, "actions", "show", "job_runner/v4.0")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("marketplace/job_runner/v4.0  (")
    assert "inputs:" in lines
    assert "  resource: compute-clusters  # Resource Target" in lines
    assert '  shebang: string = "#!/bin/bash"  # Shebang' in lines
    # slurm.partition: a 'partition' line indented under 'slurm: group'
    slurm = lines.index("  slurm: group  # SLURM Configuration")
    pbs = lines.index("  pbs: group  # PBS Configuration")
    assert "    partition: slurm-partitions  [optional]  # Partition" in lines[slurm:pbs]
    assert '    time: string = "04:00:00"  # Walltime' in lines[slurm:pbs]
    assert "    queue: string  [optional]  # Queue" in lines[pbs:]


def test_actions_show_accepts_the_marketplace_prefix(capsys):
    code, out, _ = run(capsys, "actions", "show", "marketplace/job_runner/v3.5")
    assert code == 0
    assert out.startswith("marketplace/job_runner/v3.5  (")


def test_actions_show_unknown_version_exits_2(capsys):
    code, out, err = run(capsys, "actions", "show", "job_runner/v9")
    assert code == 2
    assert err.splitlines() == [
        "wfrun actions show: marketplace action 'job_runner' has no version 'v9' (available: v3.5, v4.0)"
    ]


def test_actions_show_without_a_name_exits_2(capsys):
    code, out, err = run(capsys, "actions", "show")
    assert code == 2
    assert out == ""
    assert "SLUG/VERSION" in err


def test_actions_sorts_versions_from_the_search_path(capsys, tmp_path, monkeypatch):
    market = tmp_path / "market"
    for version in ("v10.0", "v2.0", "v1.x", "v1.0"):
        path = market / "tool" / f"{version}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"name: tool\nversion: {version}\ndescription: Tool {version}\njobs:\n  a:\n    steps: [{{run: echo}}]\n")
    monkeypatch.setenv("WFRUN_MARKETPLACE_PATH", str(market))
    code, out, err = run(capsys, "actions")
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith("tool "))
    assert row.split(None, 1)[1].startswith("v1.0, v1.x, v2.0, v10.0")
    assert row.endswith("Tool v10.0")
    assert any(line.startswith("job_runner ") for line in out.splitlines())


# ---------------------------------------------------------------- run: errors before anything runs


def test_missing_file_exits_2_subprocess(wfrun):
    result = wfrun("nosuch.yaml")
    assert result.code == 2
    assert result.err.strip() == "wfrun: nosuch.yaml: file not found"
    assert result.out == ""


@pytest.mark.parametrize("command", ["run", "inputs", "graph", "validate"])
def test_missing_file_exits_2_for_each_command(capsys, command):
    code, _, err = run(capsys, command, "does-not-exist.yaml")
    assert code == 2
    assert "does-not-exist.yaml: file not found" in err


def test_run_with_a_missing_input_exits_2_in_one_line_subprocess(wfrun, write):
    path = write("secret.yaml", SECRET_WF)
    result = wfrun(path)
    assert result.code == 2
    assert result.err.splitlines() == [
        f"wfrun: {path}:{SECRET_WHO_LINE}:7: input 'who' is required but has no value "
        "(set it in --inputs FILE or with --set who=VALUE)"
    ]
    assert not (wfrun.home / "jobs").exists() or not any((wfrun.home / "jobs").rglob("run.json"))


def test_run_with_a_malformed_inputs_file_exits_2_naming_it_subprocess(wfrun, write):
    path = write("secret.yaml", SECRET_WF)
    values = write("values.json", '{"who": "x",\n "n": }\n')
    result = wfrun("run", path, "--inputs", values)
    assert result.code == 2
    assert result.err.splitlines() == [f"wfrun: {values}:2:7: invalid JSON: Expecting value"]


def test_run_with_a_malformed_yaml_inputs_file_exits_2_naming_it(capsys, write):
    path = write("secret.yaml", SECRET_WF)
    values = write("values.yaml", "who: [x\n")
    code, _, err = run(capsys, "run", path, "--inputs", values)
    assert code == 2
    assert err.splitlines() == [f"wfrun: {values}:2:1: invalid YAML: did not find expected ',' or ']'"]


def test_run_with_an_inputs_file_that_is_not_a_mapping(capsys, write):
    path = write("secret.yaml", SECRET_WF)
    values = write("values.json", "[1, 2]")
    code, _, err = run(capsys, "run", path, "--inputs", values)
    assert code == 2
    assert err.splitlines() == [f"wfrun: {values}: the inputs file must hold a mapping of input names to values"]


def test_run_with_a_missing_inputs_file(capsys, write, tmp_path):
    path = write("secret.yaml", SECRET_WF)
    code, _, err = run(capsys, "run", path, "--inputs", tmp_path / "nope.json")
    assert code == 2
    assert err.splitlines() == [f"wfrun: {tmp_path / 'nope.json'}: cannot read inputs file: No such file or directory"]


def test_run_of_an_invalid_workflow_exits_2(capsys, write):
    path = write("bad.yaml", "jobs:\n  a:\n    stepz: []\n")
    code, _, err = run(capsys, "run", path)
    assert code == 2
    assert err.startswith(f"wfrun: {path}:3:")
    assert "Traceback" not in err


def test_commands_lists_every_subparser_and_one_command_parses_as_with_all():
    full = cli.build_parser()
    sub = next(a for a in full._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(cli.COMMANDS)
    for name in cli.COMMANDS:
        alone = cli.build_parser(name)
        only = next(a for a in alone._actions if isinstance(a, argparse._SubParsersAction))
        assert list(only.choices) == (list(cli.RUN_COMMANDS) if name in cli.RUN_COMMANDS else [name])
    argv = ["run", "w.yaml", "-j", "3", "--set", "a=1", "--quiet"]
    assert vars(cli.build_parser("run").parse_args(argv)) == vars(full.parse_args(argv))
