"""What the engine tells the outside world; renderers (ui/) and the run directory listen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RunStarted:
    run_id: str
    run_dir: str
    workflow: str
    jobs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JobChanged:
    job: str
    status: str
    reason: str | None = None
    outputs: dict[str, str] | None = None
    """Set with a final status: the job's outputs (needs.<job>.outputs)."""


@dataclass(frozen=True, slots=True)
class StepStarted:
    job: str
    step: str
    attempt: int = 0
    host: str = "local"
    index: int = -1
    """The step's 0-based position in its job (-1 for job-level checks); cleanups share their step's."""
    cleanup: bool = False


@dataclass(frozen=True, slots=True)
class StepOutput:
    job: str
    step: str
    line: str


@dataclass(frozen=True, slots=True)
class StepAnnotation:
    job: str
    step: str
    level: str
    message: str
    title: str | None = None


@dataclass(frozen=True, slots=True)
class StepFinished:
    job: str
    step: str
    status: str
    exit_code: int | None
    duration: float
    log: str | None
    message: str | None = None
    index: int = -1
    cleanup: bool = False
    outputs: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class RunFinished:
    status: str
    exit_code: int
    duration: float
    failures: tuple[tuple[str, str, str | None, str | None], ...]
    """(job, step, message, log path) for every failed step."""


Event = RunStarted | JobChanged | StepStarted | StepOutput | StepAnnotation | StepFinished | RunFinished


class Reporter(Protocol):
    def emit(self, event: Event) -> None: ...
