"""Running an action definition directly (issue 13): it runs, with its inputs from --set/--inputs, or says
clearly why it cannot — it never reports success having done nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
V4 = ROOT / "marketplace" / "job_runner" / "v4.0.yaml"


def test_action_file_runs_with_its_inputs(wfrun, tmp_path):
    marker = tmp_path / "ran"
    r = wfrun(V4, "--no-live", "--set", 'resource={"ip": ""}', "--set", f"script=echo from the action > {marker}")
    assert r.code == 0, r.out + r.err
    assert marker.read_text() == "from the action\n"
    assert "(1 job)" in r.out and "no jobs" not in r.out
    assert r.run_json()["jobs"]["job_runner"]["status"] == "completed"


@pytest.mark.slurm
def test_action_file_submits_to_the_real_slurm(wfrun, tmp_path, slurm):
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"resource": {"ip": "", "schedulerType": "slurm"}, "scheduler": True, "poll_interval": 1,
                                  "slurm": {"partition": "debug", "time": "PT5M", "cpus_per_task": 1},
                                  "script": "echo in batch job $SLURM_JOB_ID"}))
    r = wfrun(V4, "--no-live", "--inputs", inputs)
    assert r.code == 0, r.out + r.err
    jobid = next(line.split()[-1] for line in r.out.splitlines() if "SLURM job submitted:" in line)
    assert f"in batch job {jobid}" in r.out


def test_validate_says_how_an_action_file_runs(wfrun):
    r = wfrun("validate", V4)
    assert r.code == 0, r.err
    assert r.out.strip() == f"{V4}: ok"
    assert "is an action definition: it runs as one step 'uses: marketplace/job_runner/v4.0'" in r.err


def test_a_bad_input_of_the_action_file_is_exit_2(wfrun):
    r = wfrun(V4, "--set", 'resource={"ip": ""}', "--set", "shebang=python3")
    assert r.code == 2, r.out + r.err
    assert "shebang must start with '#!', got 'python3'" in r.err and "Run completed" not in r.out


def test_an_action_file_nothing_can_call_is_a_clear_error(wfrun, tmp_path):
    copy = tmp_path / "my-action.yaml"
    shutil.copy(V4, copy)
    for args in (("validate", copy), (copy,)):
        r = wfrun(*args)
        assert r.code == 2, r.out + r.err
        assert f"{copy}: this is an action definition (bound to wfrun's built-in 'job_runner.v4'), not a workflow" in r.err
        assert "uses: marketplace/<slug>/<version>" in r.err and len(r.err.strip().splitlines()) == 1


def test_an_action_file_on_the_marketplace_path_runs(wfrun, tmp_path):
    market = tmp_path / "market" / "mine"
    market.mkdir(parents=True)
    shutil.copy(V4, market / "v1.yaml")
    marker = tmp_path / "ran"
    r = wfrun(market / "v1.yaml", "--set", 'resource={"ip": ""}', "--set", f"script=touch {marker}",
              env={"WFRUN_MARKETPLACE_PATH": str(tmp_path / "market")})
    assert r.code == 0, r.out + r.err
    assert marker.exists()
