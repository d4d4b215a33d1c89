"""A persistent agent per channel slot: a step costs one write and its replies.

The agent (``wire.AGENT``) is a bash loop on one session channel; each step is one request
(``wire.request``) and ends with an ``E <nonce>`` record on the control stream and the end
marker on stdout. So a steady-state step opens no channel and starts no sshd session or login
shell (the per-step channel of ``target.RemoteStep`` paid three round trips and both).

The step ends when its main process ends (the marker), even if a process that left the
step's process group (``setsid``, a daemon) keeps its stdout open (the local target's rule
too); what such a process writes after that is read as output of the slot's next step.

Cancel writes ``T`` (SIGTERM to the group), waits ``grace`` (or ``hurry``) and writes ``K``;
no channel is opened for a signal. The agent is then closed: closing its channel is also
the lifeline (EOF on the agent's stdin → SIGTERM, ``grace``, SIGKILL to a running group),
exactly as when wfrun dies or the connection drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets

import asyncssh

from workflow_runner.targets.base import OutputCallback, StepCommand, StepResult, to_the_end
from workflow_runner.targets.lines import CHUNK, LineSplitter, as_text
from workflow_runner.targets.ssh.conn import Connection
from workflow_runner.targets.ssh.wire import agent_program, encode_program, end_marker, exec_command, parse_record, request

__all__ = ["Agent", "AgentDied"]

_LOST_EXIT = 255
_POOL_CLOSED = "the run's SSH pool was closed while the step ran"
_STREAM_ERRORS = (asyncssh.Error, OSError, asyncio.IncompleteReadError, EOFError)


class AgentDied(EOFError):
    """The agent's channel ended while a step was in flight."""


class Agent:
    """One agent session on ``conn``: runs the steps handed to it one at a time."""

    def __init__(self, name: str, conn: Connection, proc) -> None:
        self.name = name
        self.conn = conn
        self.proc = proc
        self.steps = 0
        self.broken = False
        self.pending_out = b""  # bytes after a step's end marker (a stray writer): the next step's

    @classmethod
    async def start(cls, name: str, conn: Connection) -> Agent | None:
        """A new agent on ``conn``, or None when its channel cannot be opened (the caller falls back)."""
        encoded = encode_program(agent_program())
        try:
            proc = await conn.ssh.create_process(exec_command(encoded, login_shell_is_bash=conn.direct), encoding=None)
            proc.stdin.write(encoded + b"\0")  # and no EOF: the open stdin is the agent's lifeline
        except (asyncssh.Error, OSError):
            return None
        return cls(name, conn, proc)

    def alive(self) -> bool:
        """Its channel is open and its shell has not exited (checked before an idle agent takes a step)."""
        try:
            return not self.broken and not self.proc.is_closing() and self.proc.exit_status is None
        except Exception:  # noqa: BLE001 - a half-torn-down channel is not alive
            return False

    def close(self) -> None:
        self.broken = True
        with contextlib.suppress(Exception):
            self.proc.close()

    def write(self, data: bytes) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.write(data)

    async def run(self, command: StepCommand, on_output: OutputCallback, active: set) -> StepResult | None:
        """Run one step; None when a fresh agent died before doing anything (run it another way)."""
        step = AgentStep(self, command, on_output)
        active.add(step)
        try:
            self.write(request(command, step.nonce))
            await step.wait()
        except BaseException:  # cancelled, or on_output raised: the remote group must not outlive us
            await to_the_end(step.terminate())
            raise
        finally:
            active.discard(step)
        if step.error is not None:
            self.close()
            if self.steps == 0 and not step.heard and self.conn.lost is None and not step.closed_by_pool:
                return None
        self.steps += 1
        return step.result()


class AgentStep:
    """One step in flight on an agent: reads its output up to the marker and its records up to ``E``."""

    def __init__(self, agent: Agent, command: StepCommand, on_output: OutputCallback | None) -> None:
        self.agent = agent
        self.command = command
        self.nonce = secrets.token_hex(8)
        self.on_output = on_output or (lambda line: None)
        self.code: int | None = None
        self.outputs = b""
        self.cwd_failed = False
        self.heard = False
        self.ended = False
        self.error: BaseException | None = None
        self.closed_by_pool = False
        self.callback_error: BaseException | None = None
        self.callback_failed = asyncio.Event()
        self.readers = {asyncio.ensure_future(self._output()), asyncio.ensure_future(self._control())}

    def _emit(self, line: bytes) -> None:
        self.heard = True
        if self.callback_error is not None:
            return
        try:
            self.on_output(as_text(line))
        except Exception as exc:  # noqa: BLE001 - re-raised by wait()
            self.callback_error = exc
            self.callback_failed.set()

    async def _output(self) -> None:
        marker = end_marker(self.nonce)
        splitter = LineSplitter(self._emit)
        data, self.agent.pending_out = self.agent.pending_out, b""
        try:
            while True:
                if (at := data.find(marker)) >= 0:
                    splitter.feed(data[:at])
                    splitter.close()  # a last line without newline is still a line
                    self.agent.pending_out = data[at + len(marker):]
                    return
                cut = data.rfind(b"\x1e")  # a marker may be split across reads: keep its start
                if cut < 0 or len(data) - cut >= len(marker):
                    cut = len(data)
                splitter.feed(data[:cut])
                data = data[cut:]
                chunk = await self.agent.proc.stdout.read(CHUNK)
                if not chunk:
                    splitter.feed(data)
                    splitter.close()
                    raise AgentDied("agent channel closed")
                data += chunk
        except _STREAM_ERRORS as exc:
            self.error = self.error or exc

    async def _control(self) -> None:
        reader = self.agent.proc.stderr
        try:
            while True:
                line = await reader.readline()
                if not line:
                    raise AgentDied("agent channel closed")
                record = parse_record(line)
                if record is None:
                    self._emit(line)
                    continue
                self.heard = True
                if record.kind == "X":
                    self.code = int(record.value)
                elif record.kind == "C":
                    self.cwd_failed = True
                elif record.kind == "O":
                    self.outputs = (await reader.readuntil(b"\0"))[:-1]
                elif record.kind == "E" and record.value == self.nonce:
                    self.ended = True
                    return
        except _STREAM_ERRORS as exc:
            self.error = self.error or exc

    async def wait(self) -> None:
        """Until both streams reach the step's end, the agent dies, or ``on_output`` raises (re-raised)."""
        failed = asyncio.ensure_future(self.callback_failed.wait())
        try:
            pending = set(self.readers)
            while pending and not failed.done() and self.error is None:
                _, pending = await asyncio.wait(pending | {failed}, return_when=asyncio.FIRST_COMPLETED)
                pending.discard(failed)
        finally:
            failed.cancel()
        if self.callback_error is not None:
            raise self.callback_error
        if self.error is not None:
            await self._stop_readers()

    async def _stop_readers(self) -> None:
        for task in self.readers:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self.readers, return_exceptions=True)

    def result(self) -> StepResult:
        outputs = self.outputs.decode("utf-8", "replace")
        name = self.agent.name
        if self.closed_by_pool:
            return StepResult(exit_code=_LOST_EXIT, outputs_text=outputs, message=f"connection to {name} lost: {_POOL_CLOSED}")
        if self.cwd_failed:
            return StepResult(exit_code=1, message=f"cannot create or enter working directory {self.command.cwd} on {name}")
        if self.ended and self.code is not None:
            return StepResult(exit_code=self.code, outputs_text=outputs)
        if self.agent.conn.lost is not None or isinstance(self.error, (asyncssh.DisconnectError, OSError)):
            reason = self.agent.conn.lost or str(self.error) or type(self.error).__name__
            return StepResult(exit_code=_LOST_EXIT, message=f"connection to {name} lost: {reason}")
        return StepResult(exit_code=_LOST_EXIT, message=f"the remote shell on {name} ended while running the step")

    def _finished(self) -> bool:
        return all(task.done() for task in self.readers)

    async def _finished_within(self, seconds: float, hurry: asyncio.Event | None) -> bool:
        waiting: set[asyncio.Future] = set(self.readers)
        hurried = asyncio.ensure_future(hurry.wait()) if hurry is not None else None
        try:
            end = asyncio.get_running_loop().time() + seconds
            while not self._finished() and not (hurried and hurried.done()):
                left = end - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                await asyncio.wait({t for t in waiting if not t.done()} | ({hurried} if hurried else set()),
                                   timeout=left, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if hurried is not None:
                hurried.cancel()
        return self._finished()

    async def terminate(self) -> None:
        """SIGTERM the group (``T``), wait ``grace`` or ``hurry``, SIGKILL (``K``); then close the agent.

        Cancelled itself, it skips the rest of the grace period and sends SIGKILL at once."""
        agent = self.agent
        try:
            if not self._finished() and agent.conn.lost is None:
                agent.write(b"T\n")
                if not await self._finished_within(self.command.grace, self.command.hurry):
                    agent.write(b"K\n")
                    await self._finished_within(5, None)
        except asyncio.CancelledError:
            agent.write(b"K\n")
        finally:
            agent.close()  # EOF on its stdin: the lifeline ends anything still running
            await self._stop_readers()

    async def kill(self) -> None:
        """SIGKILL the group at once (the pool is closing under a running step)."""
        self.closed_by_pool = True
        self.agent.write(b"K\n")
        await self._finished_within(5, None)
