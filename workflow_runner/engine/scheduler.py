"""The run loop: every job instance waits only for its own needs, then runs.

There is no level barrier (act runs jobs level by level; we don't): each job
instance is a task that awaits the completion events of the jobs it needs. The
global ``--max-parallel`` limit is a semaphore held only while a *local* process
runs — a job waiting for its needs, a remote SSH step (bounded by the channel
caps of its connection) or a batch job waiting in a queue holds no slot, so
waiting can never starve running work.

Cancellation: ``cancel()`` (Ctrl-C, SIGTERM, workflow timeout) stops new jobs and
steps, cancels the running step tasks (SIGTERM → grace → SIGKILL), and lets every
started step's ``cleanup:`` run. ``early-cancel: any-job-failed`` steps are
cancelled the moment any step of the run fails for good.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Iterable

from workflow_runner.engine import status as st
from workflow_runner.engine.events import JobChanged, RunFinished, RunStarted, masked
from workflow_runner.engine.job import JobRun
from workflow_runner.engine.runstate import JobResult, Prior, RunOutcome, Shared
from workflow_runner.graph import JobInstance, Plan, make_plan
from workflow_runner.inputs import ResolvedInputs
from workflow_runner.state.rundir import RunDir


class RunEngine:
    def __init__(
        self,
        plan: Plan,
        inputs: ResolvedInputs,
        run_dir: RunDir,
        shared: Shared,
        *,
        parent_run_dir: RunDir | None = None,
        prefix: str = "",
        run_id: str | None = None,
        prior: Prior | None = None,
        calls: tuple[Any, ...] = (),
    ) -> None:
        self.plan = plan
        self.workflow = plan.workflow
        self.inputs = inputs
        self.run_dir = run_dir
        self.shared = shared
        self.parent_run_dir = parent_run_dir
        self.prefix = prefix
        self.run_id = run_id or str(run_dir.number)
        self.prior = prior
        self.calls = calls or ((plan.workflow.path.resolve(),) if plan.workflow.path else ())
        """The workflow files from the top-level run down to this one (a called workflow may not call back)."""
        self.results: dict[str, JobResult] = {}
        """Final result per job name (all matrix instances aggregated)."""
        self.lineage: dict[str, tuple[bool, bool]] = {}
        """Per finished job: whether it or any job it needs (transitively) failed, was canceled (ancestors_view)."""
        self.instance_results: dict[str, list[JobResult]] = {name: [] for name in plan.order}
        self.done: dict[str, asyncio.Event] = {name: asyncio.Event() for name in plan.order}
        self.live: dict[str, Any] = {}
        """JobRun per running instance key, for cancel-jobs and self-references."""
        self.cancelled = False
        self.cancel_reason: str | None = None
        self.cancel_exit_code = 130
        self.failures: list[tuple[str, str, str | None, str | None]] = []
        self.matrix_slots: dict[str, asyncio.Semaphore] = {}
        self.failed_fast: set[str] = set()
        """Matrix jobs whose fail-fast fired: their instances that have not started are canceled."""
        self.started = time.monotonic()

    # ------------------------------------------------------------ control

    def cancel(self, reason: str = "canceled", exit_code: int = 130) -> None:
        """Cancel the run; ``exit_code`` is the one it ends with (130 Ctrl-C, 143 SIGTERM / wfrun cancel)."""
        if self.cancelled:
            return
        self.cancelled = True
        self.cancel_reason = reason
        self.cancel_exit_code = exit_code
        for job in list(self.live.values()):
            job.cancel(reason, stop=True)

    def cancel_jobs(self, names: list[str], reason: str) -> list[str]:
        """``parallelworks/cancel-jobs``: cancel running instances of the named jobs."""
        hit = []
        for job in list(self.live.values()):
            if job.instance.job.name in names:
                job.cancel(reason, stop=False)
                hit.append(job.key)
        return hit

    async def start_nested(self, workflow: Any, inputs: ResolvedInputs, *, prefix: str, dir_name: str,
                           called_path: Any) -> tuple[RunOutcome, "RunEngine"]:
        """A called workflow as a nested run sharing this run's targets, slots, cancellation and reporter."""
        plan = make_plan(workflow, inputs.values, self.shared.secrets)
        nested = RunEngine(plan, inputs, self.run_dir.child(dir_name), self.shared, parent_run_dir=self.run_dir,
                           prefix=prefix, run_id=self.run_id, prior=self.prior,
                           calls=(*self.calls, called_path) if called_path else self.calls)
        outcome = await nested.run()
        self.failures.extend(outcome.failures)
        return outcome, nested

    def key(self, instance: JobInstance) -> str:
        return self.prefix + instance.key

    def emit(self, event: Any) -> None:
        if self.shared.secrets:
            event = masked(event, self.shared.mask)
        self.shared.reporter.emit(event)

    # ------------------------------------------------------------ run

    async def run(self) -> RunOutcome:
        if not self.prefix:
            self.emit(
                RunStarted(self.run_id, str(self.run_dir.root), self.workflow.name, tuple(self.key(i) for i in self.plan.all_instances()))
            )
        tasks = [asyncio.ensure_future(self._instance(JobRun(self, inst))) for inst in self.plan.all_instances()]
        everything = asyncio.gather(*tasks)
        interrupted = False
        while not everything.done():
            try:
                await asyncio.shield(everything)
            except asyncio.CancelledError:
                # The caller (a parent step) was cancelled: cancel like Ctrl-C and let
                # the cleanups finish before propagating; a second cancel hurries.
                if interrupted:
                    self.shared.hurry.set()
                interrupted = True
                self.cancel("canceled")
        everything.result()
        if not self.prefix:
            await run_end(self.shared)
        if interrupted:
            raise asyncio.CancelledError
        return self._outcome()

    async def _instance(self, job: Any) -> None:
        name = job.instance.job.name
        for need in dict.fromkeys(job.instance.job.needs):
            await self.done[need].wait()
        try:
            result = await self._run_gated(job)
        except Exception as exc:  # noqa: BLE001 — a bug in wfrun fails this job, not the whole run
            result = self._internal_error(job, exc)
        self.instance_results[name].append(result)
        if len(self.instance_results[name]) == len(self.plan.instances[name]):
            self.results[name] = aggregate(self.instance_results[name])
            self._note_lineage(name)
            self.done[name].set()

    def _internal_error(self, job: Any, exc: BaseException) -> JobResult:
        import traceback

        path = self.run_dir.root / "internal-errors.log"
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(self.shared.mask(f"job {job.key}:\n" + "".join(traceback.format_exception(exc)) + "\n"))
        except OSError:
            path = None
        message = f"internal error in wfrun: {type(exc).__name__}: {exc}"
        self.record_failure(job.key, "wfrun", message, str(path) if path else None)
        self.shared.step_failed()
        self.job_changed(job.key, st.FAILED, message)
        return JobResult(st.FAILED, dict(job.outputs), dict(job.steps), message)

    async def _run_gated(self, job: Any) -> JobResult:
        strategy = job.instance.job.strategy
        limit = job.max_parallel if strategy is not None else None
        if not limit:
            return await job.run()
        sem = self.matrix_slots.setdefault(job.instance.job.name, asyncio.Semaphore(limit))
        async with sem:
            return await job.run()

    def matrix_failed(self, job_name: str, failed_key: str) -> None:
        """fail-fast: one instance failed, so its running and pending siblings are canceled."""
        self.failed_fast.add(job_name)
        for job in list(self.live.values()):
            if job.instance.job.name == job_name and job.key != failed_key:
                job.cancel("fail-fast", stop=True)

    def _note_lineage(self, name: str) -> None:
        """Fold a finished job's result into what the jobs after it see, so each asks only its own needs.

        Its needs finished before it started (``_instance``), so theirs are already noted.
        """
        status = self.results[name].status
        failed, canceled = self._lineage_of(self.workflow.jobs[name].needs)
        self.lineage[name] = (status == st.FAILED or failed, status == st.CANCELED or canceled)

    def _lineage_of(self, needs: Iterable[str]) -> tuple[bool, bool]:
        """(failed, canceled) over finished ``needs`` and all their ancestors."""
        flags = [self.lineage[need] for need in needs]
        return any(f for f, _ in flags), any(c for _, c in flags)

    def ancestors_view(self, instance: JobInstance) -> st.StatusView:
        """For a job's ``if``: did any job it needs (transitively) fail or get canceled?

        Read from the needs' :attr:`lineage` (a job runs once its needs are done): walking
        every ancestor for every job made a 1,000-job chain quadratic.
        """
        failed, canceled = self._lineage_of(instance.job.needs)
        return st.StatusView(failed=failed, canceled=canceled or self.cancelled)

    def job_view(self, name: str) -> dict[str, Any]:
        """``needs.<name>``: its outputs, result and steps (live when it is still running)."""
        result = self.results.get(name)
        if result is None:
            for job in self.live.values():
                if job.instance.job.name == name:
                    return job.view()
            return {"outputs": {}, "result": None, "steps": {}}
        return {"outputs": result.outputs, "result": _result_word(result.status), "steps": result.steps}

    def record_failure(self, job: str, step: str, message: str | None, log: str | None) -> None:
        self.failures.append((job, step, message, log))

    def job_changed(self, key: str, status: str, reason: str | None = None, outputs: dict[str, str] | None = None) -> None:
        self.emit(JobChanged(key, status, reason, outputs))

    def _outcome(self) -> RunOutcome:
        statuses = [r.status for r in self.results.values()]
        if self.cancelled and self.cancel_reason != "timeout":
            status, code = st.CANCELED, self.cancel_exit_code
        elif st.FAILED in statuses or self.cancel_reason == "timeout":
            status, code = st.FAILED, 1
        else:
            status, code = st.COMPLETED, 0
        outputs: dict[str, str] = {}
        for name in self.plan.order:
            result = self.results.get(name)
            if result is not None:
                outputs.update(result.outputs)
        duration = time.monotonic() - self.started
        if not self.prefix:
            self.emit(RunFinished(status, code, duration, tuple(self.failures)))
        return RunOutcome(status, code, dict(self.results), list(self.failures), outputs, duration)


async def run_end(shared: Shared) -> None:
    """Await what steps asked to be done at the run's end (StepCall.at_run_end), each once, none stopping another."""
    while shared.at_end:
        close = shared.at_end.pop(0)
        try:
            await asyncio.shield(close())
        except asyncio.CancelledError:
            continue  # a second Ctrl-C while closing: the rest still close
        except Exception:  # noqa: BLE001 - closing must not fail the run
            continue


def _result_word(status: str) -> str:
    return {st.COMPLETED: "success", st.FAILED: "failure", st.CANCELED: "cancelled", st.SKIPPED: "skipped"}.get(status, status)


def aggregate(results: list[JobResult]) -> JobResult:
    """One result for a matrix job: failed if any instance failed, then canceled, skipped only if all were."""
    statuses = [r.status for r in results]
    if st.FAILED in statuses:
        status = st.FAILED
    elif st.CANCELED in statuses:
        status = st.CANCELED
    elif all(s == st.SKIPPED for s in statuses):
        status = st.SKIPPED
    else:
        status = st.COMPLETED
    outputs: dict[str, str] = {}
    steps: dict[str, dict[str, Any]] = {}
    for r in results:
        outputs.update(r.outputs)
        steps.update(r.steps)
    reason = next((r.reason for r in results if r.reason), None)
    return JobResult(status, outputs, steps, reason)
