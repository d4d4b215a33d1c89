"""Run step scripts on this machine, each in its own process group.

A new session (``start_new_session``) makes the script the leader of a process
group, so a cancel reaches everything it started — ``sleep`` children, pipelines,
background jobs — and nothing outlives the run.

The script reaches bash through a pipe (``bash /dev/fd/N``), not ``bash -c``:
a command line is readable by every user of the machine (``ps``), and scripts
often carry rendered inputs, passwords among them. Its first command closes
the pipe so the step's processes do not inherit it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
from pathlib import Path

from workflow_runner.targets.base import OutputCallback, StepCommand, StepResult, TargetStats

_PIPE_MAX = 1 << 20
"""Scripts up to this size go through a pipe (grown with F_SETPIPE_SZ); longer ones through a 0600 file."""


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
        fd, path = _script_source(command)
        try:
            proc = await asyncio.create_subprocess_exec(
                *command.shell,
                path,
                cwd=command.cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(fd,) if fd is not None else (),
            )
        finally:
            if fd is not None:
                os.close(fd)
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
            if fd is None:  # the script went through a file: it may hold secrets
                with contextlib.suppress(OSError):
                    os.unlink(path)
        return StepResult(exit_code=code, outputs_text=_read(command.outputs_file))


def _script_source(command: StepCommand) -> tuple[int | None, str]:
    """(fd to pass, path bash reads the script from): a pipe already holding it, or a private file."""
    data = command.script.encode("utf-8", "surrogateescape")
    read, write = os.pipe()
    prefix = f"exec {read}<&-; ".encode()
    try:
        if len(prefix) + len(data) > 65536:
            fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, min(_PIPE_MAX, len(prefix) + len(data)))
        os.set_blocking(write, False)
        if os.write(write, prefix + data) != len(prefix) + len(data):
            raise BlockingIOError
    except (OSError, BlockingIOError):
        os.close(read)
        path = Path(command.outputs_file).with_suffix(".script.sh")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(data)
        return None, str(path)
    finally:
        os.close(write)
    return read, f"/dev/fd/{read}"


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
