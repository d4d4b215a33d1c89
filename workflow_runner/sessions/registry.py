"""The sessions of one run: opened by ``update-session`` steps (or re-opened by ``wfrun resume``), closed together
when the run ends.

Lifetime (README, "Interactive sessions"): a session lives as long as its *run*, not its step or job. Real
workflows open the session in a short job (``create_session``) while the service runs in another (a batch job
and the job that waits for it); tying the tunnel to the step's job would close it at once. It closes when the run
ends — completed, failed, canceled (Ctrl-C, ``wfrun cancel``, timeout) — after the last ``cleanup:`` step ran, so
a cleanup can still reach the service. A second ``update-session`` with the same name *updates* the session: the
old tunnel closes and the new one takes its local port when it can, so the link stays the same.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable

from workflow_runner.sessions.errors import SessionError
from workflow_runner.sessions.forwarder import CLOSED, Forwarder
from workflow_runner.sessions.spec import SessionSpec


@dataclass
class Session:
    spec: SessionSpec
    forwarder: Forwarder
    job: str
    step: str
    via: str
    """Where the tunnel starts: ``user@host:port`` (``via`` a jump host), ``local`` or ``kubectl``."""
    host: str = ""
    jump: str | None = None
    """The step's ``ssh:`` host and jump host, as given: what a resume connects to again."""
    port: int = 0
    url: str = ""
    ended: bool = False
    """Closed by the registry (whatever the forwarder's own state says after a failed close)."""

    @property
    def state(self) -> str:
        return CLOSED if self.ended else self.forwarder.state

    @property
    def remote(self) -> str:
        info = self.spec.target_info
        if info:  # Kubernetes: the object kubectl forwards to
            where = f"{info.get('resourceType') or 'services'}/{info.get('resourceName') or ''}"
            return f"{where}:{self.spec.remote_port} in {info.get('namespace') or 'default'}"
        return f"{self.spec.remote_host}:{self.spec.remote_port}"


Changed = Callable[[Session, str | None], None]
"""(the session, a message) — called on every change of state; the caller turns it into a run event."""


class RunSessions:
    """Name → open session, for one run."""

    def __init__(self, changed: Changed) -> None:
        self.changed = changed
        self.open: dict[str, Session] = {}
        self.closed = False
        self.opening: dict[str, asyncio.Lock] = {}
        """One lock per name: two steps (or a resume and a step) opening the same session take turns."""

    async def start(self, session: Session) -> Session:
        """Start ``session`` (replacing one of the same name, on its port when free); raises when it cannot listen."""
        async with self.opening.setdefault(session.spec.name, asyncio.Lock()):
            if self.closed:
                raise RuntimeError("the run's sessions are already closed")
            old = self.open.pop(session.spec.name, None)
            if old is not None:
                old.ended = True
                await old.forwarder.close()
                self.changed(old, f"replaced by {session.job}/{session.step}")
            keep = old.port if old is not None and not session.spec.local_port else 0
            session.port = await self._listen(session.forwarder, keep)
            if self.closed:  # the run ended while this one was opening: nothing would ever close it
                session.ended = True
                await session.forwarder.close()
                raise RuntimeError("the run's sessions were closed while this one was opening")
            session.url = session.spec.url(session.port)
            self.open[session.spec.name] = session
            self.changed(session, None)
            return session

    @staticmethod
    async def _listen(forwarder: Forwarder, keep: int) -> int:
        """Start ``forwarder``; an updated session first tries the port its link already names."""
        if keep and hasattr(forwarder, "local_port"):
            forwarder.local_port = keep
            try:
                return await forwarder.start()
            except (OSError, SessionError):  # taken now (kubectl says so with a SessionError): any free port
                forwarder.local_port = 0
        return await forwarder.start()

    def state_changed(self, name: str) -> Callable[[str, str | None], None]:
        """The forwarder's callback for session ``name``: reconnecting, open again."""
        def report(state: str, message: str | None) -> None:
            session = self.open.get(name)
            if session is not None:
                self.changed(session, message)

        return report

    async def close_all(self) -> None:
        """Close every session (the run ends); idempotent."""
        self.closed = True
        sessions, self.open = list(self.open.values()), {}
        results = await asyncio.gather(*(s.forwarder.close() for s in sessions), return_exceptions=True)
        for session, result in zip(sessions, results):
            session.ended = True
            self.changed(session, f"close failed: {result}" if isinstance(result, BaseException) else None)
