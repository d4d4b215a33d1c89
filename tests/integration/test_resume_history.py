"""History across resumes, the exit code a canceled run records, and ``wfrun logs`` order / exit code.

Real processes: the CLI in subprocesses (``wfrun`` fixture), canceled with ``wfrun cancel``
or SIGTERM, resumed with ``wfrun resume``; the store is read back with ``wfrun status --json``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from helpers import wait_for


def start(wfrun, tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "WFRUN_HOME": str(wfrun.home), "WFRUN_CONFIG": str(tmp_path / "no-config.yaml")}
    return subprocess.Popen([sys.executable, "-m", "workflow_runner", *map(str, args)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def status(wfrun, run: int = 1) -> dict:
    r = wfrun("status", run, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def jobs_of(data: dict) -> dict:
    return {j["key"]: j for j in data["jobs"]}


# One job finishes at once; the other waits on its first session (marker absent) and passes on the next.
SLOW_ONCE = """
jobs:
  quick:
    steps:
      - run: echo quick >> {tmp}/quick-runs; echo "q=1" >> $OUTPUTS
  slow:
    steps:
      - run: |
          echo run >> {tmp}/slow-runs
          if [ ! -f {tmp}/second ]; then touch {tmp}/second; sleep 60; fi
          sleep 2.5  # longer than the 1 s in which a stale cancel flag would strike
          echo slow done
"""


def test_resume_of_a_canceled_run_continues_it_and_keeps_every_attempt(wfrun, write, tmp_path):
    wf = write("w.yaml", SLOW_ONCE.format(tmp=tmp_path))
    proc = start(wfrun, tmp_path, wf, "--no-live", "--grace", "1")
    wait_for(lambda: (tmp_path / "second").exists(), 30, "the slow step")
    time.sleep(0.5)  # quick has finished and been recorded
    r = wfrun("cancel", "1", "--wait", "30")
    assert r.code == 0, r.out + r.err
    assert proc.wait(30) == 143
    first = status(wfrun)
    quick_before = jobs_of(first)["quick"]

    time.sleep(1.2)  # a resume that would cancel itself on the old flag does so within 1 s
    r = wfrun("resume", "1", "--no-live")
    assert r.code == 0, r.out + r.err
    assert "slow done" in r.out and "canceled from another terminal" not in r.err
    assert (tmp_path / "quick-runs").read_text().count("quick") == 1  # finished work carried over
    assert (tmp_path / "slow-runs").read_text().count("run") == 2  # the canceled job ran again
    assert (first["status"], first["exit_code"]) == ("canceled", 143)  # what the shell saw, not 130

    after = status(wfrun)
    assert (after["status"], after["exit_code"], after["cancel_requested"]) == ("completed", 0, False)
    assert [(a["attempt"], a["status"], a["exit_code"]) for a in after["attempts"]] == [(1, "canceled", 143), (2, "completed", 0)]
    one, two = after["attempts"]
    assert after["started"] == one["started"] < one["finished"] <= two["started"] < two["finished"] == after["finished"]
    quick = jobs_of(after)["quick"]
    # the carried-over job keeps its times (its duration is not "until the resume ended")
    assert (quick["started"], quick["finished"], quick["duration"]) == (
        quick_before["started"], quick_before["finished"], quick_before["duration"])
    assert quick["duration"] < 5
    slow = jobs_of(after)["slow"]
    assert slow["started"] >= two["started"]  # the job that ran again: its own start
    (step,) = slow["steps"]
    assert [(a["run_attempt"], a["status"]) for a in step["attempt_rows"]] == [(1, "canceled"), (2, "completed")]

    text = wfrun("status", "1").out
    assert "attempt 1 (run): canceled (exit 143)" in text and "attempt 2 (resume): completed (exit 0)" in text
    assert "run attempt 1 #1 canceled" in text and "run attempt 2 #1 completed" in text


def test_a_failed_attempt_is_kept_when_a_resume_runs_the_step_again(wfrun, write, tmp_path):
    wf = write("w.yaml", f"""
jobs:
  flaky:
    steps:
      - name: try
        run: |
          if [ ! -f {tmp_path}/again ]; then touch {tmp_path}/again; echo first; exit 3; fi
          echo second
""")
    r = wfrun(wf, "--no-live")
    assert r.code == 1
    r = wfrun("resume", "1", "--no-live")
    assert r.code == 0, r.out + r.err
    data = status(wfrun)
    (step,) = jobs_of(data)["flaky"]["steps"]
    assert [(a["run_attempt"], a["attempt"], a["status"], a["exit_code"]) for a in step["attempt_rows"]] == [
        (1, 0, "failed", 3), (2, 0, "completed", 0)]
    assert [(a["status"], a["exit_code"]) for a in data["attempts"]] == [("failed", 1), ("completed", 0)]
    assert data["started"] == data["attempts"][0]["started"]


def test_sigterm_records_the_exit_code_the_process_exits_with(wfrun, write, tmp_path):
    wf = write("w.yaml", f"jobs:\n  j:\n    steps:\n      - run: touch {tmp_path}/up; sleep 60\n")
    proc = start(wfrun, tmp_path, wf, "--no-live", "--grace", "1")
    wait_for(lambda: (tmp_path / "up").exists(), 30, "the step")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 143
    data = status(wfrun)
    assert (data["status"], data["exit_code"]) == ("canceled", 143)
    assert data["attempts"][0]["exit_code"] == 143
    assert json.loads(next(wfrun.home.glob("jobs/*/*/run.json")).read_text())["exit_code"] == 143


def test_logs_list_cleanups_in_the_order_they_ran(wfrun, write):
    wf = write("w.yaml", """
jobs:
  j:
    steps:
      - name: one
        run: echo step-one
        cleanup: echo cleanup-one
      - name: two
        run: echo step-two
        cleanup: echo cleanup-two
""")
    assert wfrun(wf, "--no-live").code == 0
    r = wfrun("logs", "1")
    assert r.code == 0, r.err
    order = [line.split()[-1] for line in r.out.splitlines() if line.split()[-1].startswith(("step-", "cleanup-"))]
    assert order == ["step-one", "step-two", "cleanup-two", "cleanup-one"]  # cleanups run last, newest first
    r = wfrun("logs", "1", "-f")
    order = [line.split()[-1] for line in r.out.splitlines() if line.split()[-1].startswith(("step-", "cleanup-"))]
    assert order == ["step-one", "step-two", "cleanup-two", "cleanup-one"]


def test_logs_follow_exits_with_the_code_of_the_run_it_follows(wfrun, write, tmp_path):
    wf = write("w.yaml", f"jobs:\n  j:\n    steps:\n      - run: touch {tmp_path}/up; sleep 2; echo bye; exit 4\n")
    proc = start(wfrun, tmp_path, wf, "--no-live")
    wait_for(lambda: (tmp_path / "up").exists(), 30, "the step")
    follow = wfrun("logs", "1", "-f", timeout=60)
    assert proc.wait(30) == 1
    assert "bye" in follow.out
    assert follow.code == 1, follow.out + follow.err
    wf2 = write("ok.yaml", "jobs:\n  j:\n    steps:\n      - run: echo fine\n")
    assert wfrun(wf2, "--no-live").code == 0
    assert wfrun("logs", "2", "-f").code == 0


V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow         TEXT    NOT NULL,
    file             TEXT    NOT NULL,
    run_dir          TEXT,
    status           TEXT    NOT NULL DEFAULT 'created',
    exit_code        INTEGER,
    pid              INTEGER,
    pid_start        INTEGER,
    hostname         TEXT,
    argv             TEXT    NOT NULL DEFAULT '[]',
    inputs           TEXT    NOT NULL DEFAULT '{}',
    secret_paths     TEXT    NOT NULL DEFAULT '[]',
    created          REAL    NOT NULL,
    started          REAL,
    finished         REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS jobs (
    run      INTEGER NOT NULL,
    key      TEXT    NOT NULL,
    status   TEXT    NOT NULL,
    reason   TEXT,
    started  REAL,
    finished REAL,
    outputs  TEXT,
    UNIQUE (run, key)
);
CREATE TABLE IF NOT EXISTS steps (
    run        INTEGER NOT NULL,
    job        TEXT    NOT NULL,
    step_index INTEGER NOT NULL,
    cleanup    INTEGER NOT NULL DEFAULT 0,
    name       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    exit_code  INTEGER,
    attempts   INTEGER NOT NULL DEFAULT 0,
    host       TEXT,
    started    REAL,
    finished   REAL,
    duration   REAL,
    log        TEXT,
    message    TEXT,
    outputs    TEXT,
    UNIQUE (run, job, step_index, cleanup, name)
);
CREATE TABLE IF NOT EXISTS attempts (
    run        INTEGER NOT NULL,
    job        TEXT    NOT NULL,
    step_index INTEGER NOT NULL,
    cleanup    INTEGER NOT NULL DEFAULT 0,
    name       TEXT    NOT NULL,
    attempt    INTEGER NOT NULL,
    host       TEXT,
    started    REAL,
    finished   REAL,
    status     TEXT    NOT NULL,
    exit_code  INTEGER,
    UNIQUE (run, job, step_index, cleanup, name, attempt)
);
CREATE TABLE IF NOT EXISTS batch_jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run          INTEGER NOT NULL,
    job          TEXT    NOT NULL,
    step_index   INTEGER NOT NULL,
    attempt      INTEGER NOT NULL DEFAULT 0,
    host         TEXT    NOT NULL,
    scheduler    TEXT    NOT NULL,
    job_name     TEXT    NOT NULL,
    rundir       TEXT    NOT NULL,
    jobid        TEXT,
    state        TEXT    NOT NULL,
    exit_code    INTEGER,
    intent_at    REAL    NOT NULL,
    submitted_at REAL,
    finished_at  REAL
);
CREATE INDEX IF NOT EXISTS batch_jobs_run ON batch_jobs (run, job, step_index, attempt);
"""
"""The run store's schema version 1, as released (a copy: the test must not follow later edits)."""


def test_a_version_1_store_is_migrated_with_its_history(wfrun, write, tmp_path):
    """A runs.db written before run attempts existed keeps its runs and step attempts."""
    home = wfrun.home
    home.mkdir(parents=True)
    conn = sqlite3.connect(home / "runs.db")
    conn.executescript(V1_SCHEMA)
    conn.execute("INSERT INTO runs (workflow, file, status, exit_code, created, started, finished)"
                 " VALUES ('w', '/x/w.yaml', 'failed', 1, 10.0, 11.0, 15.0)")
    conn.execute("INSERT INTO attempts (run, job, step_index, name, attempt, status, exit_code) VALUES (1, 'j', 0, 's', 0, 'failed', 3)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    data = status(wfrun)
    assert [(a["attempt"], a["status"], a["started"], a["finished"]) for a in data["attempts"]] == [(1, "failed", 11.0, 15.0)]
    assert data["ssh"] == {} and data["attempt"] == 1


LIST_PASSWORD = """
on:
  execute:
    inputs:
      creds:
        type: list
        template:
          user: {type: string}
          pw: {type: password}
jobs:
  login:
    steps:
      - run: |
          [ "${{ inputs.creds[0].user }}" = alice ] || exit 8
          [ "${{ inputs.creds[0].pw }}" = "Sw0rdfish-7" ] || exit 9
          echo "password is ${{ inputs.creds[0].pw }}"
          if [ ! -f %s/again ]; then touch %s/again; exit 5; fi
          echo logged in
"""


def test_a_password_inside_a_list_input_is_not_stored_and_can_be_given_again(wfrun, write, tmp_path):
    wf = write("w.yaml", LIST_PASSWORD % (tmp_path, tmp_path))
    r = wfrun(wf, "--no-live", "--set", 'creds=[{"user": "alice", "pw": "Sw0rdfish-7"}]')
    assert r.code == 1, r.out + r.err
    assert "password is ***" in r.out and "Sw0rdfish-7" not in r.out
    assert b"Sw0rdfish-7" not in (wfrun.home / "runs.db").read_bytes()
    assert status(wfrun)["secret_paths"] == ["creds[0].pw"]

    r = wfrun("resume", "1", "--no-live")
    assert r.code == 2
    assert r.err.strip().endswith("with --set creds[0].pw=... or --inputs FILE") and "creds[0].pw" in r.err

    r = wfrun("resume", "1", "--no-live", "--set", "creds[0].pw=Sw0rdfish-7")
    assert r.code == 0, r.out + r.err
    assert "logged in" in r.out and "Sw0rdfish-7" not in r.out  # alice came from the store, the password from --set
