"""Run step scripts on a remote host over pooled asyncssh connections.

One :class:`SSHPool` per run holds, per ``(user, host, port, jump)``, up to
``connections_per_host`` asyncssh connections, opened lazily, kept alive and
shared by every step; :meth:`SSHPool.aclose` closes them at the end of the run.
The user's ``~/.ssh/config`` (Host aliases, HostName, User, Port, IdentityFile,
ProxyJump), default keys and agent apply through asyncssh's ``config=``; host
keys are checked against known_hosts (``known_hosts=`` when given, else the
user's and the system's files).

Channels. OpenSSH allows ``MaxSessions`` (10) sessions per connection and starts
refusing opens *below* that under churn, so at most ``channels_per_connection``
(4) step channels are open per connection; a refused open
(``ChannelOpenError``) is retried with backoff; when every connection is full
and more steps wait, another connection to the same host is opened.

One channel per step — the wire protocol. Everything that varies travels on
the channel's stdin, so no secret of a step (an input rendered into its
script, an ``env:`` value) appears in a remote command line, which every user
of the host can read in ``ps``. The exec command only says how many bytes to
read: ``LC_ALL=C IFS= read -r -N <n> s …; eval "$s"`` when the remote login
shell is bash (no extra process), else the same inside
``exec bash -c '…'``, safe in any login shell (bash 3.2, which lacks
``read -N``, reads up to the NUL sent after the bootstrap instead). The bootstrap
(:func:`bootstrap`) exports ``StepCommand.env`` (``shlex.quote``\\d, so
sshd's AcceptEnv plays no part), creates and enters the working directory,
keeps the script in a variable, then::

    exec 3>&2 2>&1 4<&0 </dev/null   # fd 3 = channel stderr = control records; fd 4 = the lifeline
    exec 2>/dev/null                 # the shell's job notices ("[1]+ Done") are not output
    set -m; bash -c <read fd 5, eval> bash 5<<<"$s" 2>&1 3>&- 4<&- & p=$!   # own process group, PGID = $!
    { read -u 4; kill -TERM -- -$p; sleep <grace>; kill -KILL -- -$p; } & w=$!; set +m
    printf '@@wfrun P <pgid>\\n' >&3
    wait $p; c=$?; kill -9 -- -$p -$w         # leftovers of the step die with it
    printf '@@wfrun X <code>\\n' >&3; printf '@@wfrun O\\n<$OUTPUTS bytes>' >&3

The script reaches its bash through a here-string (a pipe, or an unlinked
0600 temporary file), never through argv; ``base.read_script`` reads it,
closes fd 5 and evals it, so the script sees what ``bash -c`` would show. wfrun never closes the channel's
stdin while the step runs: when wfrun dies (even by SIGKILL) or its
connection drops, sshd closes that pipe, the watcher's ``read`` returns, and
the step's process group gets SIGTERM, then SIGKILL — no orphan is left on
the host.

Channel stdout carries the script's stdout and stderr, merged and in order,
streamed line by line to ``on_output``; channel stderr carries only the control
records (anything else on it — e.g. a login shell's complaint — is forwarded as
output). A script killed by signal N reports ``128+N`` (bash's ``$?``; the
local target reports ``-N``).

Cancellation: SIGTERM to the remote process group over a second channel on the
same connection (not counted against the cap), up to ``grace`` seconds (or
until ``hurry``), SIGKILL, then CancelledError is re-raised.

Failures:
- cannot connect / authenticate / verify the host key → :class:`TargetError`
  with one line naming the host (nothing ran);
- connection lost while a step runs → ``StepResult(exit_code=255,
  message="connection to <host> lost: …")`` (255 as ssh(1) does); the dead
  connection leaves the pool and the next step reconnects. Keepalives
  (``keepalive_interval`` × ``keepalive_count_max``, 5 s × 2 by default) notice
  a silent server within about 15 s. The step's processes on the host end
  when sshd closes the session (the lifeline above); if the host cannot tell
  the connection is gone (a network partition), that waits for sshd's own
  ClientAlive timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import re
import shlex
import socket
from dataclasses import dataclass
from typing import Awaitable

import asyncssh

from workflow_runner.errors import ConnectionFailed, TargetError
from workflow_runner.targets.base import OutputCallback, StepCommand, StepResult, TargetStats, read_script, to_the_end
from workflow_runner.targets.hostspec import HostSpec, parse_host
from workflow_runner.targets.sshfiles import identity_problem, known_hosts_problem
from workflow_runner.targets.lines import as_text, pump_lines

__all__ = ["SSHPool", "SSHTarget", "bootstrap"]

_READ = '{{ LC_ALL=C IFS= read -r -N {n} s || IFS= read -r -d "" s; }} 2>/dev/null; eval "$s"'
"""The bootstrap: exactly n bytes of stdin (bash 3.2, without ``-N``: up to the NUL that follows them).
The rest of stdin stays open as the step's lifeline."""
_DIRECT = _READ  # the login shell is bash
_WRAPPER = "exec bash -c '" + _READ + "'"  # any other login shell
_MARK = b"@@wfrun "
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_OPEN_ATTEMPTS = 8  # channel opens refused by the server, per step
_LOST_EXIT = 255
_POOL_CLOSED = "the run's SSH pool was closed while the step ran"


def bootstrap(command: StepCommand) -> str:
    """The bash program that runs ``command`` remotely and reports on fd 3 (see module doc)."""
    q = shlex.quote
    lines = ["exec 3>&2 2>&1 4<&0 </dev/null"]
    env_ok = [f"{k}={q(v)}" for k, v in command.env.items() if _NAME.match(k)]
    env_odd = [q(f"{k}={v}") for k, v in command.env.items() if not _NAME.match(k)]
    if env_ok:
        lines.append("export " + " ".join(env_ok))
    fail = "{ printf '@@wfrun C\\n' >&3; exit 1; }"
    dirs = list(dict.fromkeys(d for d in (command.cwd, posixpath.dirname(command.outputs_file)) if d))
    exists = " && ".join(f"[ -d {q(d)} ]" for d in dirs)
    lines.append(f"{{ {exists}; }} || mkdir -p -- {' '.join(q(d) for d in dirs)} || {fail}")
    lines.append(f"cd -- {q(command.cwd)} || {fail}")
    shell = " ".join(q(a) for a in command.shell)
    if env_odd:  # names bash cannot export still reach the script's environment
        shell = "env " + " ".join(env_odd) + " " + shell
    lines.append(f"s={q(command.script)}")
    grace = max(1, int(command.grace + 0.999))
    lines += [
        "exec 2>/dev/null",  # the shell's job notices ("[1]+ Done …") are not step output
        "set -m",
        f'{shell} -c {q(read_script(5))} bash 5<<<"$s" 2>&1 3>&- 4<&- &',
        "p=$!",
        f'{{ read -r -u 4 x; kill -TERM -- "-$p"; sleep {grace}; kill -KILL -- "-$p"; }} </dev/null >/dev/null 2>&1 3>&- &',
        'w=$!; disown "$w"',
        "set +m",
        "printf '@@wfrun P %d\\n' \"$p\" >&3",
        'wait "$p" 2>/dev/null; c=$?',
        'kill -9 -- "-$p" "-$w" 2>/dev/null',
        "printf '@@wfrun X %d\\n' \"$c\" >&3",
        f"o={q(command.outputs_file)}",
        "if [ -f \"$o\" ]; then IFS= read -r -d '' x <\"$o\"; printf '@@wfrun O\\n%s' \"$x\" >&3; fi",
        'exit "$c"',
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- pool


class SSHPool:
    """The run's SSH connections, keyed by (user, host, port, jump); one per run."""

    def __init__(
        self,
        *,
        known_hosts: str | None = None,
        client_keys: list[str] | None = None,
        config_paths: list[str] | None = None,
        channels_per_connection: int = 4,
        connections_per_host: int = 4,
        connect_timeout: float = 15,
        keepalive_interval: float = 5,
        keepalive_count_max: int = 2,
        insecure_no_host_key_check: bool = False,
    ) -> None:
        if channels_per_connection < 1 or connections_per_host < 1:
            raise ValueError("channels_per_connection and connections_per_host must be at least 1")
        self.known_hosts = known_hosts
        self.client_keys = client_keys
        self.config_paths = config_paths
        self.channels_per_connection = channels_per_connection
        self.connections_per_host = connections_per_host
        self.connect_timeout = connect_timeout
        self.keepalive_interval = keepalive_interval
        self.keepalive_count_max = keepalive_count_max
        self.insecure_no_host_key_check = insecure_no_host_key_check
        self._targets: dict[tuple, SSHTarget] = {}
        self._jumps: dict[HostSpec, _Jump] = {}
        self._closed = False

    def target(
        self, spec: str, *, jump: str | None = None, user: str | None = None, port: int | None = None
    ) -> SSHTarget:
        """The target for ``[user@]host[:port]`` (through ``jump``, same syntax), cached per key."""
        host = parse_host(spec, user=user, port=port)
        via = parse_host(jump) if jump else None
        key = (host, via)
        if key not in self._targets:
            self._targets[key] = SSHTarget(_Host(self, host, via))
        return self._targets[key]

    async def aclose(self) -> None:
        """Close every connection (jump hosts last); idempotent."""
        self._closed = True
        await asyncio.gather(*(t._host.aclose() for t in self._targets.values()))
        await asyncio.gather(*(j.aclose() for j in self._jumps.values()))

    # -- connecting ---------------------------------------------------------

    def _jump(self, spec: HostSpec) -> _Jump:
        if spec not in self._jumps:
            self._jumps[spec] = _Jump(self, spec)
        return self._jumps[spec]

    def _options(self, spec: HostSpec) -> dict:
        opts: dict = {
            "config": self.config_paths if self.config_paths is not None else (),
            "connect_timeout": self.connect_timeout,
            "login_timeout": self.connect_timeout,
            "keepalive_interval": self.keepalive_interval,
            "keepalive_count_max": self.keepalive_count_max,
        }
        if spec.user:
            opts["username"] = spec.user
        if spec.port is not None:
            opts["port"] = spec.port
        if self.client_keys is not None:
            opts["client_keys"] = self.client_keys
        if self.insecure_no_host_key_check:
            opts["known_hosts"] = None
        elif self.known_hosts is not None:
            opts["known_hosts"] = self.known_hosts
        return opts

    async def _connect(self, spec: HostSpec, via: HostSpec | None, name: str, on_lost) -> asyncssh.SSHClientConnection:
        if self._closed:
            raise TargetError(f"ssh {name}: the run's SSH pool is closed")
        problem = known_hosts_problem(self.known_hosts, self.insecure_no_host_key_check) or identity_problem(self.client_keys)
        if problem:
            raise TargetError(f"ssh {name}: {problem}")
        opts = self._options(spec)
        if via is not None:
            opts["tunnel"] = await self._jump(via).connection()
        try:
            return await asyncssh.connect(spec.host, client_factory=lambda: _Client(on_lost), **opts)
        except Exception as exc:  # noqa: BLE001 - translated at this one boundary
            error = connect_error(name, exc, self)
            if error is exc:
                raise
            raise error from exc


class _Client(asyncssh.SSHClient):
    def __init__(self, on_lost) -> None:
        self._on_lost = on_lost

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost(exc)


def _transient(exc: BaseException) -> bool:
    """A connect failure another try may get past: refused, unreachable, timed out, dropped — not a host key,
    a login, or a file of ours."""
    if isinstance(exc, (asyncssh.HostKeyNotVerifiable, asyncssh.PermissionDenied)):
        return False
    if isinstance(exc, OSError):
        return not exc.filename
    return isinstance(exc, (asyncssh.DisconnectError, asyncio.TimeoutError, TimeoutError, asyncssh.ChannelOpenError,
                            asyncssh.ConnectionLost))


def connect_error(name: str, exc: BaseException, pool: SSHPool | None = None) -> BaseException:
    """A one-line TargetError for a failed connect; anything unexpected is returned unchanged."""
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        where = f" {pool.known_hosts}" if pool is not None and pool.known_hosts else ""
        text = (f"host key not verifiable (unknown or changed host key; not trusted by known_hosts{where}): {exc.reason}"
                " (give the file that lists it with --known-hosts FILE, or 'ssh: known_hosts:' in the wfrun config)")
    elif isinstance(exc, asyncssh.PermissionDenied):
        text = f"authentication failed (no key, agent identity or IdentityFile was accepted): {exc.reason}"
    elif isinstance(exc, asyncssh.DisconnectError):
        text = f"connection closed by the server: {exc.reason}"
    elif isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        text = f"connection timed out after {pool.connect_timeout:g} s" if pool else "connection timed out"
    elif isinstance(exc, socket.gaierror):
        text = f"unknown host: {exc.strerror or exc}"
    elif isinstance(exc, OSError):
        text = f"cannot connect: {os.strerror(exc.errno) if exc.errno else exc}"
        if exc.filename:  # a file asyncssh read (an ssh config's IdentityFile, say), not the network
            text = f"cannot read {exc.filename}: {exc.strerror or exc}"
    elif isinstance(exc, asyncssh.ChannelOpenError):  # the jump host could not reach the target
        text = f"cannot connect through the jump host: {exc.reason}"
    elif isinstance(exc, (asyncssh.Error, asyncssh.KeyImportError, asyncssh.KeyExportError, ValueError)):
        text = str(exc)  # e.g. an unreadable key file or a bad ssh config value
    else:
        return exc
    kind = ConnectionFailed if _transient(exc) else TargetError
    return kind(" ".join(f"ssh {name}: {text}".split()))


@dataclass(eq=False)
class _Conn:
    """One asyncssh connection and its step channels."""

    ssh: asyncssh.SSHClientConnection | None = None
    in_use: int = 0
    lost: str | None = None
    home: str | None = None
    direct: bool = False  # the login shell is bash: it can source the bootstrap itself

    def on_lost(self, exc: Exception | None) -> None:
        reason = str(exc) if exc else ""
        if reason in ("", "Connection lost"):  # asyncssh's words for a plain EOF
            reason = "closed by the server or the network"
        self.lost = reason


class _Host:
    """The connections to one (user, host, port, jump) and the channel slots on them."""

    def __init__(self, pool: SSHPool, spec: HostSpec, via: HostSpec | None) -> None:
        self.pool = pool
        self.spec = spec
        self.via = via
        self.name = str(spec) + (f" via {via}" if via else "")
        self.stats = TargetStats(extra={"connections_opened": 0, "peak_channels_per_connection": 0,
                                        "peak_connections": 0, "connections_lost": 0})
        self._conns: list[_Conn] = []
        self._connecting = 0
        self._waiting = 0
        self._waiters: list[asyncio.Future] = []
        self._failures = 0
        self._last_error: str = ""
        self._last_kind: type[TargetError] = TargetError
        self.active: set[_Step] = set()

    @property
    def cap(self) -> int:
        return self.pool.channels_per_connection

    # -- slots ----------------------------------------------------------------

    async def acquire(self) -> _Conn:
        """A live connection with a free channel slot (taken); connects when needed."""
        seen = self._failures
        self._waiting += 1
        try:
            while True:
                self._prune()
                conn = self._free()
                if conn is not None:
                    self._take(conn)
                    return conn
                if self._failures != seen and not self._conns and not self._connecting:
                    raise self._last_kind(self._last_error)
                capacity = (len(self._conns) + self._connecting) * self.cap
                demand = sum(c.in_use for c in self._conns) + self._waiting
                if demand > capacity and len(self._conns) + self._connecting < self.pool.connections_per_host:
                    return await self._connect_and_take()
                await self._wait()
        finally:
            self._waiting -= 1

    def release(self, conn: _Conn) -> None:
        conn.in_use -= 1
        self._wake(all_=False)

    def _take(self, conn: _Conn) -> None:
        conn.in_use += 1
        extra = self.stats.extra
        extra["peak_channels_per_connection"] = max(extra["peak_channels_per_connection"], conn.in_use)

    def _free(self) -> _Conn | None:
        free = [c for c in self._conns if c.in_use < self.cap]
        return min(free, key=lambda c: c.in_use) if free else None

    def _prune(self) -> None:
        live = [c for c in self._conns if c.lost is None]
        if len(live) != len(self._conns):
            self.stats.extra["connections_lost"] += len(self._conns) - len(live)
            self._conns = live

    async def _wait(self) -> None:
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._wake(all_=False)  # pass on the wake-up this task can no longer use
            else:
                self._waiters.remove(fut)
            raise

    def _wake(self, *, all_: bool) -> None:
        while self._waiters:
            fut = self._waiters.pop(0)
            if not fut.done():
                fut.set_result(None)
                if not all_:
                    return

    async def _connect_and_take(self) -> _Conn:
        self._connecting += 1
        try:
            conn = await self._open_connection()
        except TargetError as exc:
            self._failures += 1
            self._last_error = str(exc)
            self._last_kind = type(exc)
            raise
        finally:
            self._connecting -= 1
            self._wake(all_=True)
        self._conns.append(conn)
        self.stats.extra["peak_connections"] = max(self.stats.extra["peak_connections"], len(self._conns))
        self._take(conn)
        return conn

    async def _open_connection(self) -> _Conn:
        conn = _Conn()
        conn.ssh = await self.pool._connect(self.spec, self.via, self.name, self._lost_callback(conn))
        self.stats.extra["connections_opened"] += 1
        try:
            await self._probe(conn)
        except BaseException:  # cancelled before the connection joined the pool: do not leak it
            conn.ssh.abort()
            raise
        return conn

    def _lost_callback(self, conn: _Conn):
        def lost(exc: Exception | None) -> None:
            conn.on_lost(exc)
            self._wake(all_=True)

        return lost

    async def _probe(self, conn: _Conn) -> None:
        """Learn $HOME and whether the login shell is bash (one channel, once per connection)."""
        try:
            result = await conn.ssh.run('echo "$HOME"; echo "$SHELL"', stdin=asyncssh.DEVNULL, timeout=30)
        except (asyncssh.Error, OSError, asyncio.TimeoutError):
            return
        lines = (result.stdout or "").splitlines()
        if result.exit_status == 0 and len(lines) >= 2:
            conn.home = lines[-2]
            conn.direct = posixpath.basename(lines[-1]) == "bash"

    async def aclose(self) -> None:
        # Steps still running here were not cancelled by their owner: their
        # remote groups must not outlive the run.
        await asyncio.gather(*(_bounded(step.kill(), 10) for step in list(self.active)))
        conns, self._conns = self._conns, []
        for conn in conns:
            if conn.ssh is not None:
                conn.ssh.close()
        await asyncio.gather(*(_bounded(c.ssh.wait_closed(), 5) for c in conns if c.ssh is not None))


class _Jump:
    """The one connection to a jump host that tunnels carry through (no session channels)."""

    def __init__(self, pool: SSHPool, spec: HostSpec) -> None:
        self.pool = pool
        self.spec = spec
        self._conn: _Conn | None = None
        self._lock = asyncio.Lock()

    async def connection(self) -> asyncssh.SSHClientConnection:
        async with self._lock:
            if self._conn is None or self._conn.lost is not None:
                conn = _Conn()
                conn.ssh = await self.pool._connect(self.spec, None, f"{self.spec} (jump host)", conn.on_lost)
                self._conn = conn
            return self._conn.ssh

    async def aclose(self) -> None:
        if self._conn is not None and self._conn.ssh is not None:
            self._conn.ssh.close()
            await _bounded(self._conn.ssh.wait_closed(), 5)


# --------------------------------------------------------------------------- target


class SSHTarget:
    """A remote host as a :class:`~workflow_runner.targets.base.Target`; made by :meth:`SSHPool.target`."""

    def __init__(self, host: _Host) -> None:
        self._host = host
        self.name = host.name

    @property
    def stats(self) -> TargetStats:
        return self._host.stats

    async def home(self) -> str:
        conn = await self._host.acquire()
        try:
            if conn.home is None:
                await self._host._probe(conn)
            if conn.home is None:
                raise TargetError(f"ssh {self.name}: cannot read the remote $HOME")
            return conn.home
        finally:
            self._host.release(conn)

    async def aclose(self) -> None:
        return None  # the pool owns the connections

    async def run(self, command: StepCommand, on_output: OutputCallback) -> StepResult:
        self.stats.commands += 1
        program = bootstrap(command)
        step = await self._start(command, program, on_output)
        try:
            return await step.finish(command)
        except BaseException:  # cancelled, or on_output raised: the remote group must not outlive us
            await to_the_end(step.terminate(command))
            raise
        finally:
            self._host.release(step.conn)

    async def _start(self, command: StepCommand, program: str, on_output: OutputCallback) -> _Step:
        """Open the step's channel (slot held on return); retries refused opens with backoff."""
        delay = 0.01
        for attempt in range(_OPEN_ATTEMPTS):
            conn = await self._host.acquire()
            opening = asyncio.ensure_future(self._open(conn, program, on_output))
            try:
                return await asyncio.shield(opening)
            except asyncio.CancelledError:
                # The exec request may already be on its way: let it settle, then stop what started.
                step = await _settle(opening, 10)
                if step is not None:
                    with contextlib.suppress(Exception):
                        await to_the_end(step.terminate(command))
                self._host.release(conn)
                raise
            except asyncssh.ChannelOpenError as exc:
                self._host.release(conn)
                if conn.lost is None:
                    self.stats.retries += 1
                    if attempt == _OPEN_ATTEMPTS - 1:
                        raise TargetError(f"ssh {self.name}: the server keeps refusing new sessions: {exc.reason}") from exc
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)
            except BaseException:
                self._host.release(conn)
                raise
        raise TargetError(f"ssh {self.name}: could not open a session")

    async def _open(self, conn: _Conn, program: str, on_output: OutputCallback) -> _Step:
        encoded = program.encode("utf-8", "surrogateescape").replace(b"\0", b"")  # bash strings hold no NUL
        command = (_DIRECT if conn.direct else _WRAPPER).format(n=len(encoded))
        try:
            proc = await conn.ssh.create_process(command, encoding=None)
            proc.stdin.write(encoded + b"\0")  # and no EOF: the open stdin is the step's lifeline
        except asyncssh.ChannelOpenError:
            raise
        except (asyncssh.Error, OSError) as exc:
            return _Step.failed(self, conn, exc)
        return _Step(self, conn, proc, on_output)


class _Step:
    """One running remote step: its channel, the readers of its two streams, its PGID."""

    def __init__(self, target: SSHTarget, conn: _Conn, proc, on_output: OutputCallback | None) -> None:
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
            target._host.active.add(self)
            self.readers = {
                asyncio.ensure_future(self._pump(proc.stdout)),
                asyncio.ensure_future(self._control(proc.stderr)),
            }

    @classmethod
    def failed(cls, target: SSHTarget, conn: _Conn, exc: BaseException) -> _Step:
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
                if not line.startswith(_MARK):
                    self._emit(line)
                    continue
                kind, _, value = line[len(_MARK):].rstrip(b"\n").partition(b" ")
                if kind == b"P" and not self.pgid.done():
                    self.pgid.set_result(int(value))
                elif kind == b"X":
                    self.code = int(value)
                elif kind == b"C":
                    self.cwd_failed = True
                elif kind == b"O":
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
            self.target._host.active.discard(self)
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
            if self.target._host.pool._closed:
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
        self.target._host.active.discard(self)
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
                await asyncio.sleep(0.05 * (attempt + 1))
            except (asyncssh.Error, OSError, asyncio.TimeoutError):
                return


# --------------------------------------------------------------------------- helpers


async def _bounded(aw: Awaitable, seconds: float) -> None:
    with contextlib.suppress(Exception, asyncio.TimeoutError):
        await asyncio.wait_for(aw, seconds)


async def _settle(fut: asyncio.Future, seconds: float):
    """The result of ``fut`` within ``seconds`` while ignoring cancellation, else None."""
    try:
        await to_the_end(asyncio.wait({fut}, timeout=seconds))
    except Exception:  # noqa: BLE001
        return None
    if fut.done() and not fut.cancelled() and fut.exception() is None:
        return fut.result()
    fut.cancel()
    return None
