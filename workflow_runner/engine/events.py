"""What the engine tells the outside world; renderers (ui/) and the run directory listen."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Protocol

from workflow_runner.records import ReadOnly, frozen


@frozen
class RunStarted(ReadOnly):
    """The run began: its id, directory and the jobs it will report on."""

    run_id: str
    run_dir: str
    workflow: str
    jobs: tuple[str, ...]


@frozen
class JobChanged(ReadOnly):
    """A job's status changed (blocked, running, or final with its outputs)."""

    job: str
    status: str
    reason: str | None = None
    outputs: dict[str, str] | None = None
    """Set with a final status: the job's outputs (needs.<job>.outputs)."""


@frozen
class StepStarted(ReadOnly):
    """An attempt of a step started on ``host``."""

    job: str
    step: str
    attempt: int = 0
    host: str = "local"
    index: int = -1
    """The step's 0-based position in its job (-1 for job-level checks); cleanups share their step's."""
    cleanup: bool = False


@frozen
class StepOutput(ReadOnly):
    """One line a step printed (masked before any reporter sees it)."""

    job: str
    step: str
    line: str


@frozen
class StepAnnotation(ReadOnly):
    """A ``::error::``/``::warning::``/``::notice::`` line of a step, shown apart from its output."""

    job: str
    step: str
    level: str
    message: str
    title: str | None = None


@frozen
class StepFinished(ReadOnly):
    """A step ended (or was skipped), with what a reporter needs to show it and find its log."""

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


@frozen
class SessionChanged(ReadOnly):
    """A session (``parallelworks/update-session``) opened, reconnects, is open again, or closed."""

    job: str
    step: str
    name: str
    url: str
    local_port: int
    remote: str
    """``host:port`` of the service, as seen from ``via``."""
    via: str
    """Where the tunnel starts: the step's SSH host (``user@host:port``, ``… via JUMP``), ``local`` or ``kubectl``."""
    state: str
    """starting | open | reconnecting | closed"""
    message: str | None = None
    status: str = ""
    """The ``status`` the workflow gave (``running``); the tunnel's own is ``state``."""
    redirect: bool = True
    spec: dict | None = None
    """The session's settings and where its tunnel starts (host, jump): what ``wfrun resume`` re-opens."""


@frozen
class RunFinished(ReadOnly):
    """The run ended: its status, exit code and every failure, for the summary."""

    status: str
    exit_code: int
    duration: float
    failures: tuple[tuple[str, str, str | None, str | None], ...]
    """(job, step, message, log path) for every failed step."""


Event = RunStarted | JobChanged | StepStarted | StepOutput | StepAnnotation | StepFinished | SessionChanged | RunFinished


class Reporter(Protocol):
    def emit(self, event: Event) -> None: ...


SESSION_FREE_TEXT = ("slug", "status")
"""The keys of a session's settings that carry the workflow's own text (a token in a slug), masked like messages."""


def masked(event: Event, mask: Callable[[str], str]) -> Event:
    """The event with secrets replaced in its free text: reasons, messages, outputs, failure messages.

    Applied once where events leave the engine, so no listener — events.jsonl,
    ``--json``, the screen, the run store — can forget it. Names, statuses and
    paths are left alone: they are wfrun's own, and a short secret that happens
    to match part of one (an org value equal to the user name) must not corrupt
    what ``wfrun logs`` and ``resume`` read back. Output lines and annotations
    come from StepLog, which masks them already.
    """
    if isinstance(event, JobChanged):
        return JobChanged(event.job, event.status, _text(event.reason, mask), _outputs(event.outputs, mask))
    if isinstance(event, StepFinished):
        return StepFinished(event.job, event.step, event.status, event.exit_code, event.duration, event.log,
                            _text(event.message, mask), event.index, event.cleanup, _outputs(event.outputs, mask))
    if isinstance(event, SessionChanged):  # a slug may carry a password input (a service's login token)
        # Only the workflow's free text (slug, status): host, jump and names are what a resume connects to.
        spec = {k: mask(v) if k in SESSION_FREE_TEXT and isinstance(v, str) else v for k, v in (event.spec or {}).items()}
        return replace(event, url=mask(event.url), message=_text(event.message, mask), status=mask(event.status),
                       spec=spec)
    if isinstance(event, RunFinished):
        failures = tuple((job, step, _text(message, mask), log) for job, step, message, log in event.failures)
        return RunFinished(event.status, event.exit_code, event.duration, failures)
    return event


def _text(value: str | None, mask: Callable[[str], str]) -> str | None:
    return mask(value) if value else value


def _outputs(values: dict[str, str] | None, mask: Callable[[str], str]) -> dict[str, str] | None:
    return {k: mask(v) if isinstance(v, str) else v for k, v in values.items()} if values else values
