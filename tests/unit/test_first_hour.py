"""Issue 9, the first hour with wfrun: what a newcomer meets before any workflow logic runs.

Home errors, typos of commands, validation in one pass, unknown inputs, reporter
output (markup, NO_COLOR, plurals), numbers as text, YAML tab and directory
messages, the user config's shape, labels of unnamed steps. In-process through
``cli.main``; the subprocess cases are in tests/integration/test_cli_defects.py.
"""

from __future__ import annotations

import io
import json

import pytest

from workflow_runner import cli
from workflow_runner.engine.context import as_text, render_env
from workflow_runner.engine.events import RunStarted
from workflow_runner.errors import LoadError, WorkflowError
from workflow_runner.expressions import Context, compile_string
from workflow_runner.loader import load_file, load_text
from workflow_runner.ui.console import LiveReporter, PlainReporter
from workflow_runner.userconfig import load_user_config
from workflow_runner.validate import load_workflow

HELLO = """\
jobs:
  a:
    steps:
      - run: echo hi ${{ inputs.chunks }}
'on':
  execute:
    inputs:
      chunks: {type: integer, default: 2}
"""


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("WFRUN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WFRUN_CONFIG", str(tmp_path / "no-config.yaml"))
    monkeypatch.delenv("WFRUN_MARKETPLACE_PATH", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


def run(capsys, *args) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------- WFRUN_HOME / HOME

HOME_COMMANDS = [
    ("run", "{wf}"), ("resume", "1"), ("runs",), ("status", "1"), ("logs", "1"), ("cancel", "1"),
]


def bad_homes(tmp_path):
    afile = tmp_path / "a-file"
    afile.write_text("x")
    return {
        "a regular file": (str(afile), "is not a directory"),
        "under a regular file": (str(afile / "home"), "cannot be created: Not a directory"),
        "not creatable (sysfs refuses even root)": ("/sys/wfrun-home", "cannot be created"),
        "existing, not writable (sysfs refuses even root)": ("/sys", "is not writable"),
    }


@pytest.mark.parametrize("command", HOME_COMMANDS, ids=[c[0] for c in HOME_COMMANDS])
@pytest.mark.parametrize("case", ["a regular file", "under a regular file", "not creatable (sysfs refuses even root)",
                                  "existing, not writable (sysfs refuses even root)"])
def test_unusable_wfrun_home_is_one_line_exit_2(capsys, tmp_path, monkeypatch, command, case):
    home, words = bad_homes(tmp_path)[case]
    monkeypatch.setenv("WFRUN_HOME", home)
    wf = tmp_path / "wf.yaml"
    wf.write_text(HELLO)
    code, out, err = run(capsys, *[a.format(wf=wf) for a in command])
    line = one_error_line(err)
    assert code == 2
    assert line.startswith(f"wfrun: WFRUN_HOME {home} ") and words in line, line


def test_validate_with_a_file_as_home_is_one_line_exit_2(capsys, tmp_path, monkeypatch):
    afile = tmp_path / "a-file"
    afile.write_text("x")
    monkeypatch.setenv("WFRUN_HOME", str(afile))
    wf = tmp_path / "wf.yaml"
    wf.write_text(HELLO)
    code, out, err = run(capsys, "validate", wf)
    assert code == 2
    assert one_error_line(err) == f"wfrun: WFRUN_HOME {afile} is not a directory (it is a file); point WFRUN_HOME at a directory"


@pytest.mark.parametrize("command", [("runs",), ("run", "{wf}"), ("validate", "{wf}")], ids=["runs", "run", "validate"])
def test_empty_home_without_wfrun_home_is_one_line_exit_2(capsys, tmp_path, monkeypatch, command):
    monkeypatch.delenv("WFRUN_HOME")
    monkeypatch.setenv("HOME", "")
    wf = tmp_path / "wf.yaml"
    wf.write_text(HELLO)
    code, out, err = run(capsys, *[a.format(wf=wf) for a in command])
    assert code == 2
    assert one_error_line(err) == "wfrun: HOME is set but empty, so wfrun has no home for its runs; set HOME or WFRUN_HOME"


# ---------------------------------------------------------------- command line


@pytest.mark.parametrize("argv, line", [
    (["vaildate", "x.yaml"], "wfrun: unknown command 'vaildate' (did you mean 'validate'?)"),
    (["statsu"], "wfrun: unknown command 'statsu' (did you mean 'status'?)"),
    (["lgos", "3"], "wfrun: unknown command 'lgos' (did you mean 'logs'?)"),
])
def test_mistyped_command_says_unknown_command(capsys, tmp_path, monkeypatch, argv, line):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert one_error_line(err) == line


def test_a_missing_file_not_like_a_command_is_still_file_not_found(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "pipeline.yaml")
    assert code == 2
    assert one_error_line(err) == "wfrun: pipeline.yaml: file not found"


def test_no_arguments_prints_usage_to_stderr_exit_2(capsys):
    code, out, err = run(capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("usage: wfrun")


def test_options_before_the_workflow_file_are_run_options(capsys, tmp_path):
    code, out, err = run(capsys, "-j", "2", "--set", "chunks=x", tmp_path / "missing.yaml")
    assert code == 2
    assert one_error_line(err) == f"wfrun: {tmp_path / 'missing.yaml'}: file not found"


# ---------------------------------------------------------------- validate in one pass

MANY_ERRORS = """\
jobs:
  a:
    steps:
      - run: echo ${{ nosuch.x }}
        stpes: 1
        evn: 2
      - run: echo ${{ 1 +* 2 }}
        nmae: x
  b:
    if: failur()
    steps:
      - run: echo fine
"""


def test_validate_reports_every_error_of_a_file_at_once(capsys, tmp_path):
    wf = tmp_path / "many.yaml"
    wf.write_text(MANY_ERRORS)
    code, out, err = run(capsys, "validate", wf)
    assert code == 2
    assert err.splitlines() == [
        f"{wf}:4:23: unknown context 'nosuch'",
        f"{wf}:5:9: unknown key in step 1 of job 'a': 'stpes' (did you mean 'uses'?)",
        f"{wf}:6:9: unknown key in step 1 of job 'a': 'evn' (did you mean 'env'?)",
        f"{wf}:7:26: expected a value but got '*'",
        f"{wf}:8:9: unknown key in step 2 of job 'a': 'nmae' (did you mean 'name'?)",
        f"{wf}:10:9: unknown function 'failur' (did you mean 'failure'?)",
    ]


def test_expressions_inside_a_schema_rejected_part_are_not_checked(tmp_path):
    wf = tmp_path / "bad.yaml"
    wf.write_text("jobs:\n  a:\n    steps:\n      - run: x\n    stpes:\n      - run: echo ${{ nosuch.x }}\n")
    with pytest.raises(WorkflowError) as excinfo:
        load_workflow(wf)
    assert str(excinfo.value) == f"{wf}:5:5: unknown key in job 'a': 'stpes' (did you mean 'steps'?)"


# ---------------------------------------------------------------- inputs


def test_unknown_set_input_is_an_error_with_did_you_mean(capsys, tmp_path):
    wf = tmp_path / "wf.yaml"
    wf.write_text(HELLO)
    code, out, err = run(capsys, "run", wf, "--set", "chunkz=4")
    assert code == 2
    assert one_error_line(err) == "wfrun: --set: unknown input 'chunkz' (did you mean 'chunks'?)"
    assert not list((tmp_path / "home").glob("jobs/*/*"))  # nothing ran with the default


def test_unknown_input_in_inputs_file_names_the_file(capsys, tmp_path):
    wf = tmp_path / "wf.yaml"
    wf.write_text(HELLO)
    values = tmp_path / "values.json"
    values.write_text('{"chunkz": 4}')
    code, out, err = run(capsys, "inputs", wf, "--inputs", values)
    assert code == 2
    assert out == ""
    assert one_error_line(err) == f"wfrun: {values}: unknown input 'chunkz' (did you mean 'chunks'?)"


def test_set_errors_name_the_option_once(capsys, tmp_path):
    wf = tmp_path / "wf.yaml"
    wf.write_text(HELLO)
    code, out, err = run(capsys, "inputs", wf, "--set", "chunks")
    assert code == 2
    assert one_error_line(err) == "wfrun: --set: expects NAME=VALUE, got 'chunks'"


def test_actions_show_error_has_one_prefix(capsys):
    code, out, err = run(capsys, "actions", "show", "job_runner/v9")
    assert code == 2
    assert one_error_line(err).startswith("wfrun actions show: marketplace action 'job_runner' has no version 'v9'")


# ---------------------------------------------------------------- reporters


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def started(jobs: list[str]) -> RunStarted:
    return RunStarted(run_id="1", workflow="wf", jobs=jobs, run_dir="/tmp/r")


def test_run_started_line_pluralizes(capsys):
    out = io.StringIO()
    reporter = PlainReporter(out)
    reporter.emit(started(["a"]))
    reporter.emit(started(["a", "b"]))
    assert out.getvalue().splitlines() == ["wfrun: run 1 of wf (1 job) in /tmp/r", "wfrun: run 1 of wf (2 jobs) in /tmp/r"]


def test_plain_reporter_on_a_terminal_honours_no_color(monkeypatch):
    out = Tty()
    PlainReporter(out).emit(started(["a"]))
    assert "\033[" in out.getvalue()  # colours on a terminal ...
    monkeypatch.setenv("NO_COLOR", "1")
    out = Tty()
    PlainReporter(out).emit(started(["a"]))
    assert out.getvalue() == "wfrun: run 1 of wf (1 job) in /tmp/r\n"  # ... but not with NO_COLOR


def test_live_reporter_honours_no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert LiveReporter().color is False


@pytest.mark.parametrize("step", ["pip install .[test]", "odd [/] name", "[bold]x"])
def test_live_panel_shows_step_and_job_names_verbatim(step):
    from rich.console import Console

    reporter = LiveReporter()
    reporter.total = 1
    reporter.running = {"job[1]": step}
    screen = io.StringIO()
    Console(file=screen, width=200, no_color=True).print(reporter._panel())
    assert f"job[1] / {step}" in screen.getvalue()


# ---------------------------------------------------------------- values as text


def test_numbers_render_the_same_alone_and_inside_text():
    ctx = Context(values={})
    alone = compile_string("${{ 0.1 + 0.2 }}")
    inside = compile_string("v ${{ 0.1 + 0.2 }}")
    env = render_env([{"X": alone, "Y": inside, "L": compile_string("${{ fromJSON('[1, 2.0]') }}")}], lambda _: ctx)
    assert env == {"X": "0.3", "Y": "v 0.3", "L": "[1,2]"}
    assert as_text(1e21) == "1e+21"


# ---------------------------------------------------------------- files


def test_tab_indentation_says_so_with_its_location():
    with pytest.raises(LoadError) as excinfo:
        load_text("jobs:\n  a:\n    steps:\n  \t- run: x\n", "wf.yaml")
    assert str(excinfo.value) == "wf.yaml:4:3: invalid YAML: tabs are not allowed for indentation; indent with spaces"


def test_a_tab_inside_a_value_is_fine():
    assert load_text('x: "a\tb"\n', "wf.yaml") == {"x": "a\tb"}


def test_a_directory_as_the_workflow_says_is_a_directory(capsys, tmp_path):
    with pytest.raises(LoadError) as excinfo:
        load_file(tmp_path)
    assert str(excinfo.value) == f"{tmp_path}: is a directory, not a workflow file"
    code, out, err = run(capsys, tmp_path)
    assert code == 2
    assert one_error_line(err) == f"wfrun: {tmp_path}: is a directory, not a workflow file"


def test_user_config_that_is_not_a_mapping_says_what_a_config_is(tmp_path, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text("- clusters\n")
    monkeypatch.setenv("WFRUN_CONFIG", str(config))
    with pytest.raises(LoadError) as excinfo:
        load_user_config()
    message = str(excinfo.value)
    assert message.startswith(f"{config}:1:1: the wfrun config file must be a mapping with any of clusters:, org:, ssh:")
    assert "jobs:" not in message


def test_empty_user_config_is_no_config(tmp_path, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text("# nothing yet\n")
    monkeypatch.setenv("WFRUN_CONFIG", str(config))
    assert load_user_config().clusters == {}


@pytest.mark.parametrize("script, label", [
    ("echo ${{ inputs.n }} done", "echo … done"),
    ("echo ${{ 2 * 3 }} ${{ success() }}", "echo 6 …"),
    ("# a comment\n\nmake -j ${{ inputs.j }}\nmore", "make -j …"),
    ("echo ${{ inputs.a\n  }}", "echo …"),
    ("echo plain", "echo plain"),
])
def test_unnamed_steps_are_labelled_without_raw_expressions(tmp_path, script, label):
    wf = tmp_path / "wf.yaml"
    wf.write_text("jobs:\n  a:\n    steps:\n      - run: " + json.dumps(script) + "\n")
    assert load_workflow(wf).jobs["a"].steps[0].name == label
