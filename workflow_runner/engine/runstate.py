"""The state a run shares with its jobs, and the results they report: plain data, no behaviour of the loop.

Split from scheduler.py so that the job runtime (engine/job.py) and the run loop
(engine/scheduler.py) import it one way: scheduler → job → runstate, never back.
"""

from __future__ import annotations

import asyncio
from dataclasses import field
from pathlib import Path
from typing import Any, Awaitable, Callable, Protocol

from workflow_runner.engine.events import Reporter
from workflow_runner.engine.status import StatusView
from workflow_runner.engine.stepcall import ActionTable
from workflow_runner.graph import JobInstance
from workflow_runner.masking import mask_text
from workflow_runner.model import Workflow
from workflow_runner.records import Record, record
from workflow_runner.state.rundir import RunDir
from workflow_runner.targets.select import Targets


@record
class RunOptions(Record):
    """The run-wide settings every job reads (parallelism, grace period, user, org values)."""

    max_parallel: int = 2
    grace: float = 10.0
    cleanup_timeout: float = 300.0
    user: str = "user"
    org: dict[str, Any] = field(default_factory=dict)


@record
class Shared(Record):
    """What every (sub-)run of one wfrun invocation shares."""

    reporter: Reporter
    targets: Targets
    options: RunOptions
    local_slots: asyncio.Semaphore
    hurry: asyncio.Event = field(default_factory=asyncio.Event)
    secrets: list[str] = field(default_factory=list)
    any_failed: asyncio.Event = field(default_factory=asyncio.Event)
    pool: Any = None
    """engine.resources.ResourcePool: CPUs/memory/GPUs of this machine held by local step processes."""
    services: dict[Any, Any] = field(default_factory=dict)
    store: Any = None
    """state.store.RunStore of this run (None in tests that run the engine bare)."""
    run_number: int | None = None
    run_token: str = ""
    """Set in every local step's environment (WFRUN_RUN_TOKEN) so a resume can find leftovers of a killed wfrun."""
    """Per-run helpers shared by steps, e.g. one batch watcher per (host, scheduler)."""
    early_cancel: dict[asyncio.Task, Any] = field(default_factory=dict)
    """Running step tasks that asked for ``early-cancel: any-job-failed``, with their JobRun."""
    at_end: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Awaited once when the top-level run ends, after every job and cleanup, before RunFinished (open sessions)."""
    actions: ActionTable | None = None
    """The action table (engine.stepcall.ActionTable, built by actions.registry) handed in at start-up: the engine imports no action."""

    def step_failed(self) -> None:
        """A step failed for good: the run has a failed job; early-cancel steps must stop."""
        if self.any_failed.is_set():
            return
        self.any_failed.set()
        for job in list(self.early_cancel.values()):
            job.cancel("early-cancel: a job of the run failed", stop=False)

    def mask(self, text: str) -> str:
        """``text`` with the run's secrets masked (the list may grow: a called workflow adds its own)."""
        return mask_text(text, self.secrets)


@record
class Prior(Record):
    """What a previous session of a resumed run finished (from the run store)."""

    jobs: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    steps: dict[tuple[str, int], tuple[str, dict[str, str]]] = field(default_factory=dict)
    batch: dict[tuple[str, int], Any] = field(default_factory=dict)
    """(job key, step index) → the newest BatchRow: re-attach instead of resubmitting."""


@record
class JobResult(Record):
    """How a job ended: what ``needs.<job>`` gives the jobs after it."""

    status: str
    outputs: dict[str, str] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    reason: str | None = None


@record
class RunOutcome(Record):
    """How the whole run ended: the exit code, each job's result and the run's outputs."""

    status: str
    exit_code: int
    jobs: dict[str, JobResult]
    failures: list[tuple[str, str, str | None, str | None]]
    outputs: dict[str, str]
    duration: float


class RunView(Protocol):
    """What a job (engine/job.py) and its step calls need of the run that runs them (scheduler.RunEngine).

    A protocol, so the job runtime is typed without importing the run loop back.
    """

    workflow: Workflow
    inputs: Any
    run_dir: RunDir
    parent_run_dir: RunDir | None
    run_id: str
    prior: Prior | None
    calls: tuple[Path, ...]
    shared: Shared
    live: dict[str, Any]
    cancelled: bool
    cancel_reason: str | None
    failed_fast: set[str]

    def key(self, instance: JobInstance) -> str: ...

    def emit(self, event: Any) -> None: ...

    def record_failure(self, job: str, step: str, message: str | None, log: str | None) -> None: ...

    def job_changed(self, key: str, status: str, reason: str | None = None, outputs: dict[str, str] | None = None) -> None: ...

    def job_view(self, name: str) -> dict[str, Any]: ...

    def ancestors_view(self, instance: JobInstance) -> StatusView: ...

    def cancel_jobs(self, names: list[str], reason: str) -> list[str]: ...

    def matrix_failed(self, job_name: str, failed_key: str) -> None: ...

    async def start_nested(self, workflow: Any, inputs: Any, *, prefix: str, dir_name: str,
                           called_path: Any) -> tuple[RunOutcome, Any]: ...
