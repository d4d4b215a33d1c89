"""The run store's write path: queued writes coalesced into short transactions.

Event writes (a job changed, a step started ...) are queued in memory and written in one
short transaction at most every ``flush_interval`` seconds (a timer on the running event loop
flushes the tail): the write lock is held only for the few milliseconds of a flush, never
between events, so several wfrun processes can record at once. A write that must precede an
action (a batch job's intent) uses :meth:`WriteQueue.transaction` with ``durable=True``, which
commits the queue first, in order. The event SQL lives here too, so SQL stays in ``state``;
:mod:`workflow_runner.engine.record` maps engine events onto these methods.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from workflow_runner.backoff import Backoff

RETRY = Backoff(1.0, cap=30.0)
"""After the n-th failed flush in a row, the next try waits RETRY.delay(n - 1): 1, 2, 4 ... 30 s."""

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
RUN_FINISHED = "UPDATE runs SET status = ?, exit_code = ?, finished = ? WHERE id = ?"
RUN_ATTEMPT_FINISHED = ("UPDATE run_attempts SET status = ?, exit_code = ?, finished = ?"
                         " WHERE run = ? AND attempt = (SELECT attempt FROM runs WHERE id = ?)")

JOB_OUTPUTS = "UPDATE jobs SET outputs = ? WHERE run = ? AND key = ?"


class WriteQueue:
    """The one connection's write side: a lock, the queued writes and when to flush them. Thread-safe."""

    def __init__(self, conn: sqlite3.Connection, path: Path, flush_interval: float) -> None:
        self.conn = conn
        self.path = path
        self.flush_interval = flush_interval
        self.lock = threading.RLock()
        self.pending: list[tuple[str, tuple]] = []
        self.last_flush = time.monotonic()
        self.timer: asyncio.TimerHandle | None = None
        self.warned = False
        self.failures = 0
        """Failed flushes in a row (0 after a good one)."""
        self.retry_at = 0.0

    @contextmanager
    def transaction(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the queued writes first; ``durable`` fsyncs the commit.

        If anything fails, the transaction is rolled back and the queued writes are kept for the next try.
        """
        with self.lock:
            pending, self.pending = self.pending, []
            if durable:
                self.conn.execute("PRAGMA synchronous = FULL")
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    for sql, group in itertools.groupby(pending, key=lambda item: item[0]):
                        self.conn.executemany(sql, [params for _, params in group])
                    yield self.conn
                    self.conn.execute("COMMIT")
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise
            except BaseException:
                self.pending = pending + self.pending
                raise
            finally:
                if durable:
                    self.conn.execute("PRAGMA synchronous = NORMAL")
            self.last_flush = time.monotonic()

    def queue(self, sql: str, params: tuple) -> None:
        """Queue one write (call with :attr:`lock` held, then :meth:`flush_soon`)."""
        self.pending.append((sql, params))

    def flush(self) -> None:
        """Write the queued writes now (one transaction)."""
        with self.lock:
            self.cancel_timer()
            if not self.pending:
                self.last_flush = time.monotonic()
                return
            with self.transaction():
                pass

    def flush_now_or_later(self) -> None:
        """A flush from the event stream: a locked or full database must not stop the run.

        The writes stay queued; after a failure the next try waits 1, 2, 4 ... 30 s (each try may
        block for the busy timeout, and the event loop must keep going)."""
        if time.monotonic() < self.retry_at:
            return
        try:
            self.flush()
        except sqlite3.Error as exc:
            self.failures += 1
            self.retry_at = time.monotonic() + RETRY.delay(self.failures - 1)
            if not self.warned:
                self.warned = True
                print(f"wfrun: warning: run store {self.path}: {exc} (will retry)", file=sys.stderr)
        else:
            self.failures = 0

    def final_flush(self) -> None:
        """The end of a run (or of the store) is always worth a try, back-off or not."""
        self.retry_at = 0.0
        self.flush_now_or_later()

    def flush_soon(self) -> None:
        """Flush if ``flush_interval`` has passed, else make sure a timer on the running loop will."""
        elapsed = time.monotonic() - self.last_flush
        if elapsed >= self.flush_interval and time.monotonic() >= self.retry_at:
            self.flush_now_or_later()
        elif self.timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self.timer = loop.call_later(self.flush_interval - elapsed, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        if self.pending:
            self.flush_now_or_later()

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    # ------------------------------------------------------------ event writes (lock held by the caller)

    def run_started(self, run: int, run_dir: str, jobs: tuple[str, ...] | list[str]) -> None:
        self.queue(_RUN_STARTED, (time.time(), run_dir, run))
        for key in jobs:
            self.queue(_JOB_ANNOUNCED, (run, key))

    def job_changed(self, run: int, job: str, status: str, reason: str | None, started: float | None,
                    finished: float | None) -> None:
        self.queue(_JOB_CHANGED, (run, job, status, reason, started, finished))

    def job_outputs(self, run: int, job: str, outputs: dict) -> None:
        self.queue(JOB_OUTPUTS, (json.dumps(outputs), run, job))

    def step_started(self, run: int, job: str, index: int, cleanup: int, step: str, attempt: int, host: str | None,
                     now: float, log: str | None) -> None:
        """Attempt ``attempt`` (0-based) of a step begins: the step row and its attempt row."""
        self.queue(_STEP_STARTED, (run, job, index, cleanup, step, attempt + 1, host, now, log))
        self.queue(_ATTEMPT_STARTED, (run, run, job, index, cleanup, step, attempt, host, now))

    def attempt_ended(self, run: int, job: str, index: int, cleanup: int, step: str, attempt: int, status: str,
                      exit_code: int | None, now: float) -> None:
        self.queue(_ATTEMPT_ENDED, (status, exit_code, now, run, run, job, index, cleanup, step, attempt))

    def step_finished(self, run: int, job: str, index: int, cleanup: int, step: str, status: str,
                      exit_code: int | None, duration: float | None, log: str | None, message: str | None,
                      outputs: dict | None, now: float) -> None:
        self.queue(_STEP_FINISHED, (run, job, index, cleanup, step, status, exit_code, duration, log, message,
                                    json.dumps(outputs) if outputs else None, now))

    def session_changed(self, params: tuple) -> None:
        """A session opened, reconnects or closed (``state/sessionrows.session_params``)."""
        from workflow_runner.state.sessionrows import SESSION_CHANGED  # runs without sessions never load it

        self.queue(SESSION_CHANGED, params)

    def run_finished(self, run: int, status: str, exit_code: int | None) -> None:
        now = time.time()
        self.queue(RUN_FINISHED, (status, exit_code, now, run))
        self.queue(RUN_ATTEMPT_FINISHED, (status, exit_code, now, run, run))
