"""What the engine tells the outside world; renderers (ui/) and the run directory listen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol


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


def masked(event: Event, mask: Callable[[str], str]) -> Event:
    """The event with every secret in its text replaced (reasons, messages, outputs, failures).

    Applied once where events leave the engine, so no listener — events.jsonl,
    ``--json``, the screen, the run store — can forget it. Output lines and
    annotations come from StepLog, which masks them already.
    """
    if isinstance(event, StepOutput | StepAnnotation):
        return event
    changes = {name: _mask_value(getattr(event, name), mask) for name in event.__slots__}
    return type(event)(**changes)


def _mask_value(value: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _mask_value(v, mask) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_mask_value(v, mask) for v in value)
    if isinstance(value, list):
        return [_mask_value(v, mask) for v in value]
    return value
