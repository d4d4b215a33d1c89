"""The engine's events, recorded in the run store (``runs.db``).

:class:`StoreRecorder` is a reporter (``emit(event)``) that turns events into queued
writes of :class:`workflow_runner.state.writes.WriteQueue`: no I/O per event, cheap enough
for 10,000-job runs. It lives in the engine, not in ``state``, because it knows the
events; ``state`` knows only rows and SQL (state must not import the engine).

The engine reports only a step's final outcome, so a retried step's earlier attempts are
recorded as ``failed`` (exit code unknown) when the next attempt starts; the last attempt
gets the step's status and exit code.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from workflow_runner.engine.events import (
    Event, JobChanged, RunFinished, RunStarted, SessionChanged, StepFinished, StepStarted,
)
from workflow_runner.state.statuses import FINAL, RUNNING
from workflow_runner.state.store import RunStore


class StoreRecorder:
    """Records the events of run ``run`` in ``store``; ``mask`` hides secrets in messages and outputs."""

    def __init__(self, store: RunStore, run: int, mask: Callable[[str], str] | None = None) -> None:
        self.store = store
        self.writes = store.writes
        self.run = run
        self.mask = mask
        self.current: dict[tuple[str, int, int, str], int] = {}
        """(job, index, cleanup, step name) -> attempt number now running."""
        self.handlers: dict[type, Callable[[Any], None]] = {
            RunStarted: self._run_started, JobChanged: self._job_changed, StepStarted: self._step_started,
            StepFinished: self._step_finished, RunFinished: self._run_finished, SessionChanged: self._session_changed,
        }

    def emit(self, event: Event) -> None:
        handler = self.handlers.get(type(event))
        if handler is None:
            return  # output lines and annotations live in the log files
        writes = self.writes
        with writes.lock:
            handler(event)
            if type(event) is RunFinished:
                writes.final_flush()
            elif type(event) in (RunStarted, SessionChanged):  # a link is looked up (status --json) at once
                writes.flush_now_or_later()
            else:
                writes.flush_soon()

    def flush(self) -> None:
        self.store.flush()

    def _text(self, text: str | None) -> str | None:
        return text if text is None or self.mask is None else self.mask(text)

    def _masked(self, outputs: dict | None) -> dict | None:
        if not outputs or self.mask is None:
            return outputs
        return {k: self.mask(v) if isinstance(v, str) else v for k, v in outputs.items()}

    def _run_started(self, e: RunStarted) -> None:
        self.writes.run_started(self.run, e.run_dir, e.jobs)

    def _job_changed(self, e: JobChanged) -> None:
        now = time.time()
        self.writes.job_changed(self.run, e.job, e.status, self._text(e.reason),
                                now if e.status == RUNNING else None, now if e.status in FINAL else None)
        if e.outputs is not None:
            self.writes.job_outputs(self.run, e.job, self._masked(e.outputs))

    def _step_started(self, e: StepStarted) -> None:
        now = time.time()
        cleanup = 1 if e.cleanup else 0
        key = (e.job, e.index, cleanup, e.step)
        previous = self.current.get(key)
        if previous is not None and previous != e.attempt:
            self.writes.attempt_ended(self.run, e.job, e.index, cleanup, e.step, previous, "failed", None, now)
        self.current[key] = e.attempt
        self.writes.step_started(self.run, e.job, e.index, cleanup, e.step, e.attempt, e.host, now,
                                 getattr(e, "log", None))

    def _step_finished(self, e: StepFinished) -> None:
        now = time.time()
        cleanup = 1 if e.cleanup else 0
        self.writes.step_finished(self.run, e.job, e.index, cleanup, e.step, e.status, e.exit_code, e.duration, e.log,
                                  self._text(e.message), self._masked(e.outputs), now)
        attempt = self.current.pop((e.job, e.index, cleanup, e.step), None)
        if attempt is not None:
            self.writes.attempt_ended(self.run, e.job, e.index, cleanup, e.step, attempt, e.status, e.exit_code, now)

    def _session_changed(self, e: SessionChanged) -> None:
        from workflow_runner.state.sessionrows import session_params  # runs without sessions never load it

        self.writes.session_changed(session_params(self.run, e.name, e.job, e.step, e.url, e.local_port, e.remote, e.via,
                                                   e.state, e.status, e.redirect, self._text(e.message), e.spec,
                                                   time.time()))

    def _run_finished(self, e: RunFinished) -> None:
        self.writes.run_finished(self.run, e.status, e.exit_code)
