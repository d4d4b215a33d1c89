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
    sessions    run, name, job, step, url, local_port, remote, via, state, status, redirect,
                message, spec, opened, changed       (run, name) unique; see state/sessionrows.py

Writes from the event stream (:class:`workflow_runner.engine.record.StoreRecorder`) are
queued in memory (:class:`workflow_runner.state.writes.WriteQueue`) and written in one short
transaction at most every ``flush_interval`` seconds (a timer on the running event loop
flushes the tail) and always at ``RunFinished``: the write lock is held only for the few
milliseconds of a flush, never between events, so several wfrun processes can record at once. Writes that must precede an action
(:meth:`RunStore.batch_intent` before ``sbatch``/``qsub``, :meth:`batch_submitted`
right after) are committed — and fsync'ed — before the method returns.

Secrets: the store writes what it is given. Callers MUST pass inputs already
masked (``ResolvedInputs.masked()``); :meth:`RunStore.new_run` additionally
replaces any of the ``secrets`` values it is handed in argv and inputs, and a
``StoreRecorder`` can be given the engine's ``mask`` for step messages and outputs.

Statuses (torc's life cycle where it fits): runs are ``created``, ``running``,
``completed``, ``failed``, ``canceled`` or ``interrupted`` (its process died
without recording an outcome — see :meth:`RunStore.refresh_liveness`); jobs and
steps are ``blocked``, ``running``, ``completed``, ``failed``, ``skipped``,
``canceled`` or ``interrupted``.

The schema and migrations live in :mod:`.schema`, the row types in :mod:`.rows`, the write
queue and the event SQL in :mod:`.writes`; this module re-exports the names its users import.
"""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from workflow_runner.masking import masker
from workflow_runner.state.process import pid_alive, process_start
from workflow_runner.state.schema import SCHEMA_VERSION, migrate, open_database
from workflow_runner.state.statuses import (  # noqa: F401 (re-exported: the store's users import them from here)
    BLOCKED, CREATED, FINAL, INTERRUPTED, RUN_FINAL, RUNNING,
)
from workflow_runner.state.secrets import secret_paths_of  # noqa: F401 (re-exported)
from workflow_runner.state.writes import RUN_ATTEMPT_FINISHED, RUN_FINISHED, WriteQueue

if TYPE_CHECKING:
    from workflow_runner.state.rows import AttemptRow, BatchRow, JobRow, RunAttemptRow, RunRow, StepRow
    from workflow_runner.state.sessionrows import SessionRow

_FROM_ROWS = frozenset({"RUN_COLS", "AttemptRow", "BatchRow", "JobRow", "RunAttemptRow", "RunRow", "StepRow",
                        "job_row", "run_row", "step_row"})


def __getattr__(name: str) -> Any:
    """The row types of state/rows.py (and RUN_COLS), which the store's readers import from here.

    Loaded on first use, not with the store: a run writes rows and reads none, and
    creating the row dataclasses was a visible share of every run's start-up.
    """
    if name in _FROM_ROWS:
        return getattr(_rows(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _rows() -> Any:
    from workflow_runner.state import rows

    return rows


def default_path() -> Path:
    from workflow_runner.state.rundir import wfrun_home

    return wfrun_home() / "runs.db"


# ------------------------------------------------------------------ the store


class RunStore:
    """One connection to ``runs.db``. Thread-safe; one per process is enough."""

    def __init__(self, path: Path | str | None = None, *, flush_interval: float = 0.2) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.flush_interval = flush_interval
        self.hostname = socket.gethostname()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = open_database(self.path)
        self.writes = WriteQueue(self.conn, self.path, flush_interval)
        """The write side: queued event writes, their lock and flush timing."""
        self._migrate()

    # -------------------------------------------------------------- plumbing

    def _migrate(self) -> None:
        from workflow_runner.errors import WorkflowError

        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise WorkflowError(f"{self.path} was written by a newer wfrun (schema {version}, this one knows {SCHEMA_VERSION})")
        if version == SCHEMA_VERSION:
            return
        with self._write():
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have been first
            migrate(self.conn, version)

    def _write(self, durable: bool = False) -> Any:
        return self.writes.transaction(durable)

    def flush(self) -> None:
        """Write the queued event writes now (one transaction)."""
        self.writes.flush()

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.writes.lock:
            if self.writes.pending and not self.conn.in_transaction:
                self.writes.flush_now_or_later()
            return self.conn.execute(sql, params).fetchall()

    def next_number(self) -> int:
        """The number the next new run gets, unless another process takes it first (AUTOINCREMENT's rule)."""
        row = self._read("SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'runs'), 0),"
                         " COALESCE((SELECT MAX(id) FROM runs), 0))")
        return int(row[0][0]) + 1

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one consistent state of the database."""
        with self.writes.lock:
            if self.writes.pending:
                self.writes.flush_now_or_later()
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
        with self.writes.lock:
            try:
                if self.writes.pending:
                    self.writes.final_flush()
            finally:
                self.writes.cancel_timer()
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
            conn.execute(RUN_FINISHED, (status, exit_code, now, run))
            conn.execute(RUN_ATTEMPT_FINISHED, (status, exit_code, now, run, run))

    def run_attempts(self, run: int) -> list[RunAttemptRow]:
        rows = self._read("SELECT run, attempt, pid, hostname, started, finished, status, exit_code FROM run_attempts"
                          " WHERE run = ? ORDER BY attempt", (run,))
        return [_rows().RunAttemptRow(*r) for r in rows]

    def request_cancel(self, run: int) -> None:
        with self._write() as conn:
            conn.execute("UPDATE runs SET cancel_requested = 1 WHERE id = ?", (run,))

    def cancel_requested(self, run: int) -> bool:
        rows = self._read("SELECT cancel_requested FROM runs WHERE id = ?", (run,))
        return bool(rows and rows[0][0])

    def get_run(self, run: int) -> RunRow | None:
        rows = self._read(f"SELECT {_rows().RUN_COLS} FROM runs WHERE id = ?", (run,))
        return _rows().run_row(rows[0]) if rows else None

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
        rows = self._read(f"SELECT {_rows().RUN_COLS} FROM runs WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                          (*params, limit if limit > 0 else -1))
        return [_rows().run_row(r) for r in rows]

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
        return [_rows().job_row(r) for r in rows]

    def steps(self, run: int, job: str | None = None) -> list[StepRow]:
        """Steps in job order (the order the run announced its jobs), then step order, cleanups after their step."""
        where, params = ("s.run = ? AND s.job = ?", (run, job)) if job is not None else ("s.run = ?", (run,))
        rows = self._read(
            "SELECT s.run, s.job, s.step_index, s.cleanup, s.name, s.status, s.exit_code, s.attempts, s.host, s.started,"
            " s.finished, s.duration, s.log, s.message, s.outputs FROM steps s"
            " LEFT JOIN jobs j ON j.run = s.run AND j.key = s.job"
            f" WHERE {where} ORDER BY j.rowid IS NULL, j.rowid, s.job, s.step_index, s.cleanup, s.rowid", params)
        return [_rows().step_row(r) for r in rows]

    def attempts(self, run: int) -> list[AttemptRow]:
        rows = self._read(
            "SELECT a.run, a.run_attempt, a.job, a.step_index, a.cleanup, a.name, a.attempt, a.host, a.started, a.finished,"
            " a.status, a.exit_code FROM attempts a LEFT JOIN jobs j ON j.run = a.run AND j.key = a.job WHERE a.run = ?"
            " ORDER BY j.rowid IS NULL, j.rowid, a.job, a.step_index, a.cleanup, a.name, a.run_attempt, a.attempt", (run,))
        return [_rows().AttemptRow(r[0], r[1], r[2], r[3], bool(r[4]), *r[5:]) for r in rows]

    def set_job_outputs(self, run: int, job: str, outputs: dict[str, str]) -> None:
        """A job's final outputs (JobChanged does not carry them); queued like event writes."""
        with self.writes.lock:
            self.writes.job_outputs(run, job, outputs)
            self.writes.flush_soon()


    # -------------------------------------------------------------- sessions

    def sessions(self, run: int) -> list[SessionRow]:
        """The interactive sessions of ``run`` (state/sessionrows.py), oldest first."""
        from workflow_runner.state import sessionrows

        return [sessionrows.session_row(r) for r in self._read(sessionrows.SELECT_RUN, (run,))]

    def open_sessions(self) -> list[SessionRow]:
        """Every run's sessions last recorded as open, starting or reconnecting."""
        from workflow_runner.state import sessionrows

        return [sessionrows.session_row(r) for r in self._read(sessionrows.SELECT_OPEN)]

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
        with self.writes.lock:
            self.writes.queue("UPDATE batch_jobs SET state = ? WHERE id = ? AND finished_at IS NULL", (state, batch_id))
            self.writes.flush_soon()

    def batch_finished(self, batch_id: int, state: str, exit_code: int | None) -> None:
        with self._write() as conn:
            conn.execute("UPDATE batch_jobs SET state = ?, exit_code = ?, finished_at = ? WHERE id = ?",
                         (state, exit_code, time.time(), batch_id))

    def batch_jobs(self, run: int) -> list[BatchRow]:
        rows = self._read(
            "SELECT id, run, job, step_index, attempt, host, scheduler, job_name, rundir, jobid, state, exit_code,"
            " intent_at, submitted_at, finished_at FROM batch_jobs WHERE run = ? ORDER BY id", (run,))
        return [_rows().BatchRow(*r) for r in rows]


