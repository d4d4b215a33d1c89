"""The one interface the engine uses to run a command somewhere.

A target is where a step's bash script runs: this machine (``local``) or a host
reached over SSH (``ssh``). Batch schedulers sit on top of a target (they run
``sbatch``/``squeue`` through it). The shape copies asyncio.subprocess's
vocabulary so nothing new has to be learned, and is small enough to fake in a
unit test.

Cancellation is asyncio cancellation: the engine cancels the task awaiting
``run``; the target then sends SIGTERM to the command's whole process group,
waits up to ``StepCommand.grace`` seconds (or until ``hurry`` is set, e.g. by a
second Ctrl-C), sends SIGKILL, and re-raises CancelledError. A target never
leaves a process behind.
"""

from __future__ import annotations

import asyncio
from dataclasses import field
from typing import Awaitable, Callable, Protocol, TypeVar

from workflow_runner.records import ReadOnly, Record, frozen, record

T = TypeVar("T")

OutputCallback = Callable[[str], None]
"""Called with each line of the command's combined stdout/stderr, without its newline."""


@frozen
class StepCommand(ReadOnly):
    """What a target needs to run one step: the script, its environment and directory, and how to stop it."""

    script: str
    """Bash script text, run unchanged (quotes, $, heredocs and non-ASCII included)."""
    env: dict[str, str]
    """Variables added to the target's own environment (PW_*, OUTPUTS, workflow/job/step env)."""
    cwd: str
    """Absolute working directory on the target; created if missing."""
    outputs_file: str
    """Path of $OUTPUTS on the target; read back into StepResult.outputs_text."""
    grace: float = 10.0
    hurry: asyncio.Event | None = None
    """When set during a cancel, skip the rest of the grace period."""
    shell: tuple[str, ...] = ("bash",)
    signal_at: float | None = None
    """Seconds after start at which to send ``signal`` to the whole process group (graceful termination)."""
    signal: int = 15


@record
class StepResult(Record):
    """How a step ended on its target, and what it wrote to ``$OUTPUTS``."""

    exit_code: int
    """The script's exit status; -N when killed by signal N (subprocess convention)."""
    outputs_text: str = ""
    """What the step wrote to $OUTPUTS (parsed by engine.outputs)."""
    message: str | None = None
    """Why the step failed when it is not the script's own doing (e.g. connection lost)."""


async def to_the_end(aw: Awaitable[T]) -> T:
    """Await a clean-up (terminate, scancel, cancel handler) to its end even when the caller is cancelled again.

    Whatever it awaits must be bounded itself; this only keeps a second Ctrl-C from
    abandoning it half-way (and leaving a process or a queued job behind).
    """
    task = asyncio.ensure_future(aw)
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            continue
    return task.result()


SCRIPT_VAR = "__wfrun_script"


def read_script(fd: int) -> str:
    """The ``bash -c`` program that runs the script waiting on descriptor ``fd``, as ``bash -c SCRIPT`` would.

    Neither the script nor anything in it is on a command line. ``read -N`` (bash
    4.1+) reads in blocks until end of file; bash 3.2 lacks it and falls back to
    ``read -d ""``. The descriptor is closed before the script starts, and the
    variable is unset by the first thing the script's ``eval`` does, so neither
    reaches the step's processes; line numbers stay those of the script.
    """
    v = SCRIPT_VAR
    return (f'{{ LC_ALL=C IFS= read -r -N 1000000000 -u {fd} {v} || [ -n "${v}" ] || IFS= read -r -d "" -u {fd} {v}; }}'
            f' 2>/dev/null; exec {fd}<&-; eval "unset {v}; ${v}"')


class Target(Protocol):
    name: str
    """Shown in logs: 'local' or 'user@host:port'."""

    async def run(self, command: StepCommand, on_output: OutputCallback) -> StepResult: ...

    async def home(self) -> str:
        """The home directory on the target, for expanding ~ and locating run dirs."""
        ...

    async def aclose(self) -> None: ...


@record
class TargetStats(Record):
    """Counters a target keeps for benchmarks and the run summary."""

    commands: int = 0
    retries: int = 0
    extra: dict[str, int] = field(default_factory=dict)
