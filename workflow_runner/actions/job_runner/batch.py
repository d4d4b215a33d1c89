"""SLURM and PBS jobs through a target, watched with one batched query per host per interval.

The reference job_runner runs one ``squeue`` per job per interval; with 100
jobs that is 100 queries a poll. Here every batch job of the run on one host
(and scheduler) is watched by one ``BatchWatcher``: per interval it issues one
status query for all of them (``squeue -j a,b,c`` / ``qstat -f a b c``) and, only
when some have finished, one more for their final states (``sacct`` / the
exit-code files the job scripts write). Cancels are batched the same way: one
``scancel a b c`` per host.

A failing or timing-out query is "unknown, try later" with exponential backoff,
never a job failure; a job that vanished from the queue is resolved through
sacct and the exit-code file.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from typing import Any

from workflow_runner.actions.job_runner.pbs import PBSBackend
from workflow_runner.actions.job_runner.slurm import SlurmBackend
from workflow_runner.actions.job_runner.states import (  # noqa: F401 — re-exported for callers of batch
    RELAUNCH_STATES, SLURM_ACTIVE, SLURM_FAILURE, SLURM_GRACEFUL, Final, Tracked,
)
from workflow_runner.backoff import Backoff
from workflow_runner.errors import TargetError
from workflow_runner.targets.base import StepCommand, Target


async def run_command(target: Target, script: str, cwd: str, timeout: float = 60.0) -> tuple[int, list[str]]:
    """Run a short command on the target; (exit code, output lines). Raises TimeoutError."""
    lines: list[str] = []
    command = StepCommand(script=script, env={}, cwd=cwd, outputs_file="/dev/null", grace=2.0)
    async with asyncio.timeout(timeout):
        result = await target.run(command, lines.append)
    return result.exit_code, lines


async def look_up(target: Target, backend: Any, name: str) -> str | None:
    """The id of the batch job with this unique name, or None when the scheduler has none.

    Raises TargetError when the scheduler could not be asked: "none" and "cannot tell"
    differ, and taking one for the other queues a job twice or leaves one queued.
    """
    try:
        code, lines = await run_command(target, backend.find_query(name), "/")
    except TimeoutError:
        raise TargetError("timed out") from None
    if code != 0:
        raise TargetError(" ".join(line.strip() for line in lines[-2:] if line.strip()) or f"exit code {code}")
    return backend.parse_find(lines, name)


BACKENDS = {"slurm": SlurmBackend, "pbs": PBSBackend}


# ------------------------------------------------------------------ watcher


class BatchWatcher:
    """All batch jobs of one run on one (target, scheduler): one status query per interval."""

    MAX_BACKOFF = 60.0
    CANCEL_ATTEMPTS = 3
    CANCEL_RETRY = Backoff(1.0, factor=1, step=1.0)  # the wait before the next scancel/qdel try: 1, 2, 3 ... s

    def __init__(self, target: Target, backend: Any, cwd: str, interval: float, note: Any) -> None:
        self.target = target
        self.backend = backend
        self.cwd = cwd
        self.interval = interval
        self.note = note
        """Callable(str) for 'query failed, retrying' messages."""
        self.jobs: dict[str, Tracked] = {}
        self.loop_task: asyncio.Task | None = None
        self.to_cancel: set[str] = set()
        self.cancel_task: asyncio.Task | None = None
        self.uncancelled: set[str] = set()
        """Job ids a cancel gave up on (they may still be queued or running)."""
        self.queries = 0
        self.failures = 0

    def watch(self, jobid: str, exit_file: str, array: bool, interval: float, on_change: Any = None) -> asyncio.Future:
        self.interval = min(self.interval, interval)
        future = asyncio.get_running_loop().create_future()
        self.jobs[jobid] = Tracked(jobid, exit_file, array, future, on_change=on_change)
        if self.loop_task is None or self.loop_task.done():
            self.loop_task = asyncio.ensure_future(self._loop())
        return future

    def node_of(self, jobid: str) -> str:
        """The node the scheduler last reported for a watched job ("" when none yet)."""
        tracked = self.jobs.get(jobid)
        return tracked.node if tracked is not None else ""

    def forget(self, jobid: str) -> None:
        self.jobs.pop(jobid, None)

    async def _loop(self) -> None:
        delay, streak = self.interval, 0  # streak: failed queries in a row
        while self.jobs:
            await asyncio.sleep(delay)
            try:
                await self._poll()
                delay, streak = self.interval, 0
            except (TimeoutError, OSError, Exception) as exc:  # noqa: BLE001 — a failing query is never a job failure
                if isinstance(exc, asyncio.CancelledError):
                    raise
                self.failures += 1
                streak += 1
                delay = Backoff(2 * self.interval, cap=self.MAX_BACKOFF).delay(streak - 1)  # 2, 4, 8 ... x interval
                self.note(f"status query failed ({_short(exc)}); job state unknown, retrying in {delay:.0f}s")

    async def _poll(self) -> None:
        ids = list(self.jobs)
        if not ids:
            return
        self.queries += 1
        code, lines = await run_command(self.target, self.backend.status_query(ids), self.cwd, timeout=max(30.0, self.interval))
        invalid = any("Invalid job id" in line for line in lines)
        if code != 0 and not invalid:
            raise RuntimeError(" ".join(lines[-2:]) or f"exit code {code}")
        states = self.backend.parse_status([l for l in lines if "|" in l or ":" in l or "=" in l])
        finished: list[str] = []
        for jobid in ids:
            tracked = self.jobs.get(jobid)
            if tracked is None:
                continue  # forgotten (canceled) while the query ran
            entries = states.get(jobid, [])
            if entries:
                tracked.last_state = entries[0][1]
                if tracked.running_since is None and any(self.backend.is_running(s) for _, s, _ in entries):
                    # It may have started up to one interval before this query saw it.
                    tracked.running_since = time.monotonic() - self.interval
                tracked.node = next((n for _, _, n in entries if n and n != "(null)"), tracked.node)
                reason = getattr(self.backend, "reasons", {}).get(jobid)
                shown = tracked.last_state + (f" ({reason})" if reason else "")
                if shown != tracked.shown and tracked.on_change is not None:
                    tracked.shown = shown
                    tracked.on_change(f"batch job {jobid}: {shown}")
            if not entries or not any(self.backend.is_active(s) for _, s, _ in entries):
                finished.append(jobid)
        if finished:
            await self._resolve(finished, states)

    async def _resolve(self, finished: list[str], states: dict) -> None:
        finals: dict = {}
        query = self.backend.final_query(finished)
        if query:
            self.queries += 1
            code, lines = await run_command(self.target, query, self.cwd)
            if code == 0:
                finals = self.backend.parse_final(lines)
        tracked_jobs = [t for t in (self.jobs.get(j) for j in finished) if t is not None]
        if not tracked_jobs:
            return  # all forgotten (canceled) while the queries ran
        codes = await self._exit_codes(tracked_jobs)
        for jobid in finished:
            tracked = self.jobs.get(jobid)
            if tracked is None:
                continue
            final = self.backend.decide(tracked, states.get(jobid, []), finals.get(jobid, []), codes)
            if final is None:
                continue  # not in sacct yet and no exit file: ask again next interval
            self.jobs.pop(jobid, None)
            if not tracked.future.done():
                tracked.future.set_result(final)

    async def _exit_codes(self, tracked: list[Tracked]) -> dict[str, int]:
        """Read every exit-code file (and array task files) of the finished jobs in one command."""
        files = " ".join(shlex.quote(t.exit_file) + ("*" if t.array else "") for t in tracked)
        script = f"for f in {files}; do [ -f \"$f\" ] && printf '%s %s\\n' \"$f\" \"$(cat \"$f\")\"; done; true"
        code, lines = await run_command(self.target, script, self.cwd)
        out: dict[str, int] = {}
        for line in lines:
            path, _, value = line.rpartition(" ")
            try:
                out[path] = int(value)
            except ValueError:
                continue
        return out

    # ---------------------------------------------------------- cancel

    async def cancel(self, jobid: str) -> bool:
        """Cancel a job; concurrent cancels on this host go out as one scancel/qdel.

        True when the scheduler took the cancel (or the job was already gone); False when
        every attempt failed and the job may still be queued or running (a note says so).
        """
        self.forget(jobid)
        self.to_cancel.add(jobid)
        while True:
            if self.cancel_task is None or self.cancel_task.done():
                self.cancel_task = asyncio.ensure_future(self._flush_cancels())
            task = self.cancel_task
            failed = await asyncio.shield(task)
            if jobid not in self.to_cancel:  # it went out with that batch
                return jobid not in failed
            # Added after that batch had been sent: it goes out with the next one.

    async def _flush_cancels(self) -> set[str]:
        """One cancel command for every job waiting to be canceled; the ids it could not cancel."""
        await asyncio.sleep(0.05)  # let the other steps canceled by the same event join
        ids, self.to_cancel = sorted(self.to_cancel), set()
        pending = list(ids)
        why = ""
        for attempt in range(self.CANCEL_ATTEMPTS):
            if not pending:
                return set()
            try:
                code, lines = await run_command(self.target, self.backend.cancel(pending), self.cwd, timeout=30)
                if code == 0:
                    return set()
                why = " ".join(l.strip() for l in lines[-2:] if l.strip()) or f"exit code {code}"
                # scancel/qdel fail for jobs that already ended (qdel silently): only the ones
                # the scheduler still shows active need another try.
                pending = await self._still_active(pending)
            except Exception as exc:  # noqa: BLE001
                why = _short(exc)
            if pending and attempt + 1 < self.CANCEL_ATTEMPTS:
                self.note(f"cancel of batch job(s) {' '.join(pending)} on {self.target.name} failed ({why}); retrying")
                await asyncio.sleep(self.CANCEL_RETRY.delay(attempt))
        if not pending:
            return set()
        self.uncancelled.update(pending)
        self.note(f"could not cancel batch job(s) {' '.join(pending)} on {self.target.name} after "
                  f"{self.CANCEL_ATTEMPTS} attempts ({why}); they may still be queued or running: "
                  f"cancel them by hand with '{self.backend.cancel(pending)}'")
        return set(pending)

    async def _still_active(self, ids: list[str]) -> list[str]:
        """Those of ``ids`` the scheduler still lists as queued or running. Raises when it cannot tell."""
        code, lines = await run_command(self.target, self.backend.status_query(ids), self.cwd, timeout=30)
        if code != 0 and not any("Invalid job id" in line for line in lines):
            raise RuntimeError(" ".join(lines[-2:]) or f"status query exit code {code}")
        states = self.backend.parse_status([l for l in lines if "|" in l or ":" in l or "=" in l])
        return [j for j in ids if any(self.backend.is_active(s) for _, s, _ in states.get(j, []))]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:200]

