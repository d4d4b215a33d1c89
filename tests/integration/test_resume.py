"""Durable runs against the real Slurm: kill -9 and resume, write-ahead, cancel from another terminal, detach."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import jobs_with_prefix, store_rows, wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module", autouse=True)
def slurm_up(slurm):
    """Every test here needs the real cluster."""


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none")}


def wfrun(env, *args, timeout=180, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workflow_runner", *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=timeout, **kw)


def batch_step(name: str, seconds: int, extra: str = "") -> str:
    return f"""
  {name}:
    steps:
      - id: jr
        uses: marketplace/job_runner/v4.0
        with:
          resource: {{ip: '', schedulerType: slurm}}
          rundir: ${{PWD}}/{name}
          scheduler: true
          poll_interval: 1
          slurm: {{partition: debug, time: "00:05:00", cpus_per_task: 1, mem: 100M}}
          script: |
            echo "{name} running"
            sleep {seconds}
            echo "result-{name}" > result.txt{extra}
"""


def test_kill9_then_resume_reattaches_batch_jobs_and_reruns_local_step(tmp_path, env):
    marker = tmp_path / "local-attempts"
    wf = tmp_path / "w.yaml"
    wf.write_text("jobs:" + batch_step("a", 8) + batch_step("b", 8) + f"""
  local:
    steps:
      - run: echo attempt >> {marker}; sleep 6; echo "local=done" >> $OUTPUTS
  after:
    needs: [a, b, local]
    steps:
      - run: |
          echo "a=${{{{ needs.a.outputs.jobid }}}} b=${{{{ needs.b.outputs.jobid }}}} local=${{{{ needs.local.outputs.local }}}}"
          test "${{{{ needs.a.outputs.job_state }}}}" = COMPLETED
          test "${{{{ needs.local.outputs.local }}}}" = done
""")
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), "--no-live"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for(lambda: (Path(env["WFRUN_HOME"]) / "runs.db").exists() and
             len(store_rows(env, "SELECT jobid FROM batch_jobs WHERE jobid IS NOT NULL")) == 2, 30, "two submitted jobs", poll=0.2)
    wait_for(lambda: marker.exists(), 10, "the local step", poll=0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    run = store_rows(env, "SELECT id FROM runs")[0][0]
    submitted = {r[0] for r in store_rows(env, "SELECT jobid FROM batch_jobs")}
    prefix = store_rows(env, "SELECT job_name FROM batch_jobs")[0][0].rsplit("-", 2)[0]
    wait_for(lambda: len(jobs_with_prefix(prefix)) == 2, 20, "sacct to list both jobs by name", poll=0.2)
    r = wfrun(env, "resume", run, "--no-live")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "re-attaching to batch job" in r.stdout
    assert {r[0] for r in store_rows(env, "SELECT jobid FROM batch_jobs")} == submitted
    assert len(jobs_with_prefix(prefix)) == 2  # not resubmitted
    assert marker.read_text().count("attempt") == 2  # the interrupted local step ran again
    assert "local=done" in r.stdout
    status = json.loads(wfrun(env, "status", run, "--json").stdout)
    assert status["status"] == "completed"
    assert {j["key"]: j["status"] for j in status["jobs"]} == {"a": "completed", "b": "completed", "local": "completed",
                                                              "after": "completed"}


def test_crash_between_submit_and_recording_the_job_id_makes_no_duplicate(tmp_path, env):
    wf = tmp_path / "w.yaml"
    wf.write_text("jobs:" + batch_step("only", 3))
    crash = {**env, "WFRUN_TEST_CRASH": "before-jobid-recorded"}
    r = wfrun(crash, wf, "--no-live")
    assert r.returncode == -signal.SIGKILL
    run = store_rows(env, "SELECT id FROM runs")[0][0]
    rows = store_rows(env, "SELECT jobid, job_name FROM batch_jobs")
    assert len(rows) == 1 and rows[0][0] is None  # the intent, but no job id
    wait_for(lambda: len(jobs_with_prefix(rows[0][1])) == 1, 20, "sacct to list the job", poll=0.2)
    r = wfrun(env, "resume", run, "--no-live")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "submitted before the crash; re-attaching" in r.stdout
    assert len(jobs_with_prefix(rows[0][1])) == 1
    assert (next(Path(env["WFRUN_HOME"]).glob("jobs/*/*/only/result.txt"))).read_text() == "result-only\n"


def test_cancel_from_another_terminal(tmp_path, env):
    cleaned = tmp_path / "cleanup-ran"
    wf = tmp_path / "w.yaml"
    wf.write_text("jobs:" + batch_step("long", 300) + f"""
  local:
    steps:
      - run: sleep 300
        cleanup: touch {cleaned}
""")
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), "--no-live", "--grace", "2"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for(lambda: (Path(env["WFRUN_HOME"]) / "runs.db").exists() and
             len(store_rows(env, "SELECT jobid FROM batch_jobs WHERE jobid IS NOT NULL")) == 1, 30, "the batch job", poll=0.2)
    jobid = store_rows(env, "SELECT jobid FROM batch_jobs")[0][0]
    run = store_rows(env, "SELECT id FROM runs")[0][0]
    r = wfrun(env, "cancel", run, "--wait", "60")
    assert r.returncode == 0, r.stdout + r.stderr
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out
    queue = subprocess.run(["squeue", "-h", "-j", jobid], capture_output=True, text=True).stdout.strip()
    assert queue == ""
    assert cleaned.exists()
    assert store_rows(env, f"SELECT status FROM runs WHERE id = {run}")[0][0] == "canceled"


def test_detach_returns_the_run_number_and_logs_follow(tmp_path, env):
    wf = tmp_path / "w.yaml"
    wf.write_text("jobs:\n  a:\n    steps:\n      - run: for i in 1 2 3; do echo tick $i; sleep 0.5; done\n")
    r = wfrun(env, wf, "--detach")
    assert r.returncode == 0, r.stderr
    run = int(r.stdout.split()[1])
    follow = wfrun(env, "logs", run, "-f", timeout=60)
    assert follow.returncode == 0
    assert [line for line in follow.stdout.splitlines() if "tick" in line][-1].endswith("tick 3")
    wait_for(lambda: store_rows(env, f"SELECT status FROM runs WHERE id = {run}")[0][0] == "completed", 20, "completion", poll=0.2)


def kill9_once_submitted(env, wf: Path) -> str:
    """Run ``wf`` (one batch step) and SIGKILL wfrun as soon as the store has its job id; that id."""
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), "--no-live"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for(lambda: (Path(env["WFRUN_HOME"]) / "runs.db").exists() and
             len(store_rows(env, "SELECT jobid FROM batch_jobs WHERE jobid IS NOT NULL")) == 1, 30, "the submitted job", poll=0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return store_rows(env, "SELECT jobid FROM batch_jobs")[0][0]


def test_cancel_of_a_killed_run_cancels_the_batch_jobs_it_left(tmp_path, env):
    """kill -9 leaves a queued/running batch job; `wfrun cancel` finds it in the store and scancels it."""
    wf = tmp_path / "w.yaml"
    wf.write_text("jobs:" + batch_step("left", 300))
    jobid = kill9_once_submitted(env, wf)

    def queued() -> bool:
        out = subprocess.run(["squeue", "-h", "-j", jobid, "-o", "%T"], capture_output=True, text=True).stdout.strip()
        return out in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING")

    assert queued()
    r = wfrun(env, "cancel", "1", "--wait", "5")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "its wfrun is gone" in r.stdout and f"scancel {jobid}: done" in r.stdout
    wait_for(lambda: not queued(), 20, "the job to leave the queue", poll=0.2)
    assert store_rows(env, "SELECT state FROM batch_jobs") == [("CANCELLED",)]
    ((rundir, name),) = store_rows(env, "SELECT rundir, job_name FROM batch_jobs")
    assert not (Path(rundir) / f"wfrun.{name}.env").exists(), "the job's environment file outlived the cancel"
    assert (Path(rundir) / "run.sh").exists()
    r = wfrun(env, "cancel", "1")
    assert r.returncode == 0 and "scancel" not in r.stdout  # nothing left the second time


def test_resume_does_not_submit_again_when_it_cannot_ask_the_scheduler(tmp_path, env):
    """Crash between sbatch and recording its id; resume while the controller cannot be reached: fail, don't resubmit."""
    wf = tmp_path / "w.yaml"
    wf.write_text("jobs:" + batch_step("once", 2))
    r = wfrun({**env, "WFRUN_TEST_CRASH": "before-jobid-recorded"}, wf, "--no-live")
    assert r.returncode == -signal.SIGKILL
    run = store_rows(env, "SELECT id FROM runs")[0][0]
    (name,) = store_rows(env, "SELECT job_name FROM batch_jobs")[0]
    wait_for(lambda: len(jobs_with_prefix(name)) == 1, 20, "sacct to list the job", poll=0.2)
    unreachable = tmp_path / "slurm.conf"  # the cluster's configuration with nobody on the controller port
    unreachable.write_text(Path("/etc/slurm/slurm.conf").read_text() + "\nSlurmctldPort=1\n")
    r = wfrun({**env, "SLURM_CONF": str(unreachable)}, "resume", run, "--no-live")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"cannot tell whether batch job {name} was submitted before the crash" in r.stdout
    assert len(jobs_with_prefix(name)) == 1 and len(store_rows(env, "SELECT id FROM batch_jobs")) == 1
    r = wfrun(env, "resume", run, "--no-live")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "submitted before the crash; re-attaching" in r.stdout
    assert len(jobs_with_prefix(name)) == 1


def test_cancel_of_a_killed_run_whose_pbs_job_already_ended(tmp_path, env):
    """qdel fails for a job that ended while nobody watched: that is not a failure to cancel."""
    wf = tmp_path / "w.yaml"
    wf.write_text("""
jobs:
  short:
    steps:
      - uses: marketplace/job_runner/v4.0
        with:
          resource: {ip: '', schedulerType: pbs}
          rundir: ${PWD}/short
          scheduler: true
          poll_interval: 1
          pbs: {walltime: "00:05:00"}
          script: |
            sleep 2
""")
    jobid = kill9_once_submitted(env, wf)
    wait_for(lambda: not subprocess.run(["squeue", "-h", "-j", jobid], capture_output=True, text=True).stdout.strip(),
             60, "the job to end", poll=0.2)
    r = wfrun(env, "cancel", "1", "--wait", "5")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"qdel {jobid}: done" in r.stdout
    assert store_rows(env, "SELECT finished_at IS NOT NULL FROM batch_jobs") == [(1,)]
