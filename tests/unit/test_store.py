"""The run store (state/store.py): schema, write-ahead batch records, coalesced event writes,
several connections at once, secrets, liveness, and the rows a synthetic event stream leaves.

Timing lives in bench/bench_store.py; these tests only check behaviour.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from workflow_runner.engine.events import (
    JobChanged, RunFinished, RunStarted, StepAnnotation, StepFinished, StepOutput, StepStarted,
)
from workflow_runner.engine.record import StoreRecorder
from workflow_runner.errors import WorkflowError
from workflow_runner.state import store as store_mod
from workflow_runner.state.store import SCHEMA_VERSION, RunStore, pid_alive, process_start, secret_paths_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "home" / "runs.db"


@pytest.fixture
def store(db):
    s = RunStore(db)
    yield s
    s.close()


def new_run(store: RunStore, workflow: str = "demo", **kw) -> int:
    args = dict(workflow=workflow, file="demo.yaml", argv=["wfrun", "demo.yaml"], inputs_masked={"n": 1}, secret_paths=[])
    args.update(kw)
    return store.new_run(**args)


def other(db: Path) -> sqlite3.Connection:
    """A second, independent connection (like another wfrun process)."""
    conn = sqlite3.connect(db, timeout=5, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# ------------------------------------------------------------------ schema


def test_schema_created_versioned_wal_private(db, store):
    conn = other(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "jobs", "steps", "attempts", "batch_jobs"} <= tables
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert db.stat().st_mode & 0o077 == 0, "runs.db holds inputs and argv: owner only"
    run = new_run(store)
    for f in db.parent.glob("runs.db-*"):
        assert f.stat().st_mode & 0o077 == 0, f
    conn.close()
    store.close()
    again = RunStore(db)  # reopening keeps the data and does not re-create anything
    assert again.get_run(run).workflow == "demo"
    again.close()


def test_default_path_is_under_wfrun_home(tmp_path, monkeypatch):
    monkeypatch.setenv("WFRUN_HOME", str(tmp_path / "h"))
    s = RunStore()
    assert s.path == tmp_path / "h" / "runs.db" and s.path.exists()
    s.close()


def test_newer_schema_is_refused(db, store):
    store.close()
    conn = other(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(WorkflowError, match="newer wfrun"):
        RunStore(db)


def test_two_processes_creating_the_store_at_once(tmp_path):
    db = tmp_path / "runs.db"
    code = f"from workflow_runner.state.store import RunStore; s = RunStore({str(db)!r}); " \
           "print(s.new_run(workflow='w', file='f', argv=[], inputs_masked={}, secret_paths=[])); s.close()"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    ids = sorted(int(p.communicate(timeout=60)[0]) for p in procs)
    assert [p.returncode for p in procs] == [0] * 4
    assert ids == [1, 2, 3, 4]


# ------------------------------------------------------------------ runs


def test_new_run_fields(store):
    run = new_run(store, argv=["wfrun", "demo.yaml", "-j", "2"], inputs_masked={"a": {"b": "x"}}, secret_paths=["a.c"])
    row = store.get_run(run)
    assert row.id == run and row.status == "created" and not row.final
    assert row.file == str(Path("demo.yaml").absolute())
    assert row.pid == os.getpid() and row.hostname == socket.gethostname()
    assert row.pid_start == process_start(os.getpid())
    assert row.argv == ["wfrun", "demo.yaml", "-j", "2"]
    assert row.inputs == {"a": {"b": "x"}} and row.secret_paths == ["a.c"]
    assert row.started is None and row.finished is None and row.exit_code is None and not row.cancel_requested
    store.set_run_dir(run, "/tmp/x/00001")
    store.run_started(run)
    row = store.get_run(run)
    assert row.status == "running" and row.started is not None and row.run_dir == "/tmp/x/00001"
    store.run_finished(run, "failed", 1)
    row = store.get_run(run)
    assert (row.status, row.exit_code, row.final) == ("failed", 1, True)
    assert row.duration is not None and row.duration >= 0


def test_list_runs_newest_first_and_limit(store):
    ids = [new_run(store, workflow=f"w{i}") for i in range(5)]
    assert [r.id for r in store.list_runs()] == ids[::-1]
    assert [r.id for r in store.list_runs(limit=2)] == ids[:-3:-1]
    assert len(store.list_runs(limit=0)) == 5
    assert store.newest_run() == ids[-1]
    assert store.get_run(ids[-1] + 1) is None


def test_cancel_flag(db, store):
    run = new_run(store)
    assert not store.cancel_requested(run)
    canceller = RunStore(db)  # e.g. `wfrun cancel` in another terminal
    canceller.request_cancel(run)
    canceller.close()
    assert store.cancel_requested(run)
    assert store.get_run(run).cancel_requested


# ------------------------------------------------------------------ secrets


def test_secrets_never_reach_the_database_file(db, store):
    """new_run writes what it is given (callers MUST mask inputs); the secrets it is handed are scrubbed
    from argv and inputs too, and a recorder's mask covers step messages, reasons and outputs."""
    secret = "hunter2-Sup3rS3cret"
    values = {"db": {"user": "me", "password": secret}, "hosts": ["a", f"x{secret}"]}
    paths = secret_paths_of(values, [secret])
    assert paths == ["db.password", "hosts[1]"]
    masked = {"db": {"user": "me", "password": "***"}, "hosts": ["a", "x***"]}
    run = store.new_run(workflow="s", file="s.yaml", argv=["wfrun", "s.yaml", "--set", f"db.password={secret}"],
                        inputs_masked=masked, secret_paths=paths, secrets=[secret])
    row = store.get_run(run)
    assert row.inputs == masked and row.secret_paths == paths
    assert row.argv[-1] == "db.password=***"
    rec = StoreRecorder(store, run, mask=lambda text: text.replace(secret, "***"))
    rec.emit(RunStarted("1", "/tmp/r", "s", ("a",)))
    rec.emit(JobChanged("a", "running"))
    rec.emit(StepStarted("a", "login", 0, "local", 0))
    rec.emit(StepOutput("a", "login", f"echo {secret}"))
    rec.emit(StepFinished("a", "login", "failed", 1, 0.1, "/tmp/r/log", f"bad password {secret}", 0,
                          outputs={"token": secret}))
    rec.emit(JobChanged("a", "failed", f"login failed with {secret}"))
    rec.emit(RunFinished("failed", 1, 0.2, ()))
    store.close()
    raw = b"".join(p.read_bytes() for p in db.parent.glob("runs.db*"))
    assert b"db.password=***" in raw or b"***" in raw  # the data is there ...
    assert secret.encode() not in raw  # ... the secret is not (runs.db, -wal, -shm)


def test_store_writes_what_it_is_given(store):
    """The documented contract: new_run does not guess what is secret; masking is the caller's job."""
    run = store.new_run(workflow="s", file="s.yaml", argv=[], inputs_masked={"pw": "***", "x": "plain"}, secret_paths=["pw"])
    assert store.get_run(run).inputs == {"pw": "***", "x": "plain"}


# ------------------------------------------------------------------ event stream -> rows


def stream(run_dir: str = "/tmp/run") -> list:
    return [
        RunStarted("7", run_dir, "demo", ("prep", "build (linux)", "test")),
        JobChanged("prep", "running"),
        StepStarted("prep", "fetch", 0, "local", 0),
        StepOutput("prep", "fetch", "hello"),
        StepAnnotation("prep", "fetch", "notice", "note"),
        StepFinished("prep", "fetch", "completed", 0, 0.5, f"{run_dir}/logs/prep/01-fetch.log", None, 0, outputs={"x": "1"}),
        JobChanged("prep", "completed"),
        JobChanged("build (linux)", "running"),
        StepStarted("build (linux)", "compile", 0, "cluster", 0),
        StepStarted("build (linux)", "compile", 1, "cluster", 0),
        StepStarted("build (linux)", "compile", 2, "cluster", 0),
        StepFinished("build (linux)", "compile", "failed", 2, 3.0, f"{run_dir}/logs/build_linux/01-compile.log", "exit code 2", 0),
        StepFinished("build (linux)", "package", "skipped", None, 0.0, None, "an earlier step failed", 1),
        StepStarted("build (linux)", "compile (cleanup)", 0, "cluster", 0, cleanup=True),
        StepFinished("build (linux)", "compile (cleanup)", "completed", 0, 0.2,
                     f"{run_dir}/logs/build_linux/01-compile.cleanup.log", None, 0, cleanup=True),
        JobChanged("build (linux)", "failed", "exit code 2"),
        JobChanged("test", "skipped", "a job it needs failed"),
        RunFinished("failed", 1, 4.0, (("build (linux)", "compile", "exit code 2", "log"),)),
    ]


def test_rows_from_a_synthetic_event_stream(store):
    run = new_run(store)
    store.run_started(run)
    rec = StoreRecorder(store, run)
    for e in stream():
        rec.emit(e)
    row = store.get_run(run)
    assert (row.status, row.exit_code, row.run_dir) == ("failed", 1, "/tmp/run")
    assert row.finished is not None

    jobs = store.jobs(run)
    assert [(j.key, j.status, j.reason) for j in jobs] == [
        ("prep", "completed", None), ("build (linux)", "failed", "exit code 2"), ("test", "skipped", "a job it needs failed")]
    assert jobs[0].started is not None and jobs[0].finished >= jobs[0].started and jobs[0].duration >= 0
    assert jobs[2].started is None and jobs[2].finished is not None

    steps = store.steps(run)
    assert [(s.job, s.index, s.cleanup, s.name, s.status, s.exit_code, s.attempts) for s in steps] == [
        ("prep", 0, False, "fetch", "completed", 0, 1),
        ("build (linux)", 0, False, "compile", "failed", 2, 3),
        ("build (linux)", 0, True, "compile (cleanup)", "completed", 0, 1),
        ("build (linux)", 1, False, "package", "skipped", None, 0),
    ]
    fetch, compile_, cleanup, package = steps
    assert fetch.outputs == {"x": "1"} and fetch.duration == 0.5 and fetch.host == "local"
    assert fetch.log == "/tmp/run/logs/prep/01-fetch.log"
    assert compile_.host == "cluster" and compile_.message == "exit code 2"
    assert package.started is None and package.message == "an earlier step failed" and package.log is None
    assert [s.name for s in store.steps(run, job="prep")] == ["fetch"]

    attempts = store.attempts(run)
    assert [(a.job, a.name, a.attempt, a.status, a.exit_code) for a in attempts] == [
        ("prep", "fetch", 0, "completed", 0),
        ("build (linux)", "compile", 0, "failed", None),
        ("build (linux)", "compile", 1, "failed", None),
        ("build (linux)", "compile", 2, "failed", 2),
        ("build (linux)", "compile (cleanup)", 0, "completed", 0),
    ]
    assert all(a.finished is not None for a in attempts)


def test_running_step_is_visible_as_running(store):
    run = new_run(store)
    rec = StoreRecorder(store, run)
    rec.emit(RunStarted("1", "/r", "demo", ("a", "b")))
    rec.emit(JobChanged("a", "running"))
    rec.emit(StepStarted("a", "long", 0, "host1", 0))
    assert store.get_run(run).status == "running"
    assert [(j.key, j.status) for j in store.jobs(run)] == [("a", "running"), ("b", "blocked")]
    (step,) = store.steps(run)
    assert (step.status, step.attempts, step.host, step.finished) == ("running", 1, "host1", None)


def test_job_level_failures_without_index(store):
    """_fail_job reports 'env'/'if' failures as StepFinished with index -1 and no log."""
    run = new_run(store)
    rec = StoreRecorder(store, run)
    rec.emit(RunStarted("1", "/r", "demo", ("a",)))
    rec.emit(JobChanged("a", "running"))
    rec.emit(StepFinished("a", "env", "failed", None, 0.0, None, "bad expression"))
    rec.emit(StepFinished("a", "second", "failed", None, 0.0, None, "bad if"))
    rec.emit(JobChanged("a", "failed", "bad expression"))
    rec.emit(RunFinished("failed", 1, 0.1, ()))
    assert [(s.index, s.name, s.status) for s in store.steps(run)] == [(-1, "env", "failed"), (-1, "second", "failed")]


def test_job_outputs_and_unannounced_jobs(store):
    run = new_run(store)
    rec = StoreRecorder(store, run)
    rec.emit(RunStarted("1", "/r", "demo", ("a",)))
    rec.emit(JobChanged("a/s/child", "running"))  # a sub-workflow's job: not in RunStarted
    rec.emit(JobChanged("a", "completed"))
    store.set_job_outputs(run, "a", {"out": "v"})
    rec.emit(RunFinished("completed", 0, 0.1, ()))
    jobs = {j.key: j for j in store.jobs(run)}
    assert jobs["a"].outputs == {"out": "v"} and jobs["a/s/child"].status == "running"


def test_ten_thousand_jobs_are_recorded(store):
    """Correctness at scale (the timing is in bench/bench_store.py)."""
    n = 10_000
    run = new_run(store)
    rec = StoreRecorder(store, run)
    rec.emit(RunStarted("1", "/r", "big", tuple(f"j{i}" for i in range(n))))
    for i in range(n):
        job = f"j{i}"
        rec.emit(JobChanged(job, "running"))
        rec.emit(StepStarted(job, "echo", 0, "local", 0))
        rec.emit(StepFinished(job, "echo", "completed", 0, 0.01, f"/r/{job}.log", None, 0))
        rec.emit(JobChanged(job, "completed"))
    rec.emit(RunFinished("completed", 0, 1.0, ()))
    conn = store.conn
    assert conn.execute("SELECT count(*) FROM jobs WHERE run = ? AND status = 'completed'", (run,)).fetchone()[0] == n
    assert conn.execute("SELECT count(*) FROM steps WHERE run = ? AND status = 'completed'", (run,)).fetchone()[0] == n
    assert conn.execute("SELECT count(*) FROM attempts WHERE run = ?", (run,)).fetchone()[0] == n


# ------------------------------------------------------------------ commits


def test_event_writes_are_coalesced_and_committed_at_run_finished(db):
    store = RunStore(db, flush_interval=3600)
    reader = other(db)
    run = new_run(store)
    rec = StoreRecorder(store, run)
    rec.emit(RunStarted("1", "/r", "demo", ("a",)))  # committed at once: the run is visible as running
    assert reader.execute("SELECT status FROM runs WHERE id = ?", (run,)).fetchone()[0] == "running"
    rec.emit(JobChanged("a", "running"))
    rec.emit(StepStarted("a", "s", 0, "local", 0))
    rec.emit(StepFinished("a", "s", "completed", 0, 0.1, "/r/log", None, 0))
    rec.emit(JobChanged("a", "completed"))
    assert reader.execute("SELECT status FROM jobs WHERE run = ?", (run,)).fetchone()[0] == "blocked"
    assert reader.execute("SELECT count(*) FROM steps").fetchone()[0] == 0, "not committed per event"
    rec.emit(RunFinished("completed", 0, 0.2, ()))
    assert reader.execute("SELECT status FROM jobs WHERE run = ?", (run,)).fetchone()[0] == "completed"
    assert reader.execute("SELECT status, exit_code FROM steps").fetchone() == ("completed", 0)
    assert reader.execute("SELECT status FROM runs WHERE id = ?", (run,)).fetchone()[0] == "completed"
    store.close()


def test_commits_after_the_interval_from_the_stream(db):
    store = RunStore(db, flush_interval=0.05)
    reader = other(db)
    run = new_run(store)
    rec = StoreRecorder(store, run)
    rec.emit(RunStarted("1", "/r", "demo", ("a", "b")))
    rec.emit(JobChanged("a", "running"))
    time.sleep(0.1)
    rec.emit(JobChanged("b", "running"))  # the interval has passed: this event commits both
    assert reader.execute("SELECT count(*) FROM jobs WHERE status = 'running'").fetchone()[0] == 2
    store.close()


def test_timer_commits_the_tail_on_an_event_loop(db):
    """With no further event, a timer on the running loop commits what is queued."""
    store = RunStore(db, flush_interval=0.05)
    reader = other(db)
    run = new_run(store)
    rec = StoreRecorder(store, run)

    async def go() -> list:
        rec.emit(RunStarted("1", "/r", "demo", ("a",)))
        rec.emit(JobChanged("a", "running"))
        rec.emit(StepStarted("a", "long", 0, "local", 0))
        seen = [reader.execute("SELECT count(*) FROM steps").fetchone()[0]]
        await asyncio.sleep(0.3)
        seen.append(reader.execute("SELECT count(*) FROM steps").fetchone()[0])
        return seen

    assert asyncio.run(go()) == [0, 1]
    store.close()


def test_close_commits_what_is_queued(db):
    store = RunStore(db, flush_interval=3600)
    run = new_run(store)
    rec = StoreRecorder(store, run)
    rec.emit(RunStarted("1", "/r", "demo", ("a",)))
    rec.emit(JobChanged("a", "running"))
    store.close()
    assert other(db).execute("SELECT status FROM jobs").fetchone()[0] == "running"


def test_a_locked_database_does_not_stop_the_run(db, capsys):
    store = RunStore(db, flush_interval=0.0)
    store.conn.execute("PRAGMA busy_timeout = 50")
    run = new_run(store)
    rec = StoreRecorder(store, run)
    rec.emit(RunStarted("1", "/r", "demo", ("a",)))
    blocker = other(db)
    blocker.execute("BEGIN IMMEDIATE")
    rec.emit(JobChanged("a", "running"))  # cannot commit: warns, keeps it queued
    assert "will retry" in capsys.readouterr().err
    for i in range(20):  # backing off: the event loop is not blocked by a try per event
        rec.emit(StepStarted("a", "s", i, "local", 0))
    assert store.writes.failures == 1
    blocker.execute("ROLLBACK")
    rec.emit(JobChanged("a", "completed"))
    rec.emit(RunFinished("completed", 0, 0.1, ()))  # forces a try despite the back-off
    assert other(db).execute("SELECT status FROM runs").fetchone()[0] == "completed"
    assert [(j.key, j.status) for j in store.jobs(run)] == [("a", "completed")]
    store.close()


# ------------------------------------------------------------------ batch jobs (write-ahead)


def test_batch_intent_is_committed_before_submission(db):
    store = RunStore(db, flush_interval=3600)
    reader = other(db)
    run = new_run(store)
    rec = StoreRecorder(store, run)
    rec.emit(RunStarted("1", "/r", "demo", ("sim",)))
    rec.emit(JobChanged("sim", "running"))
    rec.emit(StepStarted("sim", "submit", 0, "cluster", 1))
    bid = store.batch_intent(run, job="sim", step_index=1, attempt=0, host="cluster", scheduler="slurm",
                             job_name="wfrun-1-sim-submit", rundir="/home/u/pw/jobs/demo/00001")
    # what a process restarted after SIGKILL would see, before sbatch was even called:
    got = reader.execute("SELECT job, step_index, job_name, jobid, state FROM batch_jobs WHERE id = ?", (bid,)).fetchone()
    assert got == ("sim", 1, "wfrun-1-sim-submit", None, "intent")
    # events queued before the intent are committed with it, in order
    assert reader.execute("SELECT status FROM steps WHERE job = 'sim'").fetchone()[0] == "running"
    store.batch_submitted(bid, "4242")
    assert reader.execute("SELECT jobid, state FROM batch_jobs WHERE id = ?", (bid,)).fetchone() == ("4242", "submitted")
    store.batch_state(bid, "RUNNING")
    store.flush()
    assert reader.execute("SELECT state FROM batch_jobs WHERE id = ?", (bid,)).fetchone()[0] == "RUNNING"
    store.batch_finished(bid, "COMPLETED", 0)
    (row,) = store.batch_jobs(run)
    assert (row.id, row.jobid, row.state, row.exit_code, row.scheduler, row.host) == (bid, "4242", "COMPLETED", 0, "slurm", "cluster")
    assert row.intent_at <= row.submitted_at <= row.finished_at
    store.batch_state(bid, "RUNNING")  # a late poll does not undo the final state
    assert store.batch_jobs(run)[0].state == "COMPLETED"
    store.close()


def test_batch_intent_survives_sigkill(tmp_path):
    """A process killed right after batch_intent (before sbatch) leaves the intent on disk."""
    db = tmp_path / "runs.db"
    code = (
        "import os, signal\n"
        "from workflow_runner.state.store import RunStore\n"
        "from workflow_runner.engine.record import StoreRecorder\n"
        f"s = RunStore({str(db)!r}, flush_interval=3600)\n"
        "run = s.new_run(workflow='w', file='f', argv=[], inputs_masked={}, secret_paths=[])\n"
        "s.batch_intent(run, job='j', step_index=0, attempt=0, host='h', scheduler='pbs', job_name='n', rundir='/d')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert proc.returncode == -9
    s = RunStore(db)
    (row,) = s.batch_jobs(1)
    assert (row.state, row.jobid, row.scheduler) == ("intent", None, "pbs")
    s.close()


# ------------------------------------------------------------------ concurrency


def test_readers_while_a_writer_writes(db):
    n = 3000
    writer = RunStore(db, flush_interval=0.005)
    run = new_run(writer)
    errors: list[BaseException] = []
    stop = threading.Event()
    seen: list[list[int]] = [[] for _ in range(3)]

    def read(i: int) -> None:
        try:
            s = RunStore(db)
            while not stop.is_set():
                with s.snapshot():
                    done = sum(1 for j in s.jobs(run) if j.status == "completed")
                    steps = s.steps(run)
                assert len(steps) >= done  # a job completes after its step: never the other way round
                seen[i].append(done)
                s.list_runs()
            s.close()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    readers = [threading.Thread(target=read, args=(i,)) for i in range(3)]
    for t in readers:
        t.start()
    rec = StoreRecorder(writer, run)
    rec.emit(RunStarted("1", "/r", "demo", tuple(f"j{i}" for i in range(n))))
    for i in range(n):
        rec.emit(JobChanged(f"j{i}", "running"))
        rec.emit(StepStarted(f"j{i}", "s", 0, "local", 0))
        rec.emit(StepFinished(f"j{i}", "s", "completed", 0, 0.0, None, None, 0))
        rec.emit(JobChanged(f"j{i}", "completed"))
    rec.emit(RunFinished("completed", 0, 1.0, ()))
    stop.set()
    for t in readers:
        t.join(30)
    writer.close()
    assert not errors, errors
    for counts in seen:
        assert counts and counts == sorted(counts), "readers only ever see progress"


def test_two_writing_processes(tmp_path):
    db = tmp_path / "runs.db"
    code = (
        "import sys\n"
        "from workflow_runner.engine.events import *\n"
        "from workflow_runner.state.store import RunStore\n"
        "from workflow_runner.engine.record import StoreRecorder\n"
        f"s = RunStore({str(db)!r}, flush_interval=0.002)\n"
        "run = s.new_run(workflow='w', file='f', argv=[], inputs_masked={}, secret_paths=[])\n"
        "rec = StoreRecorder(s, run)\n"
        "rec.emit(RunStarted('1', '/r', 'w', tuple(f'j{i}' for i in range(2000))))\n"
        "for i in range(2000):\n"
        "    rec.emit(JobChanged(f'j{i}', 'running'))\n"
        "    rec.emit(JobChanged(f'j{i}', 'completed'))\n"
        "    if i % 100 == 0: s.batch_intent(run, job=f'j{i}', step_index=0, attempt=0, host='h', scheduler='slurm', job_name='n', rundir='/d')\n"
        "rec.emit(RunFinished('completed', 0, 1.0, ()))\n"
        "s.close()\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert not any("warning" in e for e in errs), errs
    s = RunStore(db)
    for run in (1, 2):
        assert s.get_run(run).status == "completed"
        assert sum(1 for j in s.jobs(run) if j.status == "completed") == 2000
        assert len(s.batch_jobs(run)) == 20
    s.close()


# ------------------------------------------------------------------ liveness


def _running_run(store: RunStore) -> int:
    run = new_run(store)
    rec = StoreRecorder(store, run)
    rec.emit(RunStarted("1", "/r", "demo", ("a", "b")))
    rec.emit(JobChanged("a", "running"))
    rec.emit(StepStarted("a", "s", 0, "local", 0))
    store.flush()
    return run


def test_refresh_liveness_marks_a_dead_run_interrupted(store):
    run = _running_run(store)
    store.set_owner(run, dead_pid())
    row = store.refresh_liveness(run)
    assert row.status == "interrupted" and row.final and row.finished is not None
    assert [(j.key, j.status) for j in store.jobs(run)] == [("a", "interrupted"), ("b", "blocked")]
    assert [s.status for s in store.steps(run)] == ["interrupted"]
    assert [a.status for a in store.attempts(run)] == ["interrupted"]


def test_refresh_liveness_leaves_live_finished_and_foreign_runs(store):
    live = _running_run(store)  # owned by this (live) process
    assert store.refresh_liveness(live).status == "running"
    foreign = _running_run(store)
    store.set_owner(foreign, dead_pid(), hostname="some-other-host")
    assert store.refresh_liveness(foreign).status == "running", "another host's pid cannot be checked"
    done = new_run(store)
    store.run_finished(done, "completed", 0)
    store.set_owner(done, dead_pid())
    assert store.refresh_liveness(done).status == "completed"
    assert store.refresh_liveness(9999) is None


def test_refresh_liveness_sees_zombies_and_reused_pids(store):
    proc = subprocess.Popen(["sleep", "30"])
    try:
        run = _running_run(store)
        store.set_owner(run, proc.pid)
        assert store.refresh_liveness(run).status == "running"
        store.conn.execute("UPDATE runs SET pid_start = pid_start + 1 WHERE id = ?", (run,))  # a different process now has that pid
        assert store.refresh_liveness(run).status == "interrupted"
        run2 = _running_run(store)
        store.set_owner(run2, proc.pid)
        proc.kill()
        for _ in range(100):  # not reaped: a zombie is not a live wfrun
            if not pid_alive(proc.pid):
                break
            time.sleep(0.02)
        assert store.refresh_liveness(run2).status == "interrupted"
    finally:
        proc.kill()
        proc.wait()


def test_pid_alive():
    assert pid_alive(os.getpid(), process_start(os.getpid()))
    assert not pid_alive(dead_pid())
    assert not pid_alive(0) and not pid_alive(-5)
    assert pid_alive(1)  # init: someone else's process still counts as alive


def test_module_documents_masking_contract():
    assert "MUST pass inputs already" in store_mod.__doc__
