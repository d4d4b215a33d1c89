"""A Kubernetes session's tunnel: ``kubectl port-forward`` to a pod/service, kept open for the session's lifetime.

Why a kubectl subprocess and not an API client: the user's kubectl already knows their
contexts, credentials and auth plugins (OIDC, cloud CLIs); wfrun adds no dependency and
no second copy of that configuration. kubectl listens on ``127.0.0.1`` only.

Lifetime: :meth:`KubectlForward.start` returns the local port once kubectl printed its
``Forwarding from 127.0.0.1:PORT`` line (with ``local_port`` 0/None kubectl picks a free
port and wfrun learns it from that line). If kubectl exits while the session is open
(the pod restarted, the API server dropped the stream), it is started again on the same
local port, with the project's backoff between tries, and the state says "reconnecting"
meanwhile. :meth:`close` ends kubectl and everything in its process group.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
from dataclasses import dataclass, field
from typing import Callable

from workflow_runner.backoff import Backoff
from workflow_runner.sessions.errors import SessionError

_FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) ->")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
"""A Kubernetes object name (RFC 1123 subdomain): never an option or shell text on kubectl's command line."""
_TYPES = {"pod", "pods", "po", "service", "services", "svc", "deployment", "deployments", "deploy",
          "replicaset", "replicasets", "rs", "statefulset", "statefulsets", "sts"}

STARTING, OPEN, RECONNECTING, CLOSED = "starting", "open", "reconnecting", "closed"


@dataclass(eq=False)
class KubectlForward:
    namespace: str
    resource_type: str
    name: str
    remote_port: int
    local_port: int | None = None
    kubectl: str = "kubectl"
    backoff: Backoff = field(default_factory=lambda: Backoff(0.5, cap=30.0))
    """Delay before re-starting kubectl after it exited: 0.5, 1, 2 … 30 s."""
    start_timeout: float = 30.0
    """How long kubectl may take to print its Forwarding line."""
    on_note: Callable[[str], None] | None = None
    """Told when the tunnel drops and when it is back (the run's log/events)."""
    _state: str = field(default=STARTING, init=False)
    _proc: asyncio.subprocess.Process | None = field(default=None, init=False)
    _watch: asyncio.Task | None = field(default=None, init=False)
    _drains: list[asyncio.Task] = field(default_factory=list, init=False)
    restarts: int = field(default=0, init=False)

    @property
    def state(self) -> str:
        return self._state

    @property
    def target(self) -> str:
        return f"{self.resource_type}/{self.name}"

    def argv(self, executable: str, local_port: int) -> list[str]:
        return [executable, "port-forward", "-n", self.namespace, self.target, f"{local_port}:{self.remote_port}",
                "--address", "127.0.0.1"]

    def _check(self) -> None:
        if self.resource_type.lower() not in _TYPES:
            raise SessionError(f"Kubernetes session: resourceType '{self.resource_type}' is not one kubectl port-forward "
                               f"can reach (use pod, service, deployment, replicaset or statefulset)")
        for what, value in (("namespace", self.namespace), ("name", self.name)):
            if not _NAME.fullmatch(value or ""):
                raise SessionError(f"Kubernetes session: {what} '{value}' is not a Kubernetes name")
        for what, port, low in (("remotePort", self.remote_port, 1), ("localPort", self.local_port or 0, 0)):
            if not isinstance(port, int) or isinstance(port, bool) or not low <= port <= 65535:
                raise SessionError(f"Kubernetes session: {what} {port!r} is not a port")

    async def start(self) -> int:
        """Start kubectl; the local port it listens on (SessionError when it cannot)."""
        self._check()
        executable = shutil.which(self.kubectl)
        if executable is None:
            self._state = CLOSED
            raise SessionError(f"a Kubernetes session needs kubectl, and '{self.kubectl}' is not on PATH "
                               f"(install kubectl and configure its context for namespace '{self.namespace}')")
        try:
            self.local_port = await self._spawn(executable, self.local_port or 0)
        except BaseException:
            self._state = CLOSED
            await self._stop()
            raise
        self._state = OPEN
        self._watch = asyncio.ensure_future(self._keep_open(executable))
        return self.local_port

    async def _spawn(self, executable: str, local_port: int) -> int:
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv(executable, local_port), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True)
        except OSError as exc:  # removed or not executable since it was found
            raise SessionError(f"cannot start {executable}: {exc.strerror or exc}") from None
        self._proc = proc
        try:
            port = await asyncio.wait_for(self._forwarding_line(proc), self.start_timeout)
        except asyncio.TimeoutError:
            raise SessionError(f"kubectl port-forward {self.target} printed no 'Forwarding from' line within "
                               f"{self.start_timeout:g} s") from None
        if port is None:
            code = await _exited(proc, 0.05)
            err = (await _tail(proc.stderr)).strip().splitlines()
            why = err[-1] if err else "no message"
            raise SessionError(f"kubectl port-forward {self.target} -n {self.namespace} exited with code {code}: {why}")
        # kubectl prints a line per connection ("Handling connection for …"): keep reading so it never blocks
        self._drains = [asyncio.ensure_future(_drain(s)) for s in (proc.stdout, proc.stderr) if s is not None]
        return port

    @staticmethod
    async def _forwarding_line(proc: asyncio.subprocess.Process) -> int | None:
        assert proc.stdout is not None
        while True:
            line = await proc.stdout.readline()
            if not line:
                return None
            match = _FORWARDING.search(line.decode(errors="replace"))
            if match:
                return int(match.group(1))

    async def _keep_open(self, executable: str) -> None:
        """While open: when kubectl exits, start it again on the same port, backing off between failures."""
        failures = 0
        while self._state != CLOSED:
            code = await _exited(self._proc)
            if self._state == CLOSED:
                return
            self._state = RECONNECTING
            self._note(f"kubectl port-forward {self.target} exited (code {code}); reconnecting")
            while self._state == RECONNECTING:
                await asyncio.sleep(self.backoff.delay(failures))
                if self._state == CLOSED:
                    return
                await self._stop()
                try:
                    await self._spawn(executable, self.local_port or 0)
                except SessionError as exc:
                    failures += 1
                    self._note(f"{exc.message}; retrying")
                    continue
                self.restarts += 1
                failures = 0
                self._state = OPEN
                self._note(f"kubectl port-forward {self.target} is back on 127.0.0.1:{self.local_port}")

    def _note(self, text: str) -> None:
        if self.on_note is not None:
            self.on_note(text)

    async def close(self) -> None:
        """End kubectl and its process group; the state is "closed" and no process is left."""
        self._state = CLOSED
        if self._watch is not None and not self._watch.done():
            self._watch.cancel()
            try:
                await self._watch
            except (asyncio.CancelledError, Exception):
                pass
        await self._stop()

    async def _stop(self, grace: float = 3.0) -> None:
        proc, self._proc = self._proc, None
        for task in self._drains:
            task.cancel()
        self._drains = []
        if proc is None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(_exited(proc), grace)
        except asyncio.TimeoutError:
            pass
        _signal_group(proc.pid, signal.SIGKILL)  # and whatever it started that ignored SIGTERM
        await proc.wait()


async def _exited(proc: asyncio.subprocess.Process | None, poll: float = 0.2) -> int | None:
    """The exit code once kubectl itself exited. ``proc.wait()`` also waits for its pipes to close, which a
    child that inherited them (kubectl's credential plugins) may hold open long after kubectl is gone."""
    if proc is None:
        return None
    while proc.returncode is None:
        await asyncio.sleep(poll)
    return proc.returncode


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # start_new_session: the group id is kubectl's pid
    except (ProcessLookupError, PermissionError):
        pass


async def _tail(stream: asyncio.StreamReader | None, wait: float = 2.0) -> str:
    """What is left on kubectl's stderr (not waiting for ever on a pipe a child still holds)."""
    if stream is None:
        return ""
    try:
        return (await asyncio.wait_for(stream.read(65536), wait)).decode(errors="replace")
    except asyncio.TimeoutError:
        return ""


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass
