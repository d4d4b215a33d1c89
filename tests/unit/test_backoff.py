"""The one retry/backoff formula (workflow_runner/backoff.py) and the five sequences wfrun waits by.

Each call site states its numbers; these tests pin the waits they produce, so a change of a
constant (or of the formula) shows up here as a changed sequence, not as a slower or busier retry.
"""

from __future__ import annotations

import asyncio

import pytest

from workflow_runner.actions.job_runner import batch
from workflow_runner.actions.job_runner.batch import BatchWatcher
from workflow_runner.backoff import Backoff
from workflow_runner.state import writes


def seq(b: Backoff, n: int = 8) -> list[float]:
    return [round(b.delay(i), 6) for i in range(n)]


def test_store_flush_retry_doubles_to_30_seconds():
    # state/writes.py: after the n-th failed flush in a row, wait RETRY.delay(n - 1)
    assert seq(writes.RETRY) == [1, 2, 4, 8, 16, 30, 30, 30]


def test_batch_status_query_doubles_from_twice_the_interval_to_60_seconds():
    assert BatchWatcher.MAX_BACKOFF == 60.0
    assert seq(Backoff(2 * 5.0, cap=BatchWatcher.MAX_BACKOFF)) == [10, 20, 40, 60, 60, 60, 60, 60]
    assert seq(Backoff(2 * 0.5, cap=BatchWatcher.MAX_BACKOFF)) == [1, 2, 4, 8, 16, 32, 60, 60]


def test_batch_cancel_retry_waits_one_second_more_each_time():
    assert seq(BatchWatcher.CANCEL_RETRY, 4) == [1, 2, 3, 4]


def test_ssh_channel_open_retry_doubles_from_10ms_to_1s():
    assert seq(Backoff(0.01, cap=1.0)) == [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0]


def test_ssh_signal_retry_grows_by_50ms():
    assert seq(Backoff(0.05, factor=1, step=0.05), 4) == [0.05, 0.1, 0.15, 0.2]


def test_delay_never_negative_index_and_cap():
    b = Backoff(1.0, cap=5.0)
    assert b.delay(-3) == 1.0
    assert b.delay(100) == 5.0


def test_batch_watcher_waits_by_the_status_sequence_and_resets_after_a_good_query(monkeypatch):
    """The real _loop: 6 failed queries, one good, 2 failed; each wait is what the loop slept for."""
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float, *args, **kwargs):
        slept.append(delay)
        await real_sleep(0)

    outcomes = ["fail"] * 6 + ["ok"] + ["fail"] * 2 + ["stop"]
    notes: list[str] = []

    async def scenario() -> None:
        watcher = BatchWatcher(target=None, backend=None, cwd="/", interval=5.0, note=notes.append)

        async def poll() -> None:
            what = outcomes.pop(0)
            if what == "fail":
                raise OSError("connection refused")
            if what == "stop":
                watcher.jobs.clear()

        watcher._poll = poll  # type: ignore[method-assign]
        watcher.jobs["1"] = None  # type: ignore[assignment]
        await watcher._loop()
        assert watcher.failures == 8

    monkeypatch.setattr(batch.asyncio, "sleep", fake_sleep)
    asyncio.run(scenario())
    assert slept == [5, 10, 20, 40, 60, 60, 60, 5, 10, 20]
    assert [n.rsplit("retrying in ", 1)[1] for n in notes] == ["10s", "20s", "40s", "60s", "60s", "60s", "10s", "20s"]


@pytest.mark.parametrize("first,factor,cap,step,expected", [
    (1.0, 2.0, 30.0, 0.0, [1, 2, 4, 8, 16, 30]),
    (1.0, 1.0, float("inf"), 1.0, [1, 2, 3, 4, 5, 6]),
])
def test_formula(first, factor, cap, step, expected):
    assert seq(Backoff(first, factor=factor, cap=cap, step=step), 6) == expected
