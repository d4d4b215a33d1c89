"""The run's pooled SSH connections (one :class:`SSHPool` per run).

Per ``(user, host, port, jump)`` the pool holds up to ``connections_per_host`` asyncssh
connections, opened lazily, kept alive and shared by every step; :meth:`SSHPool.aclose`
closes them at the end of the run. The user's ``~/.ssh/config`` (Host aliases, HostName,
User, Port, IdentityFile, ProxyJump), default keys and agent apply through asyncssh's
``config=``; host keys are checked against known_hosts (``known_hosts=`` when given, else
the user's and the system's files). Keepalives (``keepalive_interval`` ×
``keepalive_count_max``, 5 s × 2 by default) notice a silent server within about 15 s.
"""

from __future__ import annotations

import asyncio

import asyncssh

from workflow_runner.errors import TargetError
from workflow_runner.targets.hostspec import HostSpec, parse_host
from workflow_runner.targets.ssh.conn import Client, LostCallback, connect_error
from workflow_runner.targets.ssh.slots import HostSlots, JumpHost
from workflow_runner.targets.ssh.target import SSHTarget
from workflow_runner.targets.sshfiles import identity_problem, known_hosts_problem

__all__ = ["SSHPool"]


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
        self._jumps: dict[HostSpec, JumpHost] = {}
        self.closed = False

    def target(
        self, spec: str, *, jump: str | None = None, user: str | None = None, port: int | None = None
    ) -> SSHTarget:
        """The target for ``[user@]host[:port]`` (through ``jump``, same syntax), cached per key."""
        host = parse_host(spec, user=user, port=port)
        via = parse_host(jump) if jump else None
        key = (host, via)
        if key not in self._targets:
            self._targets[key] = SSHTarget(HostSlots(self, host, via))
        return self._targets[key]

    async def aclose(self) -> None:
        """Close every connection (jump hosts last); idempotent."""
        self.closed = True
        await asyncio.gather(*(t.host.aclose() for t in self._targets.values()))
        await asyncio.gather(*(j.aclose() for j in self._jumps.values()))

    # -- connecting ---------------------------------------------------------

    def _jump(self, spec: HostSpec) -> JumpHost:
        if spec not in self._jumps:
            self._jumps[spec] = JumpHost(self, spec)
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

    async def connect(self, spec: HostSpec, via: HostSpec | None, name: str,
                      on_lost: LostCallback) -> asyncssh.SSHClientConnection:
        if self.closed:
            raise TargetError(f"ssh {name}: the run's SSH pool is closed")
        problem = known_hosts_problem(self.known_hosts, self.insecure_no_host_key_check) or identity_problem(self.client_keys)
        if problem:
            raise TargetError(f"ssh {name}: {problem}")
        opts = self._options(spec)
        if via is not None:
            opts["tunnel"] = await self._jump(via).connection()
        try:
            return await asyncssh.connect(spec.host, client_factory=lambda: Client(on_lost), **opts)
        except Exception as exc:  # noqa: BLE001 - translated at this one boundary
            error = connect_error(name, exc, self)
            if error is exc:
                raise
            raise error from exc
