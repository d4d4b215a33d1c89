"""A session over SSH: a local port whose clients each get a ``direct-tcpip`` channel to ``host:port`` as seen
from the step's resource host — ``ssh -L`` on the run's own asyncssh connection.

The connection is the run's (``SSHTarget.tunnel_connection``: the pooled connection its steps use, host keys
verified as for them, through the jump host its ``ssh:`` names). Forwarded channels are not sessions, so they hold
no channel slot. When that connection drops, the tunnel says so (state ``reconnecting``), connects again with
backoff and says so again (``open``); the local port, and so the URL, stay the same. A client that arrives
meanwhile waits for the connection (up to :data:`WAIT_FOR_CONNECTION` seconds). A service that is not
listening yet refuses the channel: that client's connection is closed, and the tunnel stays.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Awaitable, Callable

from workflow_runner.backoff import Backoff
from workflow_runner.sessions.forwarder import CLOSED, OPEN, RECONNECTING, STARTING, Listener, Pipe, StateCallback

RECONNECT = Backoff(0.5, cap=15.0)
"""Waits between reconnect attempts: 0.5, 1, 2 ... 15 s."""
WAIT_FOR_CONNECTION = 30.0

Connect = Callable[[], Awaitable[Any]]
"""A live asyncssh connection to the resource host (the run's pool: it reconnects when the last one was lost)."""


class SSHTunnel:
    """``127.0.0.1:local_port`` → ``remote_host:remote_port`` over the connection ``connect`` gives."""

    def __init__(self, connect: Connect, remote_host: str, remote_port: int, *, local_port: int = 0,
                 on_state: StateCallback | None = None, where: str = "the host") -> None:
        self.connect = connect
        self.remote_host, self.remote_port, self.local_port = remote_host, remote_port, local_port
        self.on_state = on_state or (lambda state, message: None)
        self.where = where
        self.state = STARTING
        self.conn: Any = None
        self.ready = asyncio.Event()
        self.listener = Listener(self._open)
        self.watcher: asyncio.Task | None = None
        self.reconnects = 0

    async def start(self) -> int:
        self.conn = await self.connect()  # fails the step: no connection, no session
        port = await self.listener.listen(self.local_port)
        self.local_port = port
        self.state = OPEN
        self.ready.set()
        self.watcher = asyncio.ensure_future(self._watch())
        return port

    async def _open(self, client: Pipe, orig_host: str, orig_port: int) -> None:
        if not self.ready.is_set():
            await asyncio.wait_for(self.ready.wait(), WAIT_FOR_CONNECTION)
        if self.state == CLOSED:
            raise ConnectionAbortedError("the session is closed")
        await self.conn.create_connection(lambda: Pipe(client), self.remote_host, self.remote_port, orig_host, orig_port)

    async def _watch(self) -> None:
        """Reconnect whenever the connection ends, until the tunnel is closed."""
        while self.state != CLOSED:
            await self.conn.wait_closed()
            if self.state == CLOSED:
                return
            self.ready.clear()
            self.state = RECONNECTING
            self.on_state(RECONNECTING, f"the SSH connection to {self.where} was lost; reconnecting")
            tries = 0
            while self.state != CLOSED:
                try:
                    self.conn = await self.connect()
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - say why, wait, try again
                    if tries == 0 or tries % 5 == 4:
                        self.on_state(RECONNECTING, f"reconnecting to {self.where}: {exc}")
                    await asyncio.sleep(RECONNECT.delay(tries))
                    tries += 1
            if self.state == CLOSED:
                return
            self.reconnects += 1
            self.state = OPEN
            self.ready.set()
            self.on_state(OPEN, f"reconnected to {self.where}" + (f" after {tries + 1} tries" if tries else ""))

    async def close(self) -> None:
        if self.state == CLOSED:
            return
        self.state = CLOSED
        self.ready.set()  # waiting clients see CLOSED and leave
        if self.watcher is not None:
            self.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.watcher
        await self.listener.close()
