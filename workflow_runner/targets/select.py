"""Choosing where a step runs from its ``ssh:`` block (job- or step-level)."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from workflow_runner.records import Record, record
from workflow_runner.targets.base import Target
from workflow_runner.targets.hostusers import LOCAL_NAMES, HostUsers
from workflow_runner.targets.local import LocalTarget


@record
class SSHOptions(Record):
    """How this run connects over SSH: host keys, identities, config files and connection limits."""

    known_hosts: str | None = None
    identity_files: list[str] = field(default_factory=list)
    config_paths: list[str] | None = None
    insecure_no_host_key_check: bool = False
    channels_per_connection: int = 4
    connections_per_host: int = 4


class Targets:
    """The run's targets: one local, and an SSH pool created on first remote use.

    ``users`` gives the login user of a host named without ``user@`` (the cluster's
    ``user:``, :mod:`.hostusers`); for the jump host too.
    """

    def __init__(self, ssh_options: SSHOptions | None = None, users: HostUsers | None = None) -> None:
        self.local = LocalTarget()
        self.ssh_options = ssh_options or SSHOptions()
        self.users = users or HostUsers()
        self._pool: Any = None

    def is_local(self, host: str | None) -> bool:
        return host is None or str(host).strip() in LOCAL_NAMES

    def get(self, host: str | None, jump: str | None = None) -> Target:
        if self.is_local(host):
            return self.local
        if self._pool is None:
            from workflow_runner.targets.ssh import SSHPool

            opts = self.ssh_options
            self._pool = SSHPool(
                known_hosts=opts.known_hosts,
                client_keys=opts.identity_files or None,
                config_paths=opts.config_paths,
                channels_per_connection=opts.channels_per_connection,
                connections_per_host=opts.connections_per_host,
                insecure_no_host_key_check=opts.insecure_no_host_key_check,
            )
        via = str(jump).strip() if jump else ""
        return self._pool.target(self.users.apply(str(host)), jump=self.users.apply(via) if via else None)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
