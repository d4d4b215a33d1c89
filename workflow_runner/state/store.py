"""The durable run store: every run, job, step, attempt and batch job in one SQLite file.

``$WFRUN_HOME/runs.db`` (WAL, ``synchronous=NORMAL``, 5 s busy timeout) is shared
by every wfrun process of this user: the one running a workflow writes, ``wfrun
runs``/``status``/``logs`` in another terminal read, ``wfrun cancel`` flags a run.

Tables (``PRAGMA user_version`` = :data:`SCHEMA_VERSION`)::

    runs        id (= the run number), workflow, file, run_dir, status, exit_code,
                pid, pid_start, hostname, argv, inputs, secret_paths, created,
                started, finished, cancel_requested, ssh, attempt
                (started: of the first attempt; status, exit_code, finished: of the newest)
    run_attempts run, attempt, pid, hostname, started, finished, status, exit_code
                one row per session of a run: 1 for ``wfrun run``, 2.. for each ``wfrun resume``
    jobs        run, key, status, reason, started, finished, outputs      (run, key) unique
    steps       run, job, step_index, cleanup, name, status, exit_code, attempts,
                host, started, finished, duration, log, message, outputs
                (run, job, step_index, cleanup, name) unique
    attempts    run, run_attempt, job, step_index, cleanup, name, attempt, host, started,
                finished, status, exit_code                 one row per try of a step in each run attempt
    batch_jobs  id, run, job, step_index, attempt, host, scheduler, job_name,
                rundir, jobid, state, exit_code, intent_at, submitted_at, finished_at

Writes from the event stream (:meth:`RunStore.recorder`) are queued in memory and
written in one short transaction at most every ``flush_interval`` seconds (a timer
on the running event loop flushes the tail) and always at ``RunFinished``: the
write lock is held only for the few milliseconds of a flush, never between events,
so several wfrun processes can record at once. Writes that must precede an action
(:meth:`RunStore.batch_intent` before ``sbatch``/``qsub``, :meth:`batch_submitted`
right after) are committed — and fsync'ed — before the method returns.

Secrets: the store writes what it is given. Callers MUST pass inputs already
masked (``ResolvedInputs.masked()``); :meth:`RunStore.new_run` additionally
replaces any of the ``secrets`` values it is handed in argv and inputs, and a
recorder can be given the engine's ``mask`` for step messages and outputs.

Statuses (torc's life cycle where it fits): runs are ``created``, ``running``,
``completed``, ``failed``, ``canceled`` or ``interrupted`` (its process died
without recording an outcome — see :meth:`RunStore.refresh_liveness`); jobs and
steps are ``blocked``, ``running``, ``completed``, ``failed``, ``skipped``,
``canceled`` or ``interrupted``.

The engine reports only a step's final outcome, so a retried step's earlier
attempts are recorded as ``failed`` (exit code unknown) when the next attempt
starts; the last attempt gets the step's status and exit code.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import sqlite3
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from workflow_runner import inputpath
from workflow_runner.engine.events import Event, JobChanged, RunFinished, RunStarted, StepFinished, StepStarted
from workflow_runner.masking import masker

SCHEMA_VERSION = 2

CREATED = "created"
RUNNING = "running"
BLOCKED = "blocked"
INTERRUPTED = "interrupted"
RUN_FINAL = frozenset({"completed", "failed", "canceled", INTERRUPTED})
"""A run in one of these statuses will not change any more (unless resumed)."""
FINAL = frozenset({"completed", "failed", "skipped", "canceled", INTERRUPTED})
"""Final statuses of jobs and steps."""

_SCHEMA = """
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

_V2 = """
ALTER TABLE runs ADD COLUMN ssh TEXT NOT NULL DEFAULT '{}';
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET attempt = 1 WHERE started IS NOT NULL;
CREATE TABLE IF NOT EXISTS run_attempts (
    run       INTEGER NOT NULL,
    attempt   INTEGER NOT NULL,
    pid       INTEGER,
    hostname  TEXT,
    started   REAL    NOT NULL,
    finished  REAL,
    status    TEXT    NOT NULL,
    exit_code INTEGER,
    UNIQUE (run, attempt)
);
INSERT INTO run_attempts (run, attempt, pid, hostname, started, finished, status, exit_code)
    SELECT id, 1, pid, hostname, started, finished, status, exit_code FROM runs WHERE started IS NOT NULL;
CREATE TABLE attempts_v2 (
    run         INTEGER NOT NULL,
    run_attempt INTEGER NOT NULL DEFAULT 1,
    job         TEXT    NOT NULL,
    step_index  INTEGER NOT NULL,
    cleanup     INTEGER NOT NULL DEFAULT 0,
    name        TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    host        TEXT,
    started     REAL,
    finished    REAL,
    status      TEXT    NOT NULL,
    exit_code   INTEGER,
    UNIQUE (run, run_attempt, job, step_index, cleanup, name, attempt)
);
INSERT INTO attempts_v2 (run, run_attempt, job, step_index, cleanup, name, attempt, host, started, finished, status, exit_code)
    SELECT run, 1, job, step_index, cleanup, name, attempt, host, started, finished, status, exit_code FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_v2 RENAME TO attempts
"""
"""Version 2 keeps history across resumes: one ``run_attempts`` row per session of a run, step attempts
keyed by the run attempt they belong to (a resume no longer overwrites them), and the run's SSH options."""

_MIGRATIONS: dict[int, str] = {1: _SCHEMA, 2: _V2}
"""Schema version -> the SQL that brings version-1 to it. Add 2, 3, ... here; never edit a published one."""


def _apply_migrations(conn: sqlite3.Connection, version: int) -> None:
    """Bring a database at schema ``version`` to :data:`SCHEMA_VERSION` (inside the caller's transaction)."""
    for target in range(version + 1, SCHEMA_VERSION + 1):
        for statement in _MIGRATIONS[target].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {target}")


# ------------------------------------------------------------------ rows


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    workflow: str
    file: str
    run_dir: str | None
    status: str
    exit_code: int | None
    pid: int | None
    pid_start: int | None
    hostname: str | None
    argv: list[str]
    inputs: dict[str, Any]
    secret_paths: list[str]
    created: float
    started: float | None
    finished: float | None
    cancel_requested: bool
    ssh: dict[str, Any]
    """The SSH options the run was started (or last resumed) with: file paths, never secrets."""
    attempt: int
    """The newest attempt: 1 for the first session, +1 for each ``wfrun resume``; 0 before it starts."""

    @property
    def final(self) -> bool:
        return self.status in RUN_FINAL

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (to now while it runs); None if it never started."""
        if self.started is None:
            return None
        end = self.finished if self.finished is not None else (None if self.final else time.time())
        return None if end is None else max(0.0, end - self.started)


@dataclass(frozen=True, slots=True)
class JobRow:
    run: int
    key: str
    status: str
    reason: str | None
    started: float | None
    finished: float | None
    outputs: dict[str, str] | None

    @property
    def duration(self) -> float | None:
        return _span(self.started, self.finished, self.status)


@dataclass(frozen=True, slots=True)
class StepRow:
    run: int
    job: str
    index: int
    cleanup: bool
    name: str
    status: str
    exit_code: int | None
    attempts: int
    host: str | None
    started: float | None
    finished: float | None
    duration: float | None
    log: str | None
    message: str | None
    outputs: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class RunAttemptRow:
    """One session of a run: ``wfrun run`` is attempt 1, each ``wfrun resume`` the next."""

    run: int
    attempt: int
    pid: int | None
    hostname: str | None
    started: float
    finished: float | None
    status: str
    exit_code: int | None

    @property
    def duration(self) -> float | None:
        return _span(self.started, self.finished, self.status)


@dataclass(frozen=True, slots=True)
class AttemptRow:
    run: int
    run_attempt: int
    job: str
    index: int
    cleanup: bool
    name: str
    attempt: int
    host: str | None
    started: float | None
    finished: float | None
    status: str
    exit_code: int | None


@dataclass(frozen=True, slots=True)
class BatchRow:
    id: int
    run: int
    job: str
    step_index: int
    attempt: int
    host: str
    scheduler: str
    job_name: str
    rundir: str
    jobid: str | None
    state: str
    exit_code: int | None
    intent_at: float
    submitted_at: float | None
    finished_at: float | None


def _span(started: float | None, finished: float | None, status: str) -> float | None:
    if started is None:
        return None
    if finished is None:
        return max(0.0, time.time() - started) if status == RUNNING else None
    return max(0.0, finished - started)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# ------------------------------------------------------------------ helpers


def default_path() -> Path:
    from workflow_runner.state.rundir import wfrun_home

    return wfrun_home() / "runs.db"


def secret_paths_of(values: Any, secrets: Iterable[str], prefix: tuple = ()) -> list[str]:
    """Input paths (``a.b``, ``list[2]``, ``creds[0].pw``: :mod:`workflow_runner.inputpath`) whose string value holds one of ``secrets``."""
    secrets = [s for s in secrets if s]
    if not secrets:
        return []
    found: list[str] = []
    if isinstance(values, dict):
        for key, value in values.items():
            found += secret_paths_of(value, secrets, prefix + (str(key),))
    elif isinstance(values, list):
        for i, value in enumerate(values):
            found += secret_paths_of(value, secrets, prefix + (i,))
    elif isinstance(values, str) and any(s in values for s in secrets):
        found.append(inputpath.format(prefix))
    return found


def process_start(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), to tell a reused pid apart; None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:
        return int(data[data.rindex(b")") + 2 :].split()[19])
    except (ValueError, IndexError):
        return None


def pid_alive(pid: int, start: int | None = None) -> bool:
    """Is ``pid`` a live (non-zombie) process on this host — the same one that started at ``start``?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc (not Linux): kill(0) is all we know
    fields = data[data.rindex(b")") + 2 :].split()
    if fields[:1] in ([b"Z"], [b"X"]):
        return False
    if start is not None:
        try:
            return int(fields[19]) == start
        except (ValueError, IndexError):
            return True
    return True


# ------------------------------------------------------------------ the store


class RunStore:
    """One connection to ``runs.db``. Thread-safe; one per process is enough."""

    def __init__(self, path: Path | str | None = None, *, flush_interval: float = 0.2) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.flush_interval = flush_interval
        self.hostname = socket.gethostname()
        self._lock = threading.RLock()
        self._pending: list[tuple[str, tuple]] = []
        self._last_flush = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._warned = False
        self._failures = 0
        self._retry_at = 0.0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self._create()
        self.conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False,
                                    cached_statements=64)
        self.conn.execute("PRAGMA busy_timeout = 5000")
        self._use_wal()
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self._migrate()

    # -------------------------------------------------------------- plumbing

    def _use_wal(self) -> None:
        """Switch a new database to WAL. The switch needs an exclusive lock and SQLite does not wait
        for it when two processes open a fresh runs.db at once, so retry for up to the busy timeout."""
        deadline = time.monotonic() + 5.0
        while True:
            try:
                if self.conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self.conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _create(self) -> None:
        """Make a new runs.db whole, then link it into place: a reader never sees a file without tables.

        (``wfrun status`` in another terminal, or a test polling the file, would otherwise
        read an empty database between its creation and the schema.) ``os.link`` fails if another
        process was first; its database is then used. Inputs and argv live here: mode 0600
        (SQLite gives -wal/-shm the same mode).
        """
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.new")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("BEGIN IMMEDIATE")
                _apply_migrations(conn, 0)
                conn.execute("COMMIT")
            finally:
                conn.close()
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                pass
            except OSError:  # no hard links on this file system: a rename, unless someone was first
                if not self.path.exists():
                    os.rename(tmp, self.path)
        finally:
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                try:
                    os.unlink(leftover)
                except FileNotFoundError:
                    pass

    def _migrate(self) -> None:
        from workflow_runner.errors import WorkflowError

        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise WorkflowError(f"{self.path} was written by a newer wfrun (schema {version}, this one knows {SCHEMA_VERSION})")
        if version == SCHEMA_VERSION:
            return
        with self._write():
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have been first
            _apply_migrations(self.conn, version)

    @contextmanager
    def _write(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the queued event writes first; ``durable`` fsyncs the commit.

        If anything fails, the transaction is rolled back and the queued writes are kept for the next try.
        """
        with self._lock:
            pending, self._pending = self._pending, []
            if durable:
                self.conn.execute("PRAGMA synchronous = FULL")
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    self._apply(pending)
                    yield self.conn
                    self.conn.execute("COMMIT")
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise
            except BaseException:
                self._pending = pending + self._pending
                raise
            finally:
                if durable:
                    self.conn.execute("PRAGMA synchronous = NORMAL")
            self._last_flush = time.monotonic()

    def _apply(self, pending: list[tuple[str, tuple]]) -> None:
        for sql, group in itertools.groupby(pending, key=lambda item: item[0]):
            self.conn.executemany(sql, [params for _, params in group])

    def _queue(self, sql: str, params: tuple) -> None:
        self._pending.append((sql, params))

    def flush(self) -> None:
        """Write the queued event writes now (one transaction)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if not self._pending:
                self._last_flush = time.monotonic()
                return
            with self._write():
                pass

    def _soft_flush(self) -> None:
        """A flush from the event stream: a locked or full database must not stop the run.

        The writes stay queued; after a failure the next try waits 1, 2, 4 ... 30 s (each try may
        block for the busy timeout, and the event loop must keep going)."""
        if time.monotonic() < self._retry_at:
            return
        try:
            self.flush()
        except sqlite3.Error as exc:
            self._failures += 1
            self._retry_at = time.monotonic() + min(30.0, 2.0 ** (self._failures - 1))
            if not self._warned:
                self._warned = True
                print(f"wfrun: warning: run store {self.path}: {exc} (will retry)", file=sys.stderr)
        else:
            self._failures = 0

    def _maybe_flush(self) -> None:
        elapsed = time.monotonic() - self._last_flush
        if elapsed >= self.flush_interval and time.monotonic() >= self._retry_at:
            self._soft_flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._timer = loop.call_later(self.flush_interval - elapsed, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._pending:
            self._soft_flush()

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            if self._pending and not self.conn.in_transaction:
                self._soft_flush()
            return self.conn.execute(sql, params).fetchall()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one consistent state of the database."""
        with self._lock:
            if self._pending:
                self._soft_flush()
            if self.conn.in_transaction:
                yield
                return
            self.conn.execute("BEGIN")
            try:
                yield
            finally:
                self.conn.execute("COMMIT")

    def close(self) -> None:
        """Write what is queued and close; a store that cannot be written is reported, not raised."""
        with self._lock:
            try:
                if self._pending:
                    self._retry_at = 0.0
                    self._soft_flush()
            finally:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                self.conn.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -------------------------------------------------------------- runs

    def new_run(self, *, workflow: str, file: str, argv: list[str], inputs_masked: dict, secret_paths: list[str],
                secrets: Iterable[str] = (), ssh: dict[str, Any] | None = None) -> int:
        """A new run (status ``created``) owned by this process; returns its number.

        ``inputs_masked`` must already have password values masked: the store writes what it
        is given. Values in ``secrets`` are replaced by ``***`` in argv and inputs as well; a resume
        drops the entries at ``secret_paths`` and asks for them again.
        ``ssh`` are the run's SSH options (known_hosts, identity files: paths), for resume and cancel.
        """
        hide = masker(tuple(secrets))
        pid = os.getpid()
        with self._write(durable=True) as conn:
            cur = conn.execute(
                "INSERT INTO runs (workflow, file, status, pid, pid_start, hostname, argv, inputs, secret_paths, created, ssh)"
                " VALUES (?, ?, 'created', ?, ?, ?, ?, ?, ?, ?, ?)",
                (workflow, str(Path(file).absolute()), pid, process_start(pid), self.hostname,
                 json.dumps(hide.tree(list(argv))),
                 json.dumps(hide.tree(inputs_masked), default=str),
                 json.dumps(list(secret_paths)), time.time(), json.dumps(ssh or {})),
            )
            return int(cur.lastrowid)

    def set_ssh(self, run: int, ssh: dict[str, Any]) -> None:
        """The SSH options this session of ``run`` uses (a resume and ``wfrun cancel`` reuse them)."""
        with self._write() as conn:
            conn.execute("UPDATE runs SET ssh = ? WHERE id = ?", (json.dumps(ssh), run))

    def set_run_dir(self, run: int, run_dir: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE runs SET run_dir = ? WHERE id = ?", (str(run_dir), run))

    def set_owner(self, run: int, pid: int | None = None, hostname: str | None = None) -> None:
        """Make ``pid`` (default: this process) on ``hostname`` the run's owner, e.g. when resuming it."""
        pid = os.getpid() if pid is None else pid
        with self._write() as conn:
            conn.execute("UPDATE runs SET pid = ?, pid_start = ?, hostname = ? WHERE id = ?",
                         (pid, process_start(pid), hostname or self.hostname, run))

    def run_started(self, run: int) -> int:
        """A new attempt of ``run`` begins in this process (1 for ``wfrun run``, 2.. for a resume); its number.

        The run keeps the start of its first attempt. A resume clears an old cancel request:
        resuming a canceled run means continuing it (a request made before the first attempt
        started still stands).
        """
        now = time.time()
        pid = os.getpid()
        with self._write() as conn:
            conn.execute("UPDATE runs SET status = 'running', started = COALESCE(started, ?), finished = NULL,"
                         " exit_code = NULL, cancel_requested = CASE WHEN attempt > 0 THEN 0 ELSE cancel_requested END,"
                         " attempt = attempt + 1 WHERE id = ?", (now, run))
            attempt = conn.execute("SELECT attempt FROM runs WHERE id = ?", (run,)).fetchone()[0]
            conn.execute("INSERT OR REPLACE INTO run_attempts (run, attempt, pid, hostname, started, status)"
                         " VALUES (?, ?, ?, ?, ?, 'running')", (run, attempt, pid, self.hostname, now))
        return int(attempt)

    def run_finished(self, run: int, status: str, exit_code: int) -> None:
        now = time.time()
        with self._write() as conn:
            conn.execute(_RUN_FINISHED, (status, exit_code, now, run))
            conn.execute(_RUN_ATTEMPT_FINISHED, (status, exit_code, now, run, run))

    def run_attempts(self, run: int) -> list[RunAttemptRow]:
        rows = self._read("SELECT run, attempt, pid, hostname, started, finished, status, exit_code FROM run_attempts"
                          " WHERE run = ? ORDER BY attempt", (run,))
        return [RunAttemptRow(*r) for r in rows]

    def request_cancel(self, run: int) -> None:
        with self._write() as conn:
            conn.execute("UPDATE runs SET cancel_requested = 1 WHERE id = ?", (run,))

    def cancel_requested(self, run: int) -> bool:
        rows = self._read("SELECT cancel_requested FROM runs WHERE id = ?", (run,))
        return bool(rows and rows[0][0])

    def get_run(self, run: int) -> RunRow | None:
        rows = self._read(f"SELECT {_RUN_COLS} FROM runs WHERE id = ?", (run,))
        return _run_row(rows[0]) if rows else None

    def list_runs(self, limit: int = 20, *, workflow: str | None = None, statuses: Iterable[str] = (),
                  before: int | None = None) -> list[RunRow]:
        """Newest first; optionally only ``workflow``'s, only these ``statuses``, only numbers below ``before`` (paging)."""
        where, params = ["1"], []
        if workflow is not None:
            where.append("workflow = ?")
            params.append(workflow)
        statuses = list(statuses)
        if statuses:
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            params += statuses
        if before is not None:
            where.append("id < ?")
            params.append(before)
        rows = self._read(f"SELECT {_RUN_COLS} FROM runs WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                          (*params, limit if limit > 0 else -1))
        return [_run_row(r) for r in rows]

    def newest_run(self) -> int | None:
        rows = self._read("SELECT MAX(id) FROM runs")
        return rows[0][0] if rows else None

    def refresh_liveness(self, run: int) -> RunRow | None:
        """A run still ``created``/``running`` whose process on this host is gone becomes ``interrupted``.

        Its running jobs, steps and attempts become ``interrupted`` too; blocked jobs stay
        blocked and batch jobs keep their state (they may still be queued: resume re-attaches).
        A run owned by another host cannot be checked and is returned unchanged.
        """
        row = self.get_run(run)
        if row is None or row.final or row.hostname != self.hostname or row.pid is None:
            return row
        if pid_alive(row.pid, row.pid_start):
            return row
        now = time.time()
        with self._write() as conn:
            cur = conn.execute("UPDATE runs SET status = 'interrupted', finished = COALESCE(finished, ?)"
                               " WHERE id = ? AND status IN ('created', 'running')", (now, run))
            if cur.rowcount:
                conn.execute("UPDATE jobs SET status = 'interrupted', finished = ? WHERE run = ? AND status = 'running'", (now, run))
                conn.execute("UPDATE steps SET status = 'interrupted', finished = ? WHERE run = ? AND status = 'running'", (now, run))
                conn.execute("UPDATE attempts SET status = 'interrupted', finished = ? WHERE run = ? AND status = 'running'", (now, run))
                conn.execute("UPDATE run_attempts SET status = 'interrupted', finished = ? WHERE run = ? AND status = 'running'",
                             (now, run))
        return self.get_run(run)

    # -------------------------------------------------------------- jobs, steps

    def jobs(self, run: int) -> list[JobRow]:
        rows = self._read("SELECT run, key, status, reason, started, finished, outputs FROM jobs WHERE run = ? ORDER BY rowid", (run,))
        return [JobRow(r[0], r[1], r[2], r[3], r[4], r[5], _loads(r[6])) for r in rows]

    def steps(self, run: int, job: str | None = None) -> list[StepRow]:
        """Steps in job order (the order the run announced its jobs), then step order, cleanups after their step."""
        where, params = ("s.run = ? AND s.job = ?", (run, job)) if job is not None else ("s.run = ?", (run,))
        rows = self._read(
            "SELECT s.run, s.job, s.step_index, s.cleanup, s.name, s.status, s.exit_code, s.attempts, s.host, s.started,"
            " s.finished, s.duration, s.log, s.message, s.outputs FROM steps s"
            " LEFT JOIN jobs j ON j.run = s.run AND j.key = s.job"
            f" WHERE {where} ORDER BY j.rowid IS NULL, j.rowid, s.job, s.step_index, s.cleanup, s.rowid", params)
        return [StepRow(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], _loads(r[14]))
                for r in rows]

    def attempts(self, run: int) -> list[AttemptRow]:
        rows = self._read(
            "SELECT a.run, a.run_attempt, a.job, a.step_index, a.cleanup, a.name, a.attempt, a.host, a.started, a.finished,"
            " a.status, a.exit_code FROM attempts a LEFT JOIN jobs j ON j.run = a.run AND j.key = a.job WHERE a.run = ?"
            " ORDER BY j.rowid IS NULL, j.rowid, a.job, a.step_index, a.cleanup, a.name, a.run_attempt, a.attempt", (run,))
        return [AttemptRow(r[0], r[1], r[2], r[3], bool(r[4]), *r[5:]) for r in rows]

    def set_job_outputs(self, run: int, job: str, outputs: dict[str, str]) -> None:
        """A job's final outputs (JobChanged does not carry them); queued like event writes."""
        with self._lock:
            self._queue(_JOB_OUTPUTS, (json.dumps(outputs), run, job))
            self._maybe_flush()

    def recorder(self, run: int, *, mask: Callable[[str], str] | None = None) -> "StoreRecorder":
        """A reporter (``emit(event)``) recording the engine's events of ``run``; ``mask`` hides secrets in messages/outputs."""
        return StoreRecorder(self, run, mask)

    # -------------------------------------------------------------- batch jobs

    def batch_intent(self, run: int, *, job: str, step_index: int, attempt: int, host: str, scheduler: str,
                     job_name: str, rundir: str) -> int:
        """Record a batch job about to be submitted; committed (and fsync'ed) before this returns."""
        with self._write(durable=True) as conn:
            cur = conn.execute(
                "INSERT INTO batch_jobs (run, job, step_index, attempt, host, scheduler, job_name, rundir, state, intent_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'intent', ?)",
                (run, job, step_index, attempt, host, scheduler, job_name, rundir, time.time()))
            return int(cur.lastrowid)

    def batch_submitted(self, batch_id: int, jobid: str) -> None:
        """The scheduler accepted the job as ``jobid``; committed (and fsync'ed) before this returns."""
        with self._write(durable=True) as conn:
            conn.execute("UPDATE batch_jobs SET jobid = ?, state = 'submitted', submitted_at = ? WHERE id = ?",
                         (str(jobid), time.time(), batch_id))

    def batch_state(self, batch_id: int, state: str) -> None:
        """An intermediate scheduler state (PENDING, RUNNING, ...); queued like event writes."""
        with self._lock:
            self._queue("UPDATE batch_jobs SET state = ? WHERE id = ? AND finished_at IS NULL", (state, batch_id))
            self._maybe_flush()

    def batch_finished(self, batch_id: int, state: str, exit_code: int | None) -> None:
        with self._write() as conn:
            conn.execute("UPDATE batch_jobs SET state = ?, exit_code = ?, finished_at = ? WHERE id = ?",
                         (state, exit_code, time.time(), batch_id))

    def batch_jobs(self, run: int) -> list[BatchRow]:
        rows = self._read(
            "SELECT id, run, job, step_index, attempt, host, scheduler, job_name, rundir, jobid, state, exit_code,"
            " intent_at, submitted_at, finished_at FROM batch_jobs WHERE run = ? ORDER BY id", (run,))
        return [BatchRow(*r) for r in rows]


_JOB_OUTPUTS = "UPDATE jobs SET outputs = ? WHERE run = ? AND key = ?"

_RUN_COLS = ("id, workflow, file, run_dir, status, exit_code, pid, pid_start, hostname, argv, inputs, secret_paths,"
             " created, started, finished, cancel_requested, ssh, attempt")


def _run_row(r: tuple) -> RunRow:
    return RunRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]), json.loads(r[10]),
                  json.loads(r[11]), r[12], r[13], r[14], bool(r[15]), json.loads(r[16] or "{}"), r[17])


# ------------------------------------------------------------------ the recorder

_RUN_STARTED = "UPDATE runs SET status = 'running', started = COALESCE(started, ?), run_dir = COALESCE(run_dir, ?) WHERE id = ?"
_JOB_ANNOUNCED = "INSERT OR IGNORE INTO jobs (run, key, status) VALUES (?, ?, 'blocked')"
_JOB_CHANGED = (
    "INSERT INTO jobs (run, key, status, reason, started, finished) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (run, key) DO UPDATE SET status = excluded.status, reason = excluded.reason,"
    " started = CASE WHEN excluded.status = 'running' AND jobs.status != 'running' THEN excluded.started"
    " ELSE COALESCE(jobs.started, excluded.started) END, finished = excluded.finished"
    # A job a resume carries over goes from completed to completed: it keeps its times and reason.
    " WHERE NOT (jobs.status = excluded.status AND jobs.finished IS NOT NULL AND excluded.finished IS NOT NULL)"
)
_STEP_STARTED = (
    "INSERT INTO steps (run, job, step_index, cleanup, name, status, attempts, host, started, log)"
    " VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)"
    " ON CONFLICT (run, job, step_index, cleanup, name) DO UPDATE SET status = 'running', attempts = excluded.attempts,"
    " host = excluded.host, finished = NULL, log = COALESCE(excluded.log, steps.log),"
    " started = CASE WHEN excluded.attempts = 1 OR steps.started IS NULL THEN excluded.started ELSE steps.started END"
)
_THIS_ATTEMPT = "(SELECT MAX(1, attempt) FROM runs WHERE id = ?)"
_ATTEMPT_STARTED = (
    "INSERT INTO attempts (run, run_attempt, job, step_index, cleanup, name, attempt, host, started, status)"
    f" VALUES (?, {_THIS_ATTEMPT}, ?, ?, ?, ?, ?, ?, ?, 'running')"
    " ON CONFLICT (run, run_attempt, job, step_index, cleanup, name, attempt) DO UPDATE SET host = excluded.host,"
    " started = excluded.started, status = 'running', finished = NULL, exit_code = NULL"
)
_ATTEMPT_ENDED = (
    "UPDATE attempts SET status = ?, exit_code = ?, finished = ?"
    f" WHERE run = ? AND run_attempt = {_THIS_ATTEMPT} AND job = ? AND step_index = ? AND cleanup = ? AND name = ? AND attempt = ?"
)
_STEP_FINISHED = (
    "INSERT INTO steps (run, job, step_index, cleanup, name, status, exit_code, duration, log, message, outputs, finished)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (run, job, step_index, cleanup, name) DO UPDATE SET status = excluded.status, exit_code = excluded.exit_code,"
    " duration = excluded.duration, log = COALESCE(excluded.log, steps.log), message = excluded.message,"
    " outputs = excluded.outputs, finished = excluded.finished"
    # A step a resume carries over goes from completed to completed: it keeps its duration, log and message.
    " WHERE NOT (steps.status = excluded.status AND steps.finished IS NOT NULL)"
)
_RUN_FINISHED = "UPDATE runs SET status = ?, exit_code = ?, finished = ? WHERE id = ?"
_RUN_ATTEMPT_FINISHED = ("UPDATE run_attempts SET status = ?, exit_code = ?, finished = ?"
                         " WHERE run = ? AND attempt = (SELECT attempt FROM runs WHERE id = ?)")


class StoreRecorder:
    """Turns engine events into queued writes; cheap enough for 10,000-job runs (no I/O per event)."""

    def __init__(self, store: RunStore, run: int, mask: Callable[[str], str] | None = None) -> None:
        self.store = store
        self.run = run
        self.mask = mask
        self.current: dict[tuple[str, int, int, str], int] = {}
        """(job, index, cleanup, step name) -> attempt number now running."""
        self.handlers: dict[type, Callable[[Any], None]] = {
            RunStarted: self._run_started, JobChanged: self._job_changed, StepStarted: self._step_started,
            StepFinished: self._step_finished, RunFinished: self._run_finished,
        }

    def emit(self, event: Event) -> None:
        handler = self.handlers.get(type(event))
        if handler is None:
            return  # output lines and annotations live in the log files
        with self.store._lock:
            handler(event)
            if type(event) is RunFinished:
                self.store._retry_at = 0.0  # the end of the run is always worth a try
                self.store._soft_flush()
            elif type(event) is RunStarted:
                self.store._soft_flush()
            else:
                self.store._maybe_flush()

    def flush(self) -> None:
        self.store.flush()

    def _text(self, text: str | None) -> str | None:
        return text if text is None or self.mask is None else self.mask(text)

    def _run_started(self, e: RunStarted) -> None:
        q = self.store._queue
        q(_RUN_STARTED, (time.time(), e.run_dir, self.run))
        for key in e.jobs:
            q(_JOB_ANNOUNCED, (self.run, key))

    def _job_changed(self, e: JobChanged) -> None:
        now = time.time()
        self.store._queue(_JOB_CHANGED, (self.run, e.job, e.status, self._text(e.reason),
                                         now if e.status == RUNNING else None, now if e.status in FINAL else None))
        if e.outputs is not None:
            outputs = {k: self.mask(v) if isinstance(v, str) and self.mask else v for k, v in e.outputs.items()}
            self.store._queue(_JOB_OUTPUTS, (json.dumps(outputs), self.run, e.job))

    def _step_started(self, e: StepStarted) -> None:
        now = time.time()
        cleanup = 1 if e.cleanup else 0
        key = (e.job, e.index, cleanup, e.step)
        q = self.store._queue
        previous = self.current.get(key)
        if previous is not None and previous != e.attempt:
            q(_ATTEMPT_ENDED, ("failed", None, now, self.run, self.run, e.job, e.index, cleanup, e.step, previous))
        self.current[key] = e.attempt
        q(_STEP_STARTED, (self.run, e.job, e.index, cleanup, e.step, e.attempt + 1, e.host, now, getattr(e, "log", None)))
        q(_ATTEMPT_STARTED, (self.run, self.run, e.job, e.index, cleanup, e.step, e.attempt, e.host, now))

    def _step_finished(self, e: StepFinished) -> None:
        now = time.time()
        cleanup = 1 if e.cleanup else 0
        outputs = e.outputs
        if outputs and self.mask is not None:
            outputs = {k: self.mask(v) if isinstance(v, str) else v for k, v in outputs.items()}
        q = self.store._queue
        q(_STEP_FINISHED, (self.run, e.job, e.index, cleanup, e.step, e.status, e.exit_code, e.duration, e.log,
                           self._text(e.message), json.dumps(outputs) if outputs else None, now))
        attempt = self.current.pop((e.job, e.index, cleanup, e.step), None)
        if attempt is not None:
            q(_ATTEMPT_ENDED, (e.status, e.exit_code, now, self.run, self.run, e.job, e.index, cleanup, e.step, attempt))

    def _run_finished(self, e: RunFinished) -> None:
        now = time.time()
        self.store._queue(_RUN_FINISHED, (e.status, e.exit_code, now, self.run))
        self.store._queue(_RUN_ATTEMPT_FINISHED, (e.status, e.exit_code, now, self.run, self.run))
