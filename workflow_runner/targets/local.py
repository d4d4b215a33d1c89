"""Run step scripts on this machine, each in its own process group.

A new session (``start_new_session``) makes the script the leader of a process
group, so a cancel reaches everything it started — ``sleep`` children, pipelines,
background jobs — and nothing outlives the run.

The script reaches bash on a file descriptor (see ``base.read_script``), not
as ``bash -c SCRIPT``: a command line is readable by every user of the
machine (``ps``), and scripts often carry rendered inputs, passwords among
them. The descriptor is a pipe already holding the script, or for a huge
script an unnamed temporary file; bash reads it, closes it and evaluates
the text, so ``$0``, ``BASH_SOURCE`` and error messages are those of
``bash -c``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import signal
from pathlib import Path

from workflow_runner.targets.base import OutputCallback, StepCommand, StepResult, TargetStats, read_script
from workflow_runner.targets.lines import as_text, pump_lines

_LINE_LIMIT = 1 << 16
"""The reader's buffer limit (asyncio's default for subprocess pipes)."""

_DRAIN = 2.0
"""Seconds to read output still in the pipe after the step's main process ended and its group was killed."""

_PIPE_MAX = 1 << 20
"""Scripts up to this size go through a pipe (grown with F_SETPIPE_SZ); longer ones through an unnamed file."""


class LocalTarget:
    name = "local"

    def __init__(self) -> None:
        self.stats = TargetStats()
        self._home: str | None = None
        self._dirs: set[str] = set()
        """Working directories made (or found) for earlier steps; one that went away since is made again."""

    async def home(self) -> str:
        if self._home is None:  # asked once per step; HOME does not change during a run
            self._home = str(Path.home())
        return self._home

    async def aclose(self) -> None:
        return None

    async def run(self, command: StepCommand, on_output: OutputCallback) -> StepResult:
        self.stats.commands += 1
        if command.cwd not in self._dirs:
            os.makedirs(command.cwd, exist_ok=True)
            self._dirs.add(command.cwd)
        # Bytes, as exec wants them: os.environb is the environment's own bytes (os.environ decodes every
        # variable and Popen encodes it back, for each step).
        env = {**os.environb, **{os.fsencode(k): os.fsencode(v) for k, v in command.env.items()}}
        fd = _script_fd(command)
        out_read, out_write = os.pipe()
        try:
            spawn = functools.partial(
                asyncio.create_subprocess_exec,
                *command.shell,
                "-c",
                read_script(fd),
                "bash",
                cwd=command.cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out_write,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(fd,),
            )
            program = _program(command.shell[0], env)
            try:
                proc = await spawn(executable=program)
            except FileNotFoundError as exc:
                if exc.filename == command.cwd:  # the working directory went away since an earlier step
                    os.makedirs(command.cwd, exist_ok=True)
                elif program != command.shell[0]:
                    _PROGRAMS.clear()  # the file found on PATH went away: search PATH again, as exec would
                    program = command.shell[0]
                else:
                    raise
                proc = await spawn(executable=program)
        except BaseException:
            os.close(out_read)
            raise
        finally:
            os.close(fd)
            os.close(out_write)
        stdout, pipe = await _own_pipe(out_read)
        warn = None
        if command.signal_at is not None:
            warn = asyncio.get_running_loop().call_later(max(0.0, command.signal_at), _kill_group, proc.pid, command.signal)
        reader = asyncio.ensure_future(_pump(stdout, on_output))
        try:
            code = await proc.wait()
            # The step ends when its main process ends, not when the last holder of its
            # stdout lets go: `server &` must not keep the step open for as long as it runs.
            _kill_group(proc.pid, signal.SIGKILL)
            await _drain(reader, _DRAIN)
        except asyncio.CancelledError:
            await terminate_group(proc, command.grace, command.hurry)
            reader.cancel()
            raise
        finally:
            pipe.close()
            if warn is not None:
                warn.cancel()
            # A script may leave background children holding no pipe; they are
            # part of the step and must not outlive it.
            _kill_group(proc.pid, signal.SIGKILL)
        return StepResult(exit_code=code, outputs_text=_read(command.outputs_file))


async def _own_pipe(fd: int) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    """A reader on the step's output pipe that wfrun, not asyncio's process transport, owns.

    With ``stdout=PIPE`` asyncio's ``Process.wait()`` returns only once every holder of
    the pipe has closed it — a background child would keep the step open. Here the
    process is waited for alone, and the pipe is closed when the step ends.
    """
    reader = asyncio.StreamReader(limit=_LINE_LIMIT)
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0))
    except BaseException:
        os.close(fd)
        raise
    return reader, transport


async def _drain(reader: asyncio.Future, seconds: float) -> None:
    """Let the reader take what is left in the pipe once the step's process group is dead.

    A process that left the group (``setsid``) may still hold the pipe; the step does not
    wait for it beyond ``seconds`` (the run stops such processes by its token when it ends).
    """
    if reader.done():  # the common case: the output ended with the process
        return
    try:
        await asyncio.wait_for(asyncio.shield(reader), seconds)
    except asyncio.TimeoutError:
        reader.cancel()


_PROGRAMS: dict[tuple[str, bytes | None], str] = {}


def _program(name: str, env: dict[bytes, bytes]) -> str:
    """The file that exec would run for ``name`` under ``env``'s PATH, found once per process and PATH.

    Without it every step's exec walks PATH again (a failed execve per entry before bash's,
    eight on a PATH with pyenv and cargo in front). A name with a slash, one not found, and a
    PATH with a relative entry before it (relative to the step's directory) are left to exec.
    """
    if "/" in name:
        return name
    key = (name, env.get(b"PATH"))
    found = _PROGRAMS.get(key)
    if found is None:
        found = name
        for folder in os.get_exec_path(env):
            if not folder.startswith("/"):  # relative to the step's cwd (exec runs after chdir): exec's to find
                break
            candidate = os.path.join(folder, name)
            if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
                found = candidate
                break
        _PROGRAMS[key] = found
    return found


def _script_fd(command: StepCommand) -> int:
    """A readable descriptor holding the whole script: a pipe, or an unnamed file (no path, nothing to leak)."""
    data = command.script.encode("utf-8", "surrogateescape")
    read, write = os.pipe()
    try:
        if len(data) > 65536:
            fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, min(_PIPE_MAX, len(data)))
        os.set_blocking(write, False)
        if os.write(write, data) == len(data):
            return read
    except OSError:  # BlockingIOError included: the pipe cannot hold it
        pass
    finally:
        os.close(write)
    os.close(read)
    import tempfile  # scripts over _PIPE_MAX only

    with tempfile.TemporaryFile(dir=os.path.dirname(command.outputs_file) or None) as f:
        f.write(data)
        f.flush()
        f.seek(0)
        return os.dup(f.fileno())


async def _pump(stream: asyncio.StreamReader | None, on_output: OutputCallback) -> None:
    if stream is None:
        return
    await pump_lines(stream.read, lambda line: on_output(as_text(line)))


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
