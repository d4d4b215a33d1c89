"""A remote host as a step target: a step runs on an idle agent of a connection (``agent``), or, when no
agent can be started there, on a channel of its own (:class:`RemoteStep`, the bootstrap of ``wire``).

Cancellation of a step on its own channel: SIGTERM to the remote process group over a second channel on the same
connection (not counted against the cap), up to ``grace`` seconds (or until ``hurry``),
SIGKILL, then CancelledError is re-raised. A refused channel open (``ChannelOpenError``)
is retried with backoff.

Failures:
- cannot connect / authenticate / verify the host key → :class:`TargetError` with one line
  naming the host (nothing ran);
- connection lost while a step runs → ``StepResult(exit_code=255, message="connection to
  <host> lost: …")`` (255 as ssh(1) does); the dead connection leaves the pool and the next
  step reconnects. The step's processes on the host end when sshd closes the session (the
  lifeline of ``wire``); if the host cannot tell the connection is gone (a network
  partition), that waits for sshd's own ClientAlive timeout.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncssh

from workflow_runner.backoff import Backoff
from workflow_runner.errors import TargetError
from workflow_runner.targets.base import OutputCallback, StepCommand, StepResult, TargetStats, to_the_end
from workflow_runner.targets.lines import as_text, pump_lines
from workflow_runner.targets.ssh.agent import Agent
from workflow_runner.targets.ssh.conn import Connection, settle
from workflow_runner.targets.ssh.slots import HostSlots
from workflow_runner.targets.ssh.wire import bootstrap, encode_program, exec_command, parse_record

__all__ = ["RemoteStep", "SSHTarget"]

_OPEN_ATTEMPTS = 8  # channel opens refused by the server, per step
_OPEN_BACKOFF = Backoff(0.01, cap=1.0)
_SIGNAL_BACKOFF = Backoff(0.05, factor=1, step=0.05)
_LOST_EXIT = 255
_POOL_CLOSED = "the run's SSH pool was closed while the step ran"


class SSHTarget:
    """A remote host as a :class:`~workflow_runner.targets.base.Target`; made by :meth:`SSHPool.target`."""

    def __init__(self, host: HostSlots) -> None:
        self.host = host
        self.name = host.name

    @property
    def stats(self) -> TargetStats:
        return self.host.stats

    async def home(self) -> str:
        conn = await self.host.acquire()
        try:
            if conn.home is None:
                await self.host.probe(conn)
            if conn.home is None:
                raise TargetError(f"ssh {self.name}: cannot read the remote $HOME")
            return conn.home
        finally:
            self.host.release(conn)

    async def tunnel_connection(self) -> asyncssh.SSHClientConnection:
        """A live pooled connection to this host for port forwards (sessions/ssh.py).

        Forwarded (``direct-tcpip``) channels are not sessions — ``MaxSessions`` does not count them — so
        no channel slot is held: the slot is taken only to get (or open) a live connection, then given back.
        """
        conn = await self.host.acquire()
        self.host.release(conn)
        return conn.ssh

    async def aclose(self) -> None:
        return None  # the pool owns the connections

    async def run(self, command: StepCommand, on_output: OutputCallback) -> StepResult:
        self.stats.commands += 1
        result = await self._run_on_agent(command, on_output)
        if result is not None:
            return result
        program = bootstrap(command)
        step = await self._start(command, program, on_output)
        try:
            return await step.finish(command)
        except BaseException:  # cancelled, or on_output raised: the remote group must not outlive us
            await to_the_end(step.terminate(command))
            raise
        finally:
            self.host.release(step.conn)

    async def _run_on_agent(self, command: StepCommand, on_output: OutputCallback) -> StepResult | None:
        """The step on an idle (or new) agent of a connection; None when no agent could run it."""
        conn = await self.host.acquire()
        try:
            agent = None
            while conn.idle and agent is None:
                agent = conn.idle.pop()
                if not agent.alive():  # its shell ended while idle (killed on the host): start another
                    agent.close()
                    agent = None
            agent = agent or await Agent.start(self.name, conn)
            if agent is None:
                return None
            result = await agent.run(command, on_output, self.host.active)
            if not agent.broken and conn.lost is None:
                conn.idle.append(agent)
            return result
        finally:
            self.host.release(conn)

    async def _start(self, command: StepCommand, program: str, on_output: OutputCallback) -> RemoteStep:
        """Open the step's channel (slot held on return); retries refused opens with backoff."""
        for attempt in range(_OPEN_ATTEMPTS):
            conn = await self.host.acquire()
            opening = asyncio.ensure_future(self._open(conn, program, on_output))
            try:
                return await asyncio.shield(opening)
            except asyncio.CancelledError:
                # The exec request may already be on its way: let it settle, then stop what started.
                step = await settle(opening, 10)
                if step is not None:
                    with contextlib.suppress(Exception):
                        await to_the_end(step.terminate(command))
                self.host.release(conn)
                raise
            except asyncssh.ChannelOpenError as exc:
                self.host.release(conn)
                if conn.lost is None:
                    self.stats.retries += 1
                    if attempt == _OPEN_ATTEMPTS - 1:
                        raise TargetError(f"ssh {self.name}: the server keeps refusing new sessions: {exc.reason}") from exc
                    await asyncio.sleep(_OPEN_BACKOFF.delay(attempt))
            except BaseException:
                self.host.release(conn)
                raise
        raise TargetError(f"ssh {self.name}: could not open a session")

    async def _open(self, conn: Connection, program: str, on_output: OutputCallback) -> RemoteStep:
        encoded = encode_program(program)
        command = exec_command(encoded, login_shell_is_bash=conn.direct)
        try:
            proc = await conn.ssh.create_process(command, encoding=None)
            proc.stdin.write(encoded + b"\0")  # and no EOF: the open stdin is the step's lifeline
        except asyncssh.ChannelOpenError:
            raise
        except (asyncssh.Error, OSError) as exc:
            return RemoteStep.failed(self, conn, exc)
        return RemoteStep(self, conn, proc, on_output)


class RemoteStep:
    """One running remote step: its channel, the readers of its two streams, its PGID."""

    def __init__(self, target: SSHTarget, conn: Connection, proc, on_output: OutputCallback | None) -> None:
        self.target = target
        self.conn = conn
        self.proc = proc
        self.pgid: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self.code: int | None = None
        self.outputs = b""
        self.cwd_failed = False
        self.error: BaseException | None = None
        self.on_output = on_output or (lambda line: None)
        self.closed_by_pool = False
        self.callback_error: BaseException | None = None
        self.callback_failed = asyncio.Event()
        self.readers: set[asyncio.Task] = set()
        if proc is not None:
            target.host.active.add(self)
            self.readers = {
                asyncio.ensure_future(self._pump(proc.stdout)),
                asyncio.ensure_future(self._control(proc.stderr)),
            }

    @classmethod
    def failed(cls, target: SSHTarget, conn: Connection, exc: BaseException) -> RemoteStep:
        step = cls(target, conn, None, None)
        step.error = exc
        step.pgid.set_result(None)
        return step

    def _emit(self, line: bytes) -> None:
        """Forward one line; a failing callback stops forwarding (the streams are still drained)."""
        if self.callback_error is not None:
            return
        try:
            self.on_output(as_text(line))
        except Exception as exc:  # noqa: BLE001 - re-raised by finish()
            self.callback_error = exc
            self.callback_failed.set()

    async def _pump(self, reader) -> None:
        try:
            await pump_lines(reader.read, self._emit)
        except (asyncssh.Error, OSError, asyncio.IncompleteReadError) as exc:
            self.error = self.error or exc

    async def _control(self, reader) -> None:
        try:
            while line := await reader.readline():
                record = parse_record(line)
                if record is None:
                    self._emit(line)
                elif record.kind == "P" and not self.pgid.done():
                    self.pgid.set_result(int(record.value))
                elif record.kind == "X":
                    self.code = int(record.value)
                elif record.kind == "C":
                    self.cwd_failed = True
                elif record.kind == "O":
                    self.outputs = await reader.read()
        except (asyncssh.Error, OSError, asyncio.IncompleteReadError) as exc:
            self.error = self.error or exc
        finally:
            if not self.pgid.done():
                self.pgid.set_result(None)

    async def finish(self, command: StepCommand) -> StepResult:
        if self.proc is not None:
            # Until both streams end — or on_output raised, or a reader broke.
            failed = asyncio.ensure_future(self.callback_failed.wait())
            try:
                pending = set(self.readers)
                while pending and not failed.done():
                    done, pending = await asyncio.wait(pending | {failed}, return_when=asyncio.FIRST_COMPLETED)
                    pending.discard(failed)
                    if any(task.exception() for task in done if task is not failed):
                        break
            finally:
                failed.cancel()
            if self.callback_error is not None:
                raise self.callback_error
            for task in self.readers:
                if task.done() and task.exception() is not None:
                    raise task.exception()
            await self.proc.wait_closed()
            self.target.host.active.discard(self)
        outputs = self.outputs.decode("utf-8", "replace")
        if self.closed_by_pool:
            return StepResult(exit_code=_LOST_EXIT, outputs_text=outputs,
                              message=f"connection to {self.target.name} lost: {_POOL_CLOSED}")
        if self.code is not None:
            return StepResult(exit_code=self.code, outputs_text=outputs)
        name = self.target.name
        if self.cwd_failed:
            return StepResult(exit_code=1, message=f"cannot create or enter working directory {command.cwd} on {name}")
        if self.conn.lost is not None or isinstance(self.error, (asyncssh.DisconnectError, OSError)):
            reason = self.conn.lost or str(self.error) or type(self.error).__name__
            if self.target.host.pool.closed:
                reason = _POOL_CLOSED
            return StepResult(exit_code=_LOST_EXIT, message=f"connection to {name} lost: {reason}")
        signal_info = self.proc.exit_signal if self.proc is not None else None
        if signal_info:
            return StepResult(exit_code=_LOST_EXIT, message=f"the remote shell on {name} was killed by SIG{signal_info[0]}")
        status = self.proc.exit_status if self.proc is not None else None
        return StepResult(
            exit_code=status if status not in (None, 0) else _LOST_EXIT,
            message=f"the remote shell on {name} ended without running the step (exit status {status}); is bash installed?",
        )

    async def terminate(self, command: StepCommand) -> None:
        """SIGTERM the remote group, wait ``grace`` (or ``hurry``), SIGKILL; never hangs.

        Cancelled itself (e.g. asyncio.run() tearing down the loop), it skips the
        rest of the grace period and sends SIGKILL at once rather than give up.
        """
        urgent = False
        try:
            pgid = await asyncio.wait_for(asyncio.shield(self.pgid), 10)
        except asyncio.TimeoutError:
            pgid = None
        except asyncio.CancelledError:
            urgent = True
            pgid = self.pgid.result() if self.pgid.done() else None
        if pgid is not None and self.code is None and self.conn.lost is None:  # X record: group already gone
            closed = False
            if not urgent:
                try:
                    await self._signal(pgid, "TERM")
                    closed = await self._closed_within(command.grace, command.hurry)
                except asyncio.CancelledError:
                    urgent = True
            if not closed:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._signal(pgid, "KILL")
                    if not urgent:
                        await self._closed_within(5, None)
        self.target.host.active.discard(self)
        if self.proc is not None:
            self.proc.close()
        for task in self.readers:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self.readers, return_exceptions=True)

    async def kill(self) -> None:
        """SIGKILL the remote group at once (the pool is closing under a running step)."""
        self.closed_by_pool = True
        if self.pgid.done() and self.pgid.result() is not None:
            await self._signal(self.pgid.result(), "KILL")

    async def _closed_within(self, seconds: float, hurry: asyncio.Event | None) -> bool:
        closed = asyncio.ensure_future(self.proc.wait_closed())
        hurried = asyncio.ensure_future(hurry.wait()) if hurry is not None else None
        waiting = {closed} | ({hurried} if hurried else set())
        try:
            await asyncio.wait(waiting, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in waiting:
                fut.cancel()
        return closed.done() and not closed.cancelled()

    async def _signal(self, pgid: int, sig: str) -> None:
        """``kill -SIG -- -PGID`` on a fresh channel of the same connection (outside the cap)."""
        for attempt in range(5):
            if self.conn.lost is not None:
                return
            try:
                await asyncio.wait_for(
                    self.conn.ssh.run(f"exec bash -c 'kill -{sig} -- -{pgid} 2>/dev/null'", stdin=asyncssh.DEVNULL), 10
                )
                return
            except asyncssh.ChannelOpenError:
                await asyncio.sleep(_SIGNAL_BACKOFF.delay(attempt))
            except (asyncssh.Error, OSError, asyncio.TimeoutError):
                return
