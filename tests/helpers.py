"""Helpers the integration tests share: run the real CLI, wait for a condition, read the run store, ask Slurm.

One definition each (they were copied into several test files). Test files import them with
``from helpers import ...`` (tests/ is on sys.path: pytest puts the rootdir conftest's folder there).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    code: int
    out: str
    err: str
    home: Path

    def run_json(self) -> dict:
        """The run.json of the newest run under this home."""
        runs = sorted(self.home.glob("jobs/*/*/run.json"), key=lambda p: p.stat().st_mtime)
        return json.loads(runs[-1].read_text())

    def job(self, name: str) -> dict:
        return self.run_json()["jobs"][name]


def wfrun_env(tmp_path: Path, home: Path | None = None) -> dict[str, str]:
    """The environment of a wfrun with its own ``WFRUN_HOME`` and no user config."""
    home = home if home is not None else tmp_path / "home"
    return {**os.environ, "WFRUN_HOME": str(home), "WFRUN_CONFIG": str(tmp_path / "no-config.yaml")}


def wfrun(home: Path, *args: str, timeout: float = 180, env: dict | None = None, cwd: Path | None = None,
          umask: int | None = None) -> Result:
    """``python -m workflow_runner ARGS`` with ``WFRUN_HOME=home`` (no user config); ``env`` adds variables."""
    full_env = {**wfrun_env(home.parent, home), **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "workflow_runner", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd or home.parent,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, home)


def wait_for(predicate, timeout: float, what: str, poll: float = 0.1) -> None:
    """Poll ``predicate`` until it is true; an AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def store_rows(home: Path | str | Mapping[str, str], sql: str) -> list[tuple]:
    """Rows of ``sql`` in ``home/runs.db`` (``home``: the folder, or the env a wfrun ran with); [] before it exists."""
    folder = Path(home["WFRUN_HOME"]) if isinstance(home, Mapping) else Path(home)
    path = folder / "runs.db"
    if not path.exists():
        return []
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return []
    finally:
        conn.close()


def slurm_jobs_named(name: str) -> dict[str, str]:
    """Job id -> state of the jobs with this name that Slurm knows (queued or ended in the last MinJobAge)."""
    out = subprocess.run(["squeue", "-h", "-t", "all", f"--name={name}", "-o", "%i|%T"], capture_output=True, text=True).stdout
    return dict(line.split("|", 1) for line in out.split() if "|" in line)


def jobs_with_prefix(prefix: str) -> list[str]:
    """Ids of the Slurm jobs of the last hour (sacct) whose name starts with ``prefix``."""
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-S", "now-1hours", "-o", "JobID,JobName%80"], capture_output=True,
                         text=True).stdout
    return [line.split("|")[0] for line in out.splitlines() if "|" in line and line.split("|")[1].startswith(prefix)]


def run_cli(env: Mapping[str, str], *args: object, timeout: float = 120) -> subprocess.CompletedProcess:
    """``wfrun ARGS`` with exactly the environment ``env`` (see :func:`wfrun_env`): the completed process."""
    return subprocess.run([sys.executable, "-m", "workflow_runner", *map(str, args)], env=dict(env), capture_output=True,
                          text=True, timeout=timeout)


def start_until_batch_job_runs(argv: list[str], env: Mapping[str, str], started: str,
                               timeout: float = 60) -> tuple[subprocess.Popen, str, list[str]]:
    """Start ``python -m workflow_runner ARGV`` and read its output until its batch job runs.

    "Runs" is the job id announced (``SLURM job submitted: N`` / ``PBS job submitted: N``) and
    then the line ``started`` (the step's own "started" log line). Returns the still-running
    process, the job id and the lines read; fails the test naming what it saw otherwise.
    """
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(env))
    jobid, lines = None, []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if " job submitted:" in line:
            jobid = line.split()[-1]
        if jobid and started in line:
            return proc, jobid, lines
    proc.kill()
    raise AssertionError(f"no batch job ran (job id {jobid}); output:\n" + "".join(lines))
