"""Run step scripts on this machine, each in its own process group.

A new session (``start_new_session``) makes the script the leader of a process
group, so a cancel reaches everything it started — ``sleep`` children, pipelines,
background jobs — and nothing outlives the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from workflow_runner.targets.base import OutputCallback, StepCommand, StepResult, TargetStats

# Linux limits one argv string to 128 KiB; longer scripts go through a file.
_MAX_INLINE_SCRIPT = 100_000


class LocalTarget:
    name = "local"

    def __init__(self) -> None:
        self.stats = TargetStats()

    async def home(self) -> str:
        return str(Path.home())

    async def aclose(self) -> None:
        return None

    async def run(self, command: StepCommand, on_output: OutputCallback) -> StepResult:
        self.stats.commands += 1
        os.makedirs(command.cwd, exist_ok=True)
        env = {**os.environ, **command.env}
        argv = [*command.shell, *_script_args(command)]
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=command.cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        warn = None
        if command.signal_at is not None:
            warn = asyncio.get_running_loop().call_later(max(0.0, command.signal_at), _kill_group, proc.pid, command.signal)
        try:
            await _pump(proc.stdout, on_output)
            code = await proc.wait()
        except asyncio.CancelledError:
            await terminate_group(proc, command.grace, command.hurry)
            raise
        finally:
            if warn is not None:
                warn.cancel()
            # A script may leave background children holding no pipe; they are
            # part of the step and must not outlive it.
            _kill_group(proc.pid, signal.SIGKILL)
        return StepResult(exit_code=code, outputs_text=_read(command.outputs_file))


def _script_args(command: StepCommand) -> list[str]:
    if len(command.script) <= _MAX_INLINE_SCRIPT:
        return ["-c", command.script]
    path = Path(command.outputs_file).with_suffix(".script.sh")
    path.write_text(command.script)
    return [str(path)]


async def _pump(stream: asyncio.StreamReader | None, on_output: OutputCallback) -> None:
    if stream is None:
        return
    while True:
        try:
            line = await stream.readline()
        except ValueError:  # a line longer than the buffer limit: take what is there
            line = await stream.read(1 << 16)
        if not line:
            return
        on_output(line.decode("utf-8", "replace").rstrip("\r\n"))


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _kill_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


async def terminate_group(
    proc: asyncio.subprocess.Process, grace: float, hurry: asyncio.Event | None
) -> None:
    """SIGTERM the group, wait for the leader up to ``grace`` (or until hurried), then SIGKILL.

    Shielded by the caller's cancellation: this runs while a CancelledError is
    being handled, so it must not be interrupted itself.
    """
    if not _kill_group(proc.pid, signal.SIGTERM):
        return
    waiter = asyncio.ensure_future(proc.wait())
    hurried = asyncio.ensure_future(hurry.wait()) if hurry is not None else None
    try:
        pending = {waiter} | ({hurried} if hurried else set())
        await asyncio.shield(asyncio.wait(pending, timeout=grace, return_when=asyncio.FIRST_COMPLETED))
    except asyncio.CancelledError:
        pass
    finally:
        if hurried is not None:
            hurried.cancel()
        _kill_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
            await asyncio.shield(asyncio.wait_for(waiter, 5))
