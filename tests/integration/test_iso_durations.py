"""ISO 8601 durations (PT4H, as torc writes them) in real runs: local timeouts, Slurm --time, PBS walltime (issue 13)."""

from __future__ import annotations

import subprocess

import pytest
from helpers import wait_for


def _timelimit(jobid: str) -> str:
    """The job's time limit as Slurm's accounting recorded it (sacct may print nothing for a moment)."""
    def ask() -> str:
        out = subprocess.run(["sacct", "-X", "-n", "-P", "-j", jobid, "-o", "Timelimit"], capture_output=True, text=True).stdout
        return out.strip().splitlines()[0] if out.strip() else ""
    wait_for(lambda: ask() != "", 30, f"sacct to know job {jobid}")
    return ask()


def _batch(kind: str, limits: str) -> str:
    return f"""
jobs:
  batch:
    timeout: PT5M
    steps:
      - uses: marketplace/job_runner/v4.0
        timeout: PT4M
        with:
          resource: {{ip: '', schedulerType: {kind}}}
          rundir: ${{PWD}}/jr
          scheduler: true
          poll_interval: 1
{limits}
          script: echo "limit set"
"""


@pytest.mark.slurm
def test_slurm_time_and_pbs_walltime_in_iso(wfrun, write, slurm):
    r = wfrun(write("s.yaml", _batch("slurm", "          slurm: {partition: debug, time: PT0H5M, cpus_per_task: 1}")))
    assert r.code == 0, r.out + r.err
    jobid = next(line.split()[-1] for line in r.out.splitlines() if "SLURM job submitted:" in line)
    assert _timelimit(jobid) == "00:05:00"
    assert "#SBATCH --time=00:05:00" in next(r.home.glob("jobs/*/*/jr/run.sh")).read_text()
    r = wfrun(write("p.yaml", _batch("pbs", "          pbs: {walltime: PT1H}")))
    assert r.code == 0, r.out + r.err
    jobid = next(line.split()[-1] for line in r.out.splitlines() if "PBS job submitted:" in line)
    assert _timelimit(jobid) == "01:00:00"


def test_local_timeout_and_retry_interval_in_iso(wfrun, write):
    wf = write("w.yaml", """
jobs:
  a:
    steps:
      - run: sleep 30
        timeout: PT1S
        retry: {max-retries: 1, interval: PT0.1S}
""")
    r = wfrun(wf)
    assert r.code == 1
    steps = r.job("a")["steps"]
    assert steps[0]["status"] == "failed" and "timed out" in (steps[0].get("message") or r.out), r.out


def test_bad_iso_duration_is_a_located_error(wfrun, write):
    r = wfrun(write("w.yaml", "jobs:\n  a:\n    timeout: PT4X\n    steps: [{run: 'true'}]\n"))
    assert r.code == 2
    assert "w.yaml:3:14: 'jobs.a.timeout': 'PT4X' is not a duration (use 30s, 5m, 1h30m, HH:MM:SS, D-HH:MM:SS, ISO 8601" in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_iso_years_in_a_walltime_are_refused_before_submitting(wfrun, write):
    r = wfrun(write("w.yaml", _batch("slurm", "          slurm: {partition: debug, time: P1Y}")))
    assert r.code == 2, r.out + r.err
    assert "slurm.time: 'P1Y': ISO years and months have no fixed length" in r.err
