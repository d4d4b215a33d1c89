"""Resource-aware local scheduling: never oversubscribe this machine's CPUs, memory or GPUs.

A job may declare ``resources: {cpus, memory, gpus}``; each of its *local* step
processes holds that much of the machine while it runs (a job waiting for its
needs, or a remote/batch step, holds nothing). Jobs that declare nothing take
one CPU per process, so without declarations this is the plain queue mode
bounded by ``--max-parallel``. A job that asks for more than the machine has is
an error before anything runs. Capacity is detected and can be overridden
(``--cpus``, ``--memory``, ``--gpus``) — e.g. to share a node with others.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from workflow_runner.engine.gpus import Gpus, visibility
from workflow_runner.errors import WorkflowError
from workflow_runner.records import ReadOnly, frozen

_MEM = r"(?i)^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(?:i?B)?\s*$"
"""A memory size; compiled by ``re`` when first used (most runs give none), not at import."""
_FACTOR = {"": 1, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


@frozen
class Request(ReadOnly):
    """What one job holds from the machine's pool while it runs."""

    cpus: float = 1.0
    memory_mb: float = 0.0
    gpus: int = 0

    def describe(self) -> str:
        parts = [f"{self.cpus:g} CPU{'s' if self.cpus != 1 else ''}"]
        if self.memory_mb:
            parts.append(f"{self.memory_mb / 1024:.1f} GiB memory")
        if self.gpus:
            parts.append(f"{self.gpus} GPU{'s' if self.gpus != 1 else ''}")
        return ", ".join(parts)


def parse_memory(value: Any) -> float:
    """MB from 512, '512M', '4G', '1.5GiB'; a bare number means MB, as with SLURM --mem."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = re.match(_MEM, str(value))
    if not match:
        raise ValueError(f"'{value}' is not a memory size (use e.g. 512M, 4G)")
    return float(match.group(1)) * _FACTOR[match.group(2).upper()]


def detect() -> Request:
    """CPUs and memory of this machine (GPUs: engine/gpus.py, by id)."""
    cpus = float(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    memory = 0.0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) / 1024
                    break
    except OSError:
        pass
    return Request(cpus, memory, 0)


DIMS = ("cpus", "memory_mb", "gpus")


@dataclass(eq=False)
class _Waiter:
    """A job waiting for resources; first come, first served, except that it never lets a later one take what it lacks."""

    request: Request
    future: asyncio.Future
    seq: int
    """Arrival order."""
    short: set[str] = field(default_factory=set)
    """Every resource it has been found short of while waiting: later waiters may not take any of these."""


def _kind(r: Request) -> frozenset[str]:
    """The resources a request takes (every one takes CPUs): waiters of one kind keep their order among themselves."""
    return frozenset(d for d in DIMS if getattr(r, d) > 0) | {"cpus"}


class ResourcePool:
    """The machine's CPUs, memory and GPUs (by id), handed to local step processes with backfill.

    The order rule (README, "The workflow format"): waiters are considered in arrival order; one
    that fits starts, even ahead of an earlier waiter that does not fit (backfill), but
    only if it takes none of the resources earlier waiters have been found short of.
    Since every job takes CPUs, a job waiting for CPUs is never overtaken; a job waiting
    for a GPU (or memory) is overtaken only by jobs that need none of it.
    Why nothing starves: what the first waiter has been short of only grows (three
    resources at most) and nothing behind it may take any of that, so its use only falls
    as running processes end. When its GPU frees it waits at most for CPUs that
    processes already running hold — never for jobs that arrive later.

    Cost: waiters of one kind (which resources they take: four kinds) cannot overtake
    one another — when the first of a kind cannot start, it is short of, or blocked on,
    something every later one of that kind takes too. So a scan looks only at the head
    of each kind's queue: O(started + 4) per release, whatever the number waiting.
    """

    def __init__(self, capacity: Request, gpus: Gpus | None = None) -> None:
        self.gpus = gpus if gpus is not None else Gpus(tuple(str(i) for i in range(capacity.gpus)))
        self.capacity = Request(capacity.cpus, capacity.memory_mb, len(self.gpus.ids))
        self.used = Request(0, 0, 0)
        self.free_ids: list[str] = list(self.gpus.ids)
        self.queues: dict[frozenset[str], deque[_Waiter]] = {}
        self.waiting = 0
        """Live (not canceled) waiters; canceled ones are dropped when they reach the head of their queue."""
        self._seq = itertools.count()
        self.peak_cpus = 0.0

    def check(self, request: Request, what: str) -> None:
        cap = self.capacity
        if request.cpus > cap.cpus or request.memory_mb > cap.memory_mb or request.gpus > cap.gpus:
            raise WorkflowError(
                f"{what} asks for {request.describe()} but this machine has {cap.describe()} "
                "(override the detected capacity with --cpus/--memory/--gpus)"
            )

    def device_env(self, held: tuple[str, ...]) -> dict[str, str]:
        """The GPU visibility variables of a process that holds ``held`` (engine/gpus.py)."""
        return visibility(self.gpus, held)

    def _short(self, r: Request) -> set[str]:
        u, c = self.used, self.capacity
        return {d for d in DIMS if getattr(u, d) + getattr(r, d) > getattr(c, d)}

    def _take(self, r: Request) -> tuple[str, ...]:
        u = self.used
        self.used = Request(u.cpus + r.cpus, u.memory_mb + r.memory_mb, u.gpus + r.gpus)
        self.peak_cpus = max(self.peak_cpus, self.used.cpus)
        held, self.free_ids = tuple(self.free_ids[:r.gpus]), self.free_ids[r.gpus:]
        return held

    async def acquire(self, r: Request) -> tuple[str, ...]:
        """Wait until ``r`` may start; the GPU ids it holds (give them back with :meth:`release`).

        A request larger than the machine (known only now: ``resources:`` read a job's needs)
        is an error, not a wait for ever that would also hold back everything behind it.
        """
        self.check(r, "this job")
        if not self.waiting and not self._short(r):
            return self._take(r)
        waiter = _Waiter(r, asyncio.get_running_loop().create_future(), next(self._seq))
        self.queues.setdefault(_kind(r), deque()).append(waiter)
        self.waiting += 1
        self._wake()
        try:
            return await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                await self.release(r, waiter.future.result())  # granted while being cancelled: give it back
            else:
                # Dropped when it reaches the head of its queue (removing it here cost O(waiters) per cancel).
                waiter.future.cancel()
                self.waiting -= 1
                self._wake()
            raise

    async def release(self, r: Request, held: tuple[str, ...] = ()) -> None:
        u = self.used
        self.used = Request(u.cpus - r.cpus, u.memory_mb - r.memory_mb, u.gpus - r.gpus)
        self.free_ids = sorted([*self.free_ids, *held], key=self.gpus.ids.index)
        self._wake()

    @staticmethod
    def _head(queue: deque[_Waiter]) -> _Waiter | None:
        while queue and queue[0].future.done():
            queue.popleft()  # canceled (counted out then)
        return queue[0] if queue else None

    def _wake(self) -> None:
        blocked: set[str] = set()
        heads = {kind: w for kind, q in self.queues.items() if (w := self._head(q)) is not None}
        while heads and "cpus" not in blocked:
            kind, w = min(heads.items(), key=lambda item: item[1].seq)
            short = self._short(w.request)
            if not short and not (kind & blocked):
                self.queues[kind].popleft()
                self.waiting -= 1
                w.future.set_result(self._take(w.request))
                nxt = self._head(self.queues[kind])
                if nxt is None:
                    del heads[kind]
                else:
                    heads[kind] = nxt
            else:
                w.short |= short
                blocked |= w.short
                del heads[kind]
        for kind in [k for k, q in self.queues.items() if not q]:
            del self.queues[kind]


def request_of(values: dict[str, Any] | None, what: str) -> Request:
    """A Request from a job's evaluated ``resources:`` mapping (None → one CPU)."""
    if not values:
        return Request()
    try:
        cpus = float(values.get("cpus") if values.get("cpus") not in (None, "") else 1)
        gpus = int(values.get("gpus") or 0)
        memory = parse_memory(values.get("memory"))
    except (TypeError, ValueError) as exc:
        raise WorkflowError(f"{what}: invalid resources: {exc}") from None
    if cpus <= 0 or gpus < 0 or memory < 0:
        raise WorkflowError(f"{what}: resources must be positive")
    return Request(cpus, memory, gpus)
