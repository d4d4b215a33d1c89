"""Run step scripts on a remote host over pooled asyncssh connections.

``wire`` — the bytes on the channels (bootstrap, agent loop, step requests, control records),
no asyncssh; ``conn`` — one connection and connect-failure messages; ``slots`` — channel slots
per host and jump hosts; ``agent`` — a persistent agent session per slot (one write per step);
``target`` — :class:`SSHTarget`, which runs a step on an agent, else on a channel of its own;
``pool`` — :class:`SSHPool`, one per run.
"""

from workflow_runner.targets.ssh.conn import connect_error
from workflow_runner.targets.ssh.pool import SSHPool
from workflow_runner.targets.ssh.target import SSHTarget
from workflow_runner.targets.ssh.wire import bootstrap

__all__ = ["SSHPool", "SSHTarget", "bootstrap", "connect_error"]
