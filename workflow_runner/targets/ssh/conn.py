"""One asyncssh connection, its lost-callback, and the one-line translation of connect failures.

Shared by the pool (which opens connections), the host slots (which hand them out) and the
target (which runs steps on them); depends on none of those, so the package has no cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

import asyncssh

from workflow_runner.errors import ConnectionFailed, TargetError
from workflow_runner.targets.base import to_the_end
from workflow_runner.targets.hostspec import HostSpec

LostCallback = Callable[[Exception | None], None]


@dataclass(eq=False)
class Connection:
    """One asyncssh connection and its step channels."""

    ssh: asyncssh.SSHClientConnection | None = None
    in_use: int = 0
    lost: str | None = None
    home: str | None = None
    direct: bool = False  # the login shell is bash: it can source the bootstrap itself
    idle: list[Any] = field(default_factory=list)
    """Agents (``agent.Agent``) on this connection waiting for their next step; each uses a slot only while
    it runs one, so there are never more of them than the connection's channel cap."""

    def on_lost(self, exc: Exception | None) -> None:
        reason = str(exc) if exc else ""
        if reason in ("", "Connection lost"):  # asyncssh's words for a plain EOF
            reason = "closed by the server or the network"
        self.lost = reason


class Connector(Protocol):
    """What host slots need of the pool (the pool implements it; typed here to keep imports one-way)."""

    closed: bool
    channels_per_connection: int
    connections_per_host: int
    known_hosts: str | None
    connect_timeout: float

    async def connect(self, spec: HostSpec, via: HostSpec | None, name: str,
                      on_lost: LostCallback) -> asyncssh.SSHClientConnection: ...


class Client(asyncssh.SSHClient):
    """Reports the end of the connection to the pool's bookkeeping."""

    def __init__(self, on_lost: LostCallback) -> None:
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


def connect_error(name: str, exc: BaseException, pool: Connector | None = None) -> BaseException:
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


async def bounded(aw: Awaitable, seconds: float) -> None:
    """Await ``aw`` for at most ``seconds``, ignoring its failure (used when closing)."""
    with contextlib.suppress(Exception, asyncio.TimeoutError):
        await asyncio.wait_for(aw, seconds)


async def settle(fut: asyncio.Future, seconds: float) -> Any:
    """The result of ``fut`` within ``seconds`` while ignoring cancellation, else None."""
    try:
        await to_the_end(asyncio.wait({fut}, timeout=seconds))
    except Exception:  # noqa: BLE001
        return None
    if fut.done() and not fut.cancelled() and fut.exception() is None:
        return fut.result()
    fut.cancel()
    return None
