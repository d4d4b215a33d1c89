"""parallelworks/scheduler-agent + wait-for-agent (issue 14): refused precisely, as early as can be known —
an error at validate when the step always runs; behind an if:, a warning, the other path runs, and a run
whose inputs make the agent step run is refused before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "corpus"
WHY = ("cannot run outside the platform: the platform's scheduler agent is reached through the platform's own relay "
       "(wait-for-agent returns its host and port), which an SSH-reachable cluster does not have; run the script as a "
       "batch job with 'uses: marketplace/job_runner/v4.0' and 'scheduler: true' instead")

SHAPE = """
on:
  execute:
    inputs:
      use_agent: {type: boolean, default: false}
jobs:
  direct:
    if: ${{ inputs.use_agent != true }}
    steps:
      - run: touch MARKER
  agent:
    if: ${{ inputs.use_agent == true }}
    steps:
      - uses: parallelworks/scheduler-agent
        id: agent
        with: {scheduler-type: slurm, wait: false}
      - uses: parallelworks/wait-for-agent
        with: {agentId: '${{ steps.agent.outputs.agentId }}'}
"""


def test_unconditional_agent_step_is_a_validate_error(wfrun, write):
    wf = write("w.yaml", "jobs:\n  a:\n    steps:\n      - uses: parallelworks/scheduler-agent\n        with: {wait: false}\n")
    r = wfrun("validate", wf)
    assert r.code == 2
    assert f"w.yaml:4:15: 'parallelworks/scheduler-agent' {WHY}" in r.err and len(r.err.strip().splitlines()) == 1, r.err
    r = wfrun(wf)
    assert r.code == 2 and WHY in r.err


def test_guarded_agent_step_warns_and_the_other_path_runs(wfrun, write, tmp_path):
    marker = tmp_path / "direct-ran"
    wf = write("w.yaml", SHAPE.replace("MARKER", str(marker)))
    r = wfrun("validate", wf)
    assert r.code == 0, r.err
    assert f"w.yaml:14:15: 'parallelworks/scheduler-agent' {WHY}. It runs only when its if: holds" in r.err
    r = wfrun(wf, "--no-live")
    assert r.code == 0, r.out + r.err
    assert marker.exists() and r.job("agent")["status"] == "skipped"


def test_a_run_whose_inputs_make_the_agent_step_run_is_refused_before_anything_starts(wfrun, write, tmp_path):
    marker = tmp_path / "direct-ran"
    wf = write("w.yaml", SHAPE.replace("MARKER", str(marker)))
    r = wfrun(wf, "--set", "use_agent=true", "--no-live")
    assert r.code == 2, r.out + r.err
    assert f"w.yaml:14:15: 'parallelworks/scheduler-agent' {WHY} (this run's inputs make job 'agent' run this step)" in r.err
    assert "Run completed" not in r.out and not list(r.home.glob("jobs/*/*/run.json"))


@pytest.mark.reference
@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*script_submitter*")) if CORPUS.is_dir() else [])
def test_corpus_files_validate_with_the_documented_warning(wfrun, name):
    r = wfrun("validate", CORPUS / name)
    assert r.code == 0, r.err
    assert r.err.count(WHY) == 2 and "It runs only when its if: holds" in r.err


@pytest.mark.reference
def test_corpus_workflow_with_the_agent_chosen_is_refused(wfrun):
    f = CORPUS / "parallelworks__interactive_session__workflow__script_submitter__v3.6__general.yaml"
    r = wfrun(f, "--set", "use_scheduler_agent=true", "--set", "scheduler=true",
              "--set", 'resource={"ip": "", "schedulerType": "slurm", "provider": "existing"}')
    assert r.code == 2, r.out + r.err
    assert "(this run's inputs make job 'scheduler_agent_job' run this step)" in r.err
