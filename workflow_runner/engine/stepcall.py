"""The narrow interface between the engine and an action: what a ``uses:`` step may see and do.

Actions (``actions/``) import this module and the engine's pure helpers (status, context,
durations, outputs) — never the runtime (``job``, ``scheduler``, ``call``). The engine hands
each ``uses:`` step a :class:`StepCall`; everything an action did before by reaching into
``job.engine.shared`` goes through one of its methods, so the engine's internals can change
without touching an action, and an action cannot set a job's state behind the engine's back.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, AsyncContextManager, Awaitable, Callable, Mapping, Protocol

from workflow_runner.expressions import Context
from workflow_runner.records import ReadOnly, Record, frozen, record
from workflow_runner.model import Step, Workflow
from workflow_runner.targets.base import Target


@frozen
class Placement(ReadOnly):
    """Where a step runs and the paths it sees there."""

    target: Target
    job_dir: str
    parent_dir: str
    cwd: str
    local: bool = False
    """True when ``target`` is this machine (local slots, local ``$OUTPUTS`` files)."""


@record
class StepOutcome(Record):
    """How a step attempt ended, as the engine records it (status, exit code, outputs, why)."""

    status: str
    exit_code: int | None = None
    outputs: dict[str, str] | None = None
    message: str | None = None


class StepLog(Protocol):
    """The step's log: ``line`` is output (masked, annotated, streamed), ``note`` is wfrun's own remark."""

    last_error: str | None

    def line(self, text: str) -> None: ...

    def note(self, text: str) -> None: ...


class BatchLedger(Protocol):
    """The run store's batch rows of this step (write-ahead: a resume re-attaches instead of resubmitting)."""

    def batch_intent(self, *, attempt: int, host: str, scheduler: str, job_name: str, rundir: str) -> int: ...

    def batch_submitted(self, batch_id: int | None, jobid: str) -> None: ...

    def batch_state(self, batch_id: int, state: str) -> None: ...

    def batch_finished(self, batch_id: int, state: str, exit_code: int | None) -> None: ...


@record
class NestedOutcome(Record):
    """A called workflow's end, as the calling step sees it."""

    status: str
    outputs: dict[str, str]
    failures: list[tuple[str, str, str | None, str | None]]
    job_view: Callable[[str], dict[str, Any]]


class StepCall(Protocol):
    """One attempt of one ``uses:`` step, as its action sees it."""

    step: Step
    workflow: Workflow
    placement: Placement
    env: dict[str, str]
    log: StepLog
    job_key: str
    job_name: str
    run_id: str
    run_token: str
    grace: float
    hurry: asyncio.Event
    calls: tuple[Path, ...]
    batch: BatchLedger | None
    """None when the engine runs without a run store (tests, bare engines)."""

    def context(self, env: Mapping[str, str] | None = None) -> Context: ...

    def locate(self, *path: str) -> Any: ...

    def target(self, host: str, jump: str | None = None) -> Target: ...

    def is_local(self, target: Target) -> bool: ...

    def job_dir_on(self, target: Target, home: str) -> str: ...

    def termination(self) -> tuple[int, float] | None: ...

    def service(self, key: tuple, make: Callable[[], Any]) -> Any: ...

    def prior_batch(self) -> Any: ...

    async def run_script(self, script: str, *, env: Mapping[str, str] | None = None) -> StepOutcome: ...

    def held_locally(self) -> AsyncContextManager[dict[str, str]]:
        """Hold the job's share of this machine (pool resources, a ``--max-parallel`` slot) while an action's own
        local process runs; yields the GPU visibility variables (``CUDA_VISIBLE_DEVICES``…) it must see."""
        ...

    def set_output(self, name: str, value: str) -> None: ...

    def cancel_self(self, reason: str) -> None: ...

    def cancel_jobs(self, names: list[str], reason: str) -> list[str]: ...

    def add_secrets(self, values: Any) -> None: ...

    async def start_nested_run(self, workflow: Workflow, inputs: Any, called_path: Path | None) -> NestedOutcome: ...

    def emit(self, event: Any) -> None:
        """Report an event of ``engine.events`` (masked like the engine's own) to the screen, events.jsonl, the store."""
        ...

    def at_run_end(self, close: Callable[[], Awaitable[None]]) -> None:
        """Await ``close()`` when the whole run ends — after its last cleanup, before RunFinished — whatever the
        outcome (a session's tunnel: it belongs to the run, not to this step)."""
        ...


Action = Callable[[StepCall], Awaitable[StepOutcome]]


class ActionTable(Protocol):
    """What the engine is handed at start-up (``Shared.actions``): it runs every ``uses:`` step."""

    async def run_uses(self, call: StepCall) -> StepOutcome: ...
