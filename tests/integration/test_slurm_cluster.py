"""Smoke tests of the test Slurm cluster itself (tests/infra/slurm.sh).

Later integration tests rely on what is checked here: sbatch as root and as the
plain user ``wfrun``, exit codes in sacct, the PBS wrappers (qsub/qstat) with
spank_pbs, and scancel. If these fail, the cluster is broken, not wfrun.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[2]
SLURM_SH = REPO / "tests" / "infra" / "slurm.sh"
TEST_USER = "wfrun"
WAIT_SECONDS = 60.0
# sacct states after which a job does not change any more.
TERMINAL_STATES = {
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED",
    "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT",
}


@dataclass(frozen=True)
class SlurmCluster:
    node: str
    default_partition: str
    partitions: tuple[str, ...]
    test_user: str


@pytest.fixture(scope="session")
def slurm_cluster() -> SlurmCluster:
    """Start (or confirm) the single-node test cluster; quick when already up."""
    try:
        proc = subprocess.run(
            ["bash", str(SLURM_SH), "start"], capture_output=True, text=True, timeout=900
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{SLURM_SH} start did not finish in {exc.timeout}s", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(
            f"{SLURM_SH} start failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}",
            pytrace=False,
        )
    return SlurmCluster(
        node=socket.gethostname().split(".")[0],
        default_partition="debug",
        partitions=("debug", "long"),
        test_user=TEST_USER,
    )


@pytest.fixture
def job_dir(slurm_cluster: SlurmCluster):
    """A directory both root and the test user can write, for job scripts and output."""
    path = Path(tempfile.mkdtemp(prefix="wfrun-slurm-smoke-", dir="/tmp"))
    user = pwd.getpwnam(slurm_cluster.test_user)
    os.chown(path, user.pw_uid, user.pw_gid)
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- helpers


def run(argv: list[str], *, user: str | None = None, cwd: Path | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, as root or (through runuser) as a plain local user."""
    if user is not None:
        argv = ["runuser", "-u", user, "--", *argv]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{argv} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
        )
    return proc


def write_script(path: Path, body: str, owner: str | None = None) -> Path:
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)
    if owner is not None:
        user = pwd.getpwnam(owner)
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


def sbatch(job_dir: Path, *args: str, user: str | None = None) -> str:
    out = run(
        ["sbatch", "--parsable", f"--chdir={job_dir}", f"--output={job_dir}/slurm-%j.out",
         *args],
        user=user, cwd=job_dir,
    ).stdout.strip()
    job_id = out.split(";")[0]
    assert job_id.isdigit(), f"sbatch printed {out!r}"
    return job_id


def sacct_fields(job_id: str, fields: str) -> list[str] | None:
    """One job's allocation line from sacct, or None while sacct does not know it yet."""
    out = run(["sacct", "-j", job_id, "-X", "-n", "-P", "-o", fields]).stdout.strip()
    if not out:
        return None
    return out.splitlines()[0].split("|")


def wait_for_sacct_end(job_id: str, timeout: float = WAIT_SECONDS) -> tuple[str, str]:
    """Poll sacct until the job is in a terminal state; return (State, ExitCode)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = sacct_fields(job_id, "State,ExitCode")
        # A cancelled job reads "CANCELLED by <uid>".
        if last is not None and last[0].split()[0] in TERMINAL_STATES:
            return last[0], last[1]
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not finished after {timeout}s; sacct says {last}")


def wait_until(predicate, what: str, timeout: float = WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def qstat_job_state(job_id: str) -> str | None:
    proc = run(["qstat", "-f", job_id], check=False)
    for line in proc.stdout.splitlines():
        key, _, value = line.strip().partition(" = ")
        if key == "job_state":
            return value.strip()
    return None


def squeue_state(job_id: str) -> str:
    return run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T"]).stdout.strip()


# ---------------------------------------------------------------- tests


def test_node_is_up_with_both_partitions(slurm_cluster):
    out = run(["sinfo", "-h", "-N", "-n", slurm_cluster.node, "-o", "%P %T"]).stdout
    rows = dict(line.split() for line in out.splitlines())
    assert set(rows) == {"debug*", "long"}
    assert rows["debug*"] in {"idle", "mixed", "allocated", "completing"}
    debug = run(["scontrol", "-o", "show", "partition", "debug"]).stdout
    assert "MaxTime=01:00:00" in debug
    assert "Default=YES" in debug


def test_sbatch_as_root_writes_file_and_completes(slurm_cluster, job_dir):
    out = job_dir / "root.txt"
    job_id = sbatch(job_dir, "--wrap",
                    f'echo "$SLURM_JOB_ID $PBS_JOBID $(id -un)" > {out}')
    assert wait_for_sacct_end(job_id) == ("COMPLETED", "0:0")
    # spank_pbs sets PBS_JOBID for sbatch jobs too.
    assert out.read_text().split() == [job_id, job_id, "root"]


def test_sbatch_as_test_user_writes_file_and_completes(slurm_cluster, job_dir):
    out = job_dir / "user.txt"
    job_id = sbatch(job_dir, "--wrap", f'id -un > {out}', user=slurm_cluster.test_user)
    assert wait_for_sacct_end(job_id) == ("COMPLETED", "0:0")
    assert out.read_text().strip() == slurm_cluster.test_user
    assert out.stat().st_uid == pwd.getpwnam(slurm_cluster.test_user).pw_uid
    # sacct's first record of a job can read User=root, JobName=allocation for
    # a second or two; it settles on the submitting user.
    wait_until(lambda: (sacct_fields(job_id, "User") or [""])[0] == slurm_cluster.test_user,
               f"sacct to report job {job_id} as {slurm_cluster.test_user}'s")


def test_failing_job_reports_exit_code(slurm_cluster, job_dir):
    script = write_script(job_dir / "fail.sh", "exit 3\n")
    job_id = sbatch(job_dir, str(script))
    assert wait_for_sacct_end(job_id) == ("FAILED", "3:0")


def test_qsub_with_walltime_runs_and_qstat_reports_it(slurm_cluster, job_dir):
    out = job_dir / "pbs.txt"
    script = write_script(
        job_dir / "pbs.sh", f'echo "$PBS_JOBID $PBS_O_WORKDIR" > {out}\nsleep 2\n'
    )
    proc = run(["qsub", "-l", "walltime=00:01:00", str(script)], cwd=job_dir)
    job_id = proc.stdout.strip()
    assert job_id.isdigit(), f"qsub printed {proc.stdout!r}"
    assert "TimeLimit=00:01:00" in run(["scontrol", "-o", "show", "job", job_id]).stdout
    # While queued or running qstat says Q or R; when done, C (qstat -f has no exit status).
    assert qstat_job_state(job_id) in {"Q", "R"}
    wait_until(lambda: qstat_job_state(job_id) == "C", f"qstat -f {job_id} to say C")
    assert out.read_text().split() == [job_id, str(job_dir)]
    assert wait_for_sacct_end(job_id) == ("COMPLETED", "0:0")


def test_scancel_cancels_a_running_job(slurm_cluster, job_dir):
    job_id = sbatch(job_dir, "--wrap", "sleep 300")
    wait_until(lambda: squeue_state(job_id) == "RUNNING", f"job {job_id} to run")
    run(["scancel", job_id])
    state, _ = wait_for_sacct_end(job_id)
    assert state == "CANCELLED by 0"
    wait_until(lambda: squeue_state(job_id) == "CANCELLED", f"squeue to show {job_id} cancelled")
