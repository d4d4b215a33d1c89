"""The real test sshd (tests/infra/sshd.sh) as pytest fixtures and small helpers.

``sshd`` (session scope) starts the server — fast when it already runs — and
reads the env file it writes. Helpers look at the remote process table of the
test user and at the server's own per-connection processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from workflow_runner.targets.base import StepCommand
from workflow_runner.targets.ssh import SSHPool

REPO = Path(__file__).resolve().parents[2]
SSHD_SH = REPO / "tests" / "infra" / "sshd.sh"
STATE = Path(os.environ.get("WFRUN_TEST_SSH_STATE", "/var/lib/wfrun-test/ssh"))


@dataclass(frozen=True)
class SSHEnv:
    host: str
    port: int
    user: str
    key: str
    known_hosts: str

    @property
    def spec(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    def pool(self, **kwargs) -> SSHPool:
        kwargs.setdefault("known_hosts", self.known_hosts)
        kwargs.setdefault("client_keys", [self.key])
        kwargs.setdefault("config_paths", [])  # the developer's ~/.ssh/config stays out of tests
        return SSHPool(**kwargs)


def sshd(action: str, timeout: float = 120, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["bash", str(SSHD_SH), action], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0 and action != "status":
        raise RuntimeError(f"sshd.sh {action} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def read_env(path: Path = STATE / "env") -> SSHEnv:
    values = dict(
        line.split("=", 1) for line in path.read_text().splitlines() if "=" in line
    )
    return SSHEnv(
        host=values["WFRUN_TEST_SSH_HOST"],
        port=int(values["WFRUN_TEST_SSH_PORT"]),
        user=values["WFRUN_TEST_SSH_USER"],
        key=values["WFRUN_TEST_SSH_KEY"],
        known_hosts=values["WFRUN_TEST_SSH_KNOWN_HOSTS"],
    )


@pytest.fixture(scope="session")
def ssh_env() -> SSHEnv:
    if os.geteuid() != 0:
        pytest.fail("the SSH integration tests start their own sshd and must run as root")
    sshd("start")
    return read_env()


CLUSTER_SSHD = {"WFRUN_TEST_SSH_STATE": "/var/lib/wfrun-test/ssh-cluster", "WFRUN_TEST_SSH_PORT": "2223",
                "WFRUN_TEST_SSH_USERS": "wfrun2 wfrun"}
"""A second test sshd: a "cluster" whose login user is ``wfrun2`` (not the local user, not ``wfrun``)."""


@pytest.fixture(scope="session")
def cluster_ssh_env() -> SSHEnv:
    """The second sshd (its own state and port; ``wfrun`` may log in too, for ``user@host`` precedence)."""
    if os.geteuid() != 0:
        pytest.fail("the SSH integration tests start their own sshd and must run as root")
    sshd("start", env=CLUSTER_SSHD)
    return read_env(Path(CLUSTER_SSHD["WFRUN_TEST_SSH_STATE"]) / "env")


@pytest.fixture
def remote_dir(ssh_env: SSHEnv) -> str:
    """A fresh directory path (not yet created) that the test user may create."""
    return f"/tmp/wfrun-ssh-test/{uuid.uuid4().hex[:12]}"


def step(script: str, *, cwd: str = "/tmp", env: dict[str, str] | None = None,
         outputs: str | None = None, grace: float = 10.0, hurry: asyncio.Event | None = None) -> StepCommand:
    outputs = outputs or f"{cwd}/.wfrun-outputs-{uuid.uuid4().hex[:8]}"
    return StepCommand(script=script, env={"OUTPUTS": outputs, **(env or {})}, cwd=cwd,
                       outputs_file=outputs, grace=grace, hurry=hurry)


def run(coro):
    return asyncio.run(coro)


def user_processes(user: str, pattern: str) -> list[str]:
    """``pgrep -a -u USER -f PATTERN`` lines, ignoring zombies (reaped slowly here)."""
    out = subprocess.run(["pgrep", "-a", "-u", user, "-f", pattern], capture_output=True, text=True).stdout
    lines = []
    for line in out.splitlines():
        pid = line.split()[0]
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            lines.append(line)
    return lines


async def wait_for_processes(user: str, pattern: str, count: int, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        found = user_processes(user, pattern)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


def server_connection_pids() -> list[int]:
    """PIDs of the sshd processes serving connections (descendants of the listener)."""
    listener = int((STATE / "sshd.pid").read_text())
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if comm == "sshd" and fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(proc.name))
    found, todo = [], [listener]
    while todo:
        for pid in children.get(todo.pop(), []):
            found.append(pid)
            todo.append(pid)
    return found


def signal_pids(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
