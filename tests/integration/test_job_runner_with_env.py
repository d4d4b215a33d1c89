"""job_runner's ``with: {env: …}``: real workflows pass it (activate-ray); the script sees it, unmangled."""

from __future__ import annotations

WORKFLOW = """\
jobs:
  main:
    steps:
      - name: run
        uses: marketplace/job_runner/v4.0
        with:
          rundir: '{rundir}'
          env:
            GREETING: "it's $HOME `id` $(id)"
            COUNT: 3
          script: |
            printf '[%s] [%s]\\n' "$GREETING" "$COUNT"
"""


def test_with_env_reaches_the_script_unchanged(wfrun, write, tmp_path):
    wf = write("wf.yaml", WORKFLOW.format(rundir=tmp_path / "rd"))
    result = wfrun("validate", "--strict", wf)
    assert result.code == 0, result.err
    result = wfrun(wf, "--no-live")
    assert result.code == 0, result.err + result.out
    out = (tmp_path / "rd").glob("run.*.out")
    text = "".join(p.read_text() for p in out)
    assert "[it's $HOME `id` $(id)] [3]" in text


def test_with_env_with_a_bad_name_is_an_input_error(wfrun, write, tmp_path):
    wf = write("wf.yaml", WORKFLOW.format(rundir=tmp_path / "rd").replace("COUNT:", "BAD-NAME:"))
    result = wfrun(wf, "--no-live")
    assert result.code == 1, result.out  # known only when the step runs: the step fails
    assert "'BAD-NAME' is not an environment variable name" in result.err + result.out


def test_env_is_still_a_typo_for_actions_that_do_not_accept_it(wfrun, write, tmp_path):
    wf = write("wf.yaml", WORKFLOW.format(rundir=tmp_path / "rd").replace("env:", "envv:"))
    result = wfrun("validate", wf)
    assert result.code == 2
    assert "has no input 'envv'" in result.err
