"""A run's sessions: opening the same name twice at once, and a run that ends while one is opening."""

from __future__ import annotations

import asyncio

import pytest

from workflow_runner.sessions.forwarder import CLOSED, OPEN
from workflow_runner.sessions.registry import RunSessions, Session
from workflow_runner.sessions.spec import SessionSpec


class SlowForwarder:
    """Takes ``delay`` to start listening; records whether it was closed."""

    def __init__(self, port: int, delay: float) -> None:
        self.local_port, self.delay, self.port = 0, delay, port
        self.state = "starting"

    async def start(self) -> int:
        await asyncio.sleep(self.delay)
        self.state = OPEN
        return self.port

    async def close(self) -> None:
        self.state = CLOSED


def session(forwarder: SlowForwarder, name: str = "lab") -> Session:
    return Session(SessionSpec(name=name, remote_host="localhost", remote_port=8888), forwarder, "j", "s", "local")


def test_two_opens_of_one_name_at_once_leave_one_open_and_close_both_at_the_end():
    first, second = SlowForwarder(5001, 0.05), SlowForwarder(5002, 0.01)

    async def main():
        registry = RunSessions(lambda s, m: None)
        await asyncio.gather(registry.start(session(first)), registry.start(session(second)))
        assert [s.forwarder for s in registry.open.values()] == [second]
        assert first.state == CLOSED  # replaced, not forgotten
        await registry.close_all()

    asyncio.run(main())
    assert first.state == CLOSED and second.state == CLOSED


def test_a_run_that_ends_while_a_session_opens_closes_it():
    slow = SlowForwarder(5003, 0.05)

    async def main():
        registry = RunSessions(lambda s, m: None)
        opening = asyncio.ensure_future(registry.start(session(slow)))
        await asyncio.sleep(0.01)
        await registry.close_all()
        with pytest.raises(RuntimeError, match="closed while this one was opening"):
            await opening
        assert registry.open == {}

    asyncio.run(main())
    assert slow.state == CLOSED
