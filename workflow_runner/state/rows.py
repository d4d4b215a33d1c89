"""The rows the run store hands out: frozen dataclasses (their status words are in state/statuses.py)."""

from __future__ import annotations

import json
import time
from typing import Any

from workflow_runner.records import ReadOnly, frozen
from workflow_runner.state.statuses import (  # noqa: F401 (the words rows use, importable from here too)
    BLOCKED, CREATED, FINAL, INTERRUPTED, RUN_FINAL, RUNNING,
)

# ------------------------------------------------------------------ rows


@frozen
class RunRow(ReadOnly):
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


@frozen
class JobRow(ReadOnly):
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


@frozen
class StepRow(ReadOnly):
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


@frozen
class RunAttemptRow(ReadOnly):
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


@frozen
class AttemptRow(ReadOnly):
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


@frozen
class BatchRow(ReadOnly):
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


RUN_COLS = ("id, workflow, file, run_dir, status, exit_code, pid, pid_start, hostname, argv, inputs, secret_paths,"
            " created, started, finished, cancel_requested, ssh, attempt")
"""The columns of ``runs`` in :class:`RunRow`'s order (for ``SELECT {RUN_COLS} FROM runs``)."""


def run_row(r: tuple) -> RunRow:
    """A ``runs`` row selected with :data:`RUN_COLS`."""
    return RunRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]), json.loads(r[10]),
                  json.loads(r[11]), r[12], r[13], r[14], bool(r[15]), json.loads(r[16] or "{}"), r[17])


def job_row(r: tuple) -> JobRow:
    return JobRow(r[0], r[1], r[2], r[3], r[4], r[5], _loads(r[6]))


def step_row(r: tuple) -> StepRow:
    return StepRow(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], _loads(r[14]))
