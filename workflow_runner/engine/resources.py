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
import os
import re
import shutil
import subprocess
from collections import deque
from dataclasses import dataclass
from typing import Any

from workflow_runner.errors import WorkflowError

_MEM = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(?:i?B)?\s*$", re.I)
_FACTOR = {"": 1, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


@dataclass(frozen=True, slots=True)
class Request:
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
    match = _MEM.match(str(value))
    if not match:
        raise ValueError(f"'{value}' is not a memory size (use e.g. 512M, 4G)")
    return float(match.group(1)) * _FACTOR[match.group(2).upper()]


def detect() -> Request:
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
    return Request(cpus, memory, _gpus())


def _gpus() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=5).stdout
            return sum(1 for line in out.splitlines() if line.startswith("GPU "))
        except (OSError, subprocess.SubprocessError):
            return 0
    return 0


class ResourcePool:
    """Counting pool over three resources, first come first served.

    Waiters queue in order and are woken only when they fit, so a release costs
    O(woken) — not a wake-up of every one of 10,000 waiting jobs — and a large
    request is not starved by a stream of small ones.
    """

    def __init__(self, capacity: Request) -> None:
        self.capacity = capacity
        self.used = Request(0, 0, 0)
        self.waiters: deque[tuple[Request, asyncio.Future]] = deque()
        self.peak_cpus = 0.0

    def check(self, request: Request, what: str) -> None:
        cap = self.capacity
        if request.cpus > cap.cpus or request.memory_mb > cap.memory_mb or request.gpus > cap.gpus:
            raise WorkflowError(
                f"{what} asks for {request.describe()} but this machine has {cap.describe()} "
                "(override the detected capacity with --cpus/--memory/--gpus)"
            )

    def _fits(self, r: Request) -> bool:
        u, c = self.used, self.capacity
        return u.cpus + r.cpus <= c.cpus and u.memory_mb + r.memory_mb <= c.memory_mb and u.gpus + r.gpus <= c.gpus

    def _take(self, r: Request) -> None:
        u = self.used
        self.used = Request(u.cpus + r.cpus, u.memory_mb + r.memory_mb, u.gpus + r.gpus)
        self.peak_cpus = max(self.peak_cpus, self.used.cpus)

    async def acquire(self, r: Request) -> None:
        if not self.waiters and self._fits(r):
            self._take(r)
            return
        future = asyncio.get_running_loop().create_future()
        self.waiters.append((r, future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                await self.release(r)  # granted while being cancelled: give it back
            else:
                # Left in the queue, dropped by _wake when it reaches the head: removing it
                # here cost O(waiters) per cancel (quadratic for 10,000 canceled jobs) and
                # failed when another cancel's _wake had already dropped it.
                future.cancel()
                self._wake()
            raise

    async def release(self, r: Request) -> None:
        u = self.used
        self.used = Request(u.cpus - r.cpus, u.memory_mb - r.memory_mb, u.gpus - r.gpus)
        self._wake()

    def _wake(self) -> None:
        while self.waiters:
            r, future = self.waiters[0]
            if future.done():
                self.waiters.popleft()
                continue
            if not self._fits(r):
                return
            self.waiters.popleft()
            self._take(r)
            future.set_result(None)


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
