"""Live output of batch jobs: new bytes of ``run.<PW_JOB_ID>.out`` shown as they appear.

Local files are read directly. For a remote host, one command per tick reads the
new bytes of every followed file on that host (base64 per file, so binary and
partial lines survive), instead of a ``tail -f`` process per job.
"""

from __future__ import annotations

import asyncio
import base64
import shlex
from dataclasses import dataclass, field
from typing import Callable

from workflow_runner.actions.job_runner.batch import run_command
from workflow_runner.targets.base import Target

TICK = 1.0
CHUNK = 1 << 20
STOP_CHUNKS = 64
"""At most this many CHUNKs are read when a job ends (the rest of a huge output is not shown)."""


@dataclass
class Followed:
    path: str
    emit: Callable[[str], None]
    offset: int = 0
    partial: str = ""
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def feed(self, data: bytes) -> None:
        self.offset += len(data)
        text = self.partial + data.decode("utf-8", "replace")
        lines = text.split("\n")
        self.partial = lines.pop()
        for line in lines:
            self.emit(line.rstrip("\r"))

    def flush(self) -> None:
        if self.partial:
            self.emit(self.partial)
            self.partial = ""


class Streamer:
    """Follows output files on one target."""

    def __init__(self, target: Target, local: bool, cwd: str) -> None:
        self.target = target
        self.local = local
        self.cwd = cwd
        self.files: list[Followed] = []
        self.task: asyncio.Task | None = None
        self.lock = asyncio.Lock()
        """One read at a time: a read builds its command from the offsets, and feeding the same
        bytes twice (the tick's read and ``stop``'s overlapping) would show lines twice."""

    def follow(self, path: str, emit: Callable[[str], None]) -> Followed:
        followed = Followed(path, emit)
        self.files.append(followed)
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._loop())
        return followed

    async def stop(self, followed: Followed) -> None:
        """Read what is left, then stop following."""
        async with self.lock:
            try:
                for _ in range(STOP_CHUNKS):  # a read takes at most CHUNK bytes: go on until the end
                    before = followed.offset
                    await self._read([followed])
                    if followed.offset - before < CHUNK:
                        break
            except Exception:  # noqa: BLE001 — output is best effort; the state decides the outcome
                pass
            followed.flush()
            if followed in self.files:
                self.files.remove(followed)

    async def _loop(self) -> None:
        while self.files:
            await asyncio.sleep(TICK)
            async with self.lock:
                # Taken under the lock: a file stop() has finished with is not read again.
                files = list(self.files)
                try:
                    await self._read(files)
                except Exception:  # noqa: BLE001 — a failed read is retried next tick
                    continue

    async def _read(self, files: list[Followed]) -> None:
        if not files:
            return
        if self.local:
            for f in files:
                try:
                    with open(f.path, "rb") as fh:
                        fh.seek(f.offset)
                        data = fh.read(CHUNK)
                except FileNotFoundError:
                    continue
                if data:
                    f.feed(data)
            return
        parts = []
        for i, f in enumerate(files):
            path = shlex.quote(f.path)
            parts.append(f"echo '@@{i}'; [ -f {path} ] && tail -c +{f.offset + 1} {path} | head -c {CHUNK} | base64 -w0; echo")
        code, lines = await run_command(self.target, "\n".join(parts), self.cwd, timeout=30)
        index = None
        for line in lines:
            if line.startswith("@@") and line[2:].isdigit():
                index = int(line[2:])
                continue
            if index is not None and line:
                files[index].feed(base64.b64decode(line))
                index = None
