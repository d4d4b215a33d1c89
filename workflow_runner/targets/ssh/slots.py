"""The channel slots on one host's connections, and the one connection to a jump host.

OpenSSH allows ``MaxSessions`` (10) sessions per connection and starts refusing opens
*below* that under churn, so at most ``channels_per_connection`` (4) step channels are open
per connection; when every connection is full and more steps wait, another connection to
the same host is opened (up to ``connections_per_host``). Waiters queue in order.
"""

from __future__ import annotations

import asyncio
import posixpath
from typing import Protocol

import asyncssh

from workflow_runner.errors import TargetError
from workflow_runner.targets.base import TargetStats
from workflow_runner.targets.hostspec import HostSpec
from workflow_runner.targets.ssh.conn import Connection, Connector, bounded


class Killable(Protocol):
    """A running step as the slots see it: the pool closing under it kills its remote group."""

    async def kill(self) -> None: ...


class HostSlots:
    """The connections to one (user, host, port, jump) and the channel slots on them."""

    def __init__(self, pool: Connector, spec: HostSpec, via: HostSpec | None) -> None:
        self.pool = pool
        self.spec = spec
        self.via = via
        self.name = str(spec) + (f" via {via}" if via else "")
        self.stats = TargetStats(extra={"connections_opened": 0, "peak_channels_per_connection": 0,
                                        "peak_connections": 0, "connections_lost": 0})
        self.connections: list[Connection] = []
        self._connecting = 0
        self._waiting = 0
        self._waiters: list[asyncio.Future] = []
        self._failures = 0
        self._last_error: str = ""
        self._last_kind: type[TargetError] = TargetError
        self.active: set[Killable] = set()

    @property
    def cap(self) -> int:
        return self.pool.channels_per_connection

    # -- slots ----------------------------------------------------------------

    async def acquire(self) -> Connection:
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
                if self._failures != seen and not self.connections and not self._connecting:
                    raise self._last_kind(self._last_error)
                capacity = (len(self.connections) + self._connecting) * self.cap
                demand = sum(c.in_use for c in self.connections) + self._waiting
                if demand > capacity and len(self.connections) + self._connecting < self.pool.connections_per_host:
                    return await self._connect_and_take()
                await self._wait()
        finally:
            self._waiting -= 1

    def release(self, conn: Connection) -> None:
        conn.in_use -= 1
        self._wake(all_=False)

    def _take(self, conn: Connection) -> None:
        conn.in_use += 1
        extra = self.stats.extra
        extra["peak_channels_per_connection"] = max(extra["peak_channels_per_connection"], conn.in_use)

    def _free(self) -> Connection | None:
        free = [c for c in self.connections if c.in_use < self.cap]
        return min(free, key=lambda c: c.in_use) if free else None

    def _prune(self) -> None:
        live = [c for c in self.connections if c.lost is None]
        if len(live) != len(self.connections):
            self.stats.extra["connections_lost"] += len(self.connections) - len(live)
            self.connections = live

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

    async def _connect_and_take(self) -> Connection:
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
        self.connections.append(conn)
        self.stats.extra["peak_connections"] = max(self.stats.extra["peak_connections"], len(self.connections))
        self._take(conn)
        return conn

    async def _open_connection(self) -> Connection:
        conn = Connection()
        conn.ssh = await self.pool.connect(self.spec, self.via, self.name, self._lost_callback(conn))
        self.stats.extra["connections_opened"] += 1
        try:
            await self.probe(conn)
        except BaseException:  # cancelled before the connection joined the pool: do not leak it
            conn.ssh.abort()
            raise
        return conn

    def _lost_callback(self, conn: Connection):
        def lost(exc: Exception | None) -> None:
            conn.on_lost(exc)
            self._wake(all_=True)

        return lost

    async def probe(self, conn: Connection) -> None:
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
        await asyncio.gather(*(bounded(step.kill(), 10) for step in list(self.active)))
        conns, self.connections = self.connections, []
        for conn in conns:
            if conn.ssh is not None:
                conn.ssh.close()
        await asyncio.gather(*(bounded(c.ssh.wait_closed(), 5) for c in conns if c.ssh is not None))


class JumpHost:
    """The one connection to a jump host that tunnels carry through (no session channels)."""

    def __init__(self, pool: Connector, spec: HostSpec) -> None:
        self.pool = pool
        self.spec = spec
        self._conn: Connection | None = None
        self._lock = asyncio.Lock()

    async def connection(self) -> asyncssh.SSHClientConnection:
        async with self._lock:
            if self._conn is None or self._conn.lost is not None:
                conn = Connection()
                conn.ssh = await self.pool.connect(self.spec, None, f"{self.spec} (jump host)", conn.on_lost)
                self._conn = conn
            return self._conn.ssh

    async def aclose(self) -> None:
        if self._conn is not None and self._conn.ssh is not None:
            self._conn.ssh.close()
            await bounded(self._conn.ssh.wait_closed(), 5)
