"""job_runner on the PBS wrappers (qsub/qstat/qdel of slurm-wlm-torque on the real Slurm): how jobs end (issue 13).

The wrappers' qstat has no ``-x`` and no exit status (tests/infra, INFRA.md): the job's
exit-code file decides, and a job the scheduler killed (walltime, qdel) ends as v4.0 ends
it — gracefully, with TIMEOUT or CANCELLED named. The server-reported Exit_status path
(real PBS Pro/Torque) is covered by parsing in tests/unit/test_pbs_exit_status.py.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from helpers import start_until_batch_job_runs
from test_job_runner_slurm import job_runner_workflow, squeue_ids

pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module", autouse=True)
def slurm_up(slurm):
    """Every test here needs the real cluster."""


def test_exit_status_3_fails_with_the_code_and_says_where_it_came_from(wfrun, write):
    r = wfrun(write("w.yaml", job_runner_workflow("echo failing\nexit 3", kind="pbs")))
    assert r.code == 1, r.out + r.err
    assert ("ended FAILED with exit code 3 (from the job's exit-code file; qstat reports no exit status)") in r.out
    step = r.job("batch")["steps"][0]
    assert step["status"] == "failed" and step["exit_code"] == 3


def test_a_qdel_from_outside_ends_gracefully_as_cancelled(tmp_path, write):
    wf = write("w.yaml", job_runner_workflow("echo started\nsleep 300", kind="pbs"))
    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none")}
    proc, jobid, lines = start_until_batch_job_runs([str(wf)], env, "[batch/batch job] started")
    assert jobid in squeue_ids(), "".join(lines)
    subprocess.run(["qdel", jobid], check=True, timeout=30)
    out, _ = proc.communicate(timeout=120)
    out = "".join(lines) + out
    assert proc.returncode == 0, out
    assert (f"batch job {jobid} was cancelled outside wfrun (CANCELLED); job_runner v4.0 treats this as a graceful end "
            "(qstat reports no exit status; its script died of SIGTERM (exit 143) before its walltime (qdel))") in out


@pytest.mark.slow
def test_a_walltime_kill_ends_gracefully_as_timeout(wfrun, write):
    """walltime 1 minute (Slurm rounds to whole minutes); the script would sleep 300 s."""
    wf = write("w.yaml", job_runner_workflow("echo started\nsleep 300", kind="pbs").replace(
        'walltime: "00:05:00"', 'walltime: "00:01:00"'))
    r = wfrun(wf, timeout=240)
    assert r.code == 0, r.out + r.err
    assert "reached its time limit (TIMEOUT); job_runner v4.0 treats this as a graceful end (qstat reports no exit status;" in r.out
    assert "after running its whole walltime)" in r.out
    assert r.job("batch")["steps"][0]["status"] == "completed"
