"""What every session forwarder offers (SSH here and in ``ssh.py``, ``kubectl port-forward`` in ``kube.py``), and the
local listening socket the SSH tunnel and the local relay share.

The listener is ours, not asyncssh's ``forward_local_port``: it outlives the SSH connection, so a tunnel that
reconnects keeps its port and its URL. Each accepted client is paired with one new connection to the service
(a ``direct-tcpip`` channel over SSH, or a plain TCP connection here) by :class:`Pipe`, a protocol-level relay
with flow control (no copy loop, no task per chunk): the same shape as asyncssh's own forwarder.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Awaitable, Callable, Protocol

STARTING, OPEN, RECONNECTING, CLOSED = "starting", "open", "reconnecting", "closed"
STATES = (STARTING, OPEN, RECONNECTING, CLOSED)


class Forwarder(Protocol):
    """A local port forwarding to a remote service; ``state`` is one of :data:`STATES`."""

    state: str

    async def start(self) -> int:
        """Listen; return the local port (raise on failure: the step fails)."""
        ...

    async def close(self) -> None:
        """Stop listening and drop the forwarded connections; idempotent."""
        ...


StateCallback = Callable[[str, "str | None"], None]
"""(new state, message) — how a forwarder says it reconnects, is open again, or closed."""


class Pipe(asyncio.Protocol):
    """One side of a forwarded connection; what it reads, its peer writes. Works on sockets and SSH channels
    (``data_received`` takes the channel's extra ``datatype``)."""

    def __init__(self, peer: "Pipe | None" = None) -> None:
        self.peer: Pipe | None = None
        self.transport: Any = None
        self.pending: list[bytes] = []
        self.eof = False
        if peer is not None:
            self.peer, peer.peer = peer, self

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def session_started(self) -> None:  # asyncssh session protocol
        pass

    def data_received(self, data: bytes, datatype: Any = None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)
        else:
            self.pending.append(data)  # the other side is still being opened (up to 30 s during a reconnect):
            pause = getattr(self.transport, "pause_reading", None)  # hold the client, not its bytes
            if pause is not None:
                pause()

    def eof_received(self) -> bool:
        self.eof = True
        if self.peer is not None and self.peer.transport is not None:
            self.peer.write_eof()
            return not self.peer.eof  # keep the half-open side until both said EOF
        return True

    def write_eof(self) -> None:
        try:
            if self.transport is not None and self.transport.can_write_eof():
                self.transport.write_eof()
        except (OSError, RuntimeError, AttributeError):
            pass

    def joined(self) -> None:
        """The peer is open: pass on what arrived meanwhile (or close it, if this side left meanwhile)."""
        if self.transport is None:
            if self.peer is not None:
                self.peer.close()
            return
        if self.peer is None or self.peer.transport is None:
            return
        for chunk in self.pending:
            self.peer.transport.write(chunk)
        if self.pending:
            self.pending.clear()
            self.transport.resume_reading()
        if self.eof:
            self.peer.write_eof()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.close()

    def close(self) -> None:
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.close()
        peer, self.peer = self.peer, None
        if peer is not None:
            peer.close()


Opener = Callable[[Pipe, str, int], Awaitable[None]]
"""(local client side, its host, its port) → the far side opened and joined to it, or an exception."""


class Listener:
    """``127.0.0.1:port`` (0: a free one); every client gets its own connection to the service through ``opener``."""

    def __init__(self, opener: Opener, on_refused: Callable[[BaseException], None] | None = None) -> None:
        self.opener = opener
        self.on_refused = on_refused
        self.server: asyncio.base_events.Server | None = None
        self.clients: set[Pipe] = set()
        self.tasks: set[asyncio.Task] = set()
        self.port = 0

    async def listen(self, port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Accepted(self), "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    def accepted(self, client: Pipe, peer: tuple) -> None:
        self.clients.add(client)
        task = asyncio.ensure_future(self._join(client, str(peer[0]), int(peer[1])))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _join(self, client: Pipe, host: str, port: int) -> None:
        try:
            await self.opener(client, host, port)
        except asyncio.CancelledError:
            client.close()
            raise
        except Exception as exc:  # noqa: BLE001 - refused, unreachable, no connection: this client only
            client.close()
            self.clients.discard(client)
            if self.on_refused is not None:
                self.on_refused(exc)
            return
        client.joined()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for task in list(self.tasks):
            task.cancel()
        for client in list(self.clients):
            client.close()
        self.clients.clear()


class _Accepted(Pipe):
    def __init__(self, listener: Listener) -> None:
        super().__init__()
        self.listener = listener

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.listener.accepted(self, transport.get_extra_info("peername") or ("127.0.0.1", 0))

    def connection_lost(self, exc: BaseException | None) -> None:
        self.listener.clients.discard(self)
        super().connection_lost(exc)


class LocalRelay:
    """A session whose service runs on this machine: the same listener, relaying to ``host:port`` directly."""

    def __init__(self, host: str, port: int, local_port: int = 0) -> None:
        self.host, self.port, self.local_port = host, port, local_port
        self.state = STARTING
        self.listener = Listener(self._open)

    async def _open(self, client: Pipe, _host: str, _port: int) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: Pipe(client), self.host, self.port)

    async def start(self) -> int:
        port = await self.listener.listen(self.local_port)
        self.state = OPEN
        return port

    async def close(self) -> None:
        self.state = CLOSED
        await self.listener.close()
