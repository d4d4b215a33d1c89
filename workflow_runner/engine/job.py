"""One job instance: its ``if``, its steps in order, their retries and timeouts, its cleanups.

A failed step skips the rest of the job unless a later step's ``if`` asks for
``error``/``always``; every step that started pushes its ``cleanup:``, and all
of them run in reverse order when the job ends — success, failure or cancel —
each even if another failed, and none interrupted by the cancel that ended the
job.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from workflow_runner.engine import status as st
from workflow_runner.engine.call import JobStepCall, run_script, scrub_local
from workflow_runner.engine.cleanup import run_cleanup
from workflow_runner.engine.context import as_text, evaluate, render_env, truthy
from workflow_runner.engine.durations import parse_duration
from workflow_runner.engine.events import StepFinished, StepStarted
from workflow_runner.engine.placement import outputs_path, place_step, pw_env
from workflow_runner.engine.runstate import JobResult, RunView
from workflow_runner.engine.signals import duration_setting as _duration
from workflow_runner.engine.signals import number_setting as _number
from workflow_runner.engine.signals import termination_of
from workflow_runner.engine.stepcall import Placement, StepOutcome
from workflow_runner.engine.steplog import StepLog
from workflow_runner.errors import ConnectionFailed, WorkflowError
from workflow_runner.expressions import Context
from workflow_runner.graph import JobInstance
from workflow_runner.model import Step
from workflow_runner.state.rundir import make_folder


class JobRun:
    def __init__(self, engine: RunView, instance: JobInstance) -> None:
        self.engine = engine
        self.instance = instance
        self.job = instance.job
        self.key = engine.key(instance)
        self.failed = False
        self.canceled = False
        self.stopped = False
        self.reason: str | None = None
        self.outputs: dict[str, str] = {}
        self.steps: dict[str, dict[str, Any]] = {}
        self.current: asyncio.Task | None = None
        self.env: dict[str, str] = {}
        self.last_outputs_file: str | None = None
        self.watchdog: asyncio.Task | None = None

    # ------------------------------------------------------------ views

    def view(self) -> dict[str, Any]:
        return {"outputs": dict(self.outputs), "result": None, "steps": self.steps}

    def context(self, env: dict[str, str] | None = None, status: st.StatusView | None = None) -> Context:
        eng = self.engine
        needs = {name: eng.job_view(name) for name in self.job.needs}
        needs[self.job.name] = self.view()
        values = {
            "inputs": eng.inputs.values,
            "needs": needs,
            "env": self.env if env is None else env,
            "matrix": self.instance.matrix or {},
            "sessions": _sessions(eng),
            "org": eng.shared.options.org,
            "steps": self.steps,
        }
        return Context(values=values, status=status)

    def status_view(self) -> st.StatusView:
        return st.StatusView(failed=self.failed, canceled=self.canceled)

    def request(self) -> Any:
        """What each local process of this job holds of the machine (resources:, default one CPU)."""
        from workflow_runner.engine.resources import Request, request_of

        if self.job.resources is None:
            return Request()
        r = self.job.resources
        values = {k: evaluate(v, self.context()) for k, v in (("cpus", r.cpus), ("memory", r.memory), ("gpus", r.gpus))}
        return request_of(values, f"job '{self.key}'")

    @property
    def max_parallel(self) -> int | None:
        strategy = self.job.strategy
        if strategy is None or strategy.max_parallel is None:
            return None
        try:
            number = int(evaluate(strategy.max_parallel, self.context({})))
        except (TypeError, ValueError, WorkflowError):
            return None
        return number if number > 0 else None

    # ------------------------------------------------------------ control

    def cancel(self, reason: str, *, stop: bool) -> None:
        self.canceled = True
        self.reason = self.reason or reason
        if stop:
            self.stopped = True
        if self.current is not None and not self.current.done():
            self.current.cancel(reason)

    # ------------------------------------------------------------ run

    async def run(self) -> JobResult:
        eng = self.engine
        if eng.cancelled:
            return self._finish(st.CANCELED, eng.cancel_reason or "canceled before it started")
        if self.job.name in eng.failed_fast:
            return self._finish(st.CANCELED, "fail-fast: another instance of the matrix failed")
        done = eng.prior.jobs.get(self.key) if eng.prior else None
        if done is not None and done[0] == st.COMPLETED:
            # Only completed work carries over: a job skipped because a need failed
            # must get its chance once that need succeeds in this session.
            self.outputs = dict(done[1] or {})
            self._restore_steps()
            return self._finish(done[0], "finished before the resume")
        view = eng.ancestors_view(self.instance)
        try:
            if self.job.if_ is None:
                go = view.status("completed")
            else:
                go = truthy(evaluate(self.job.if_, self.context({}, view)))
        except WorkflowError as exc:
            eng.record_failure(self.key, "if", str(exc), None)
            eng.shared.step_failed()
            return self._finish(st.FAILED, str(exc))
        if not go:
            why = "a job it needs failed" if view.failed else "a job it needs was canceled" if view.canceled else "if: was false"
            return self._finish(st.SKIPPED, why)
        eng.live[self.key] = self
        eng.job_changed(self.key, st.RUNNING)
        self.watchdog = self._job_timeout()
        try:
            await self._run_steps()
        finally:
            eng.live.pop(self.key, None)
            self._stop_watchdog()
        status = st.FAILED if self.failed else st.CANCELED if self.canceled else st.COMPLETED
        if status == st.FAILED and self.job.strategy is not None and self._flag(self.job.strategy.fail_fast, "strategy.fail-fast"):
            eng.matrix_failed(self.job.name, self.key)
        return self._finish(status, self.reason if status != st.COMPLETED else None)

    def _job_timeout(self) -> asyncio.Task | None:
        """The job's ``timeout:``: when it expires, the running step is canceled and the job fails."""
        try:
            limit = parse_duration(evaluate(self.job.timeout, self.context()))
        except (ValueError, WorkflowError) as exc:
            self._fail_job("timeout", f"job timeout: {exc}")
            self.stopped = True
            return None
        if not limit:
            return None

        async def expire() -> None:
            await asyncio.sleep(limit)
            self.failed = True
            self.reason = f"job timed out after {limit:g}s"
            self.engine.record_failure(self.key, "timeout", self.reason, None)
            self.engine.shared.step_failed()
            self.cancel(self.reason, stop=True)

        return asyncio.ensure_future(expire())

    def _stop_watchdog(self) -> None:
        """The job's timeout covers its steps, not the cleanups that follow them."""
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None

    def _flag(self, expr: Any, what: str) -> bool | None:
        """A boolean setting (``ignore-errors``, ``early-cancel``, ``fail-fast``); a broken one fails the job (None)."""
        try:
            return truthy(evaluate(expr, self.context()))
        except WorkflowError as exc:
            self._fail_job(what, f"{what}: {exc}")
            return None

    def _restore_steps(self) -> None:
        for step in self.job.steps:
            done = self.engine.prior.steps.get((self.key, step.index)) if self.engine.prior else None
            if done is not None and step.id:
                word = {st.COMPLETED: "success", st.SKIPPED: "skipped"}.get(done[0], done[0])
                self.steps[step.id] = {"outputs": done[1] or {}, "outcome": word, "conclusion": word}

    def _finish(self, status: str, reason: str | None) -> JobResult:
        outputs = dict(self.outputs)
        if status == st.COMPLETED and self.job.outputs and reason != "finished before the resume":
            ctx = self.context()
            try:
                outputs = {str(k): as_text(evaluate(v, ctx)) for k, v in self.job.outputs.items()}
            except WorkflowError as exc:
                self.engine.record_failure(self.key, "outputs", str(exc), None)
                status, reason = st.FAILED, str(exc)
        self.engine.job_changed(self.key, status, reason, outputs)
        return JobResult(status, outputs, dict(self.steps), reason)

    async def _run_steps(self) -> None:
        started: list[list[Any]] = []
        try:
            await self._steps(started)
        finally:
            self._stop_watchdog()
            for step, place, env, outputs_file in reversed(started):
                await run_cleanup(self, step, place, env, outputs_file)

    async def _steps(self, started: list[list[Any]]) -> None:
        eng = self.engine
        wf = eng.workflow
        try:
            self.env = render_env([wf.env, self.job.env], lambda env: self.context(env))
        except WorkflowError as exc:
            self._fail_job("env", str(exc))
            return
        for step in self.job.steps:
            if self.stopped:
                self._skip(step, "the run was canceled")
                continue
            try:
                if step.if_ is None:
                    go = not (self.failed or self.canceled)
                else:
                    go = truthy(evaluate(step.if_, self.context(status=self.status_view())))
            except WorkflowError as exc:
                self._fail_job(step.name, str(exc))
                continue
            if not go:
                self._skip(step, "if: was false" if step.if_ is not None else "an earlier step failed" if self.failed else "the job was canceled")
                continue
            done = eng.prior.steps.get((self.key, step.index)) if eng.prior else None
            if done is not None and done[0] == st.COMPLETED:
                await self._restored(step, done[1] or {}, started)
                continue
            early = self._flag(step.early_cancel, "early-cancel") if step.early_cancel else False
            if early is None:  # how the step would be cancelled is unknown: it does not run
                self._skip(step, "its early-cancel: could not be evaluated")
                continue
            if early and eng.shared.any_failed.is_set():
                self.canceled = True
                self.reason = self.reason or "early-cancel: a job failed"
                self._record(step, StepOutcome(st.CANCELED, message="early-cancel: a job of the run had already failed"), None, 0.0)
                continue
            await self._step(step, early, started)

    async def _restored(self, step: Step, outputs: dict[str, str], started: list) -> None:
        """A step the previous session finished: not run again; its outputs and cleanup carry over."""
        if step.cleanup:
            try:
                env = {**self.env, **render_env([step.env], lambda e: self.context({**self.env, **e}))}
                task = await self._cancellable(place_step(self, step, env))
                if task.cancelled():  # canceled while connecting: no place, so no cleanup to run
                    self.canceled = True
                    self.reason = self.reason or "canceled"
                else:
                    place = task.result()
                    started.append([step, place, env, outputs_path(self, step, place, 0)])
            except WorkflowError as exc:
                self._fail_job(f"{step.name} (cleanup)", f"cannot run the cleanup of a step finished before the resume: {exc}")
        self._record(step, StepOutcome(st.COMPLETED, 0, outputs, "finished before the resume"), None, 0.0)

    def _fail_job(self, step_name: str, message: str) -> None:
        self.failed = True
        self.reason = self.reason or message
        self.engine.record_failure(self.key, step_name, message, None)
        self.engine.emit(StepFinished(self.key, step_name, st.FAILED, None, 0.0, None, message))
        self.engine.shared.step_failed()

    def _skip(self, step: Step, why: str) -> None:
        if step.id:
            self.steps[step.id] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
        self.engine.emit(StepFinished(self.key, step.name, st.SKIPPED, None, 0.0, None, why, step.index))

    def _record(self, step: Step, outcome: StepOutcome, log: str | None, duration: float) -> None:
        outputs = outcome.outputs or {}
        self.outputs.update(outputs)
        if step.id:
            word = {st.COMPLETED: "success", st.FAILED: "failure", st.CANCELED: "cancelled"}.get(outcome.status, outcome.status)
            self.steps[step.id] = {"outputs": outputs, "outcome": word, "conclusion": word}
        self.engine.emit(StepFinished(self.key, step.name, outcome.status, outcome.exit_code, duration, log, outcome.message,
                                      step.index, outputs=outputs))

    async def _step(self, step: Step, early: bool, started: list) -> None:
        eng = self.engine
        log_path = eng.run_dir.step_file("logs", self.key, step.index, step.key, ".log", make=False)
        log = StepLog(eng.shared.mask, eng.emit, self.key, step.name, str(log_path), lambda: make_folder(log_path.parent))
        t0 = time.monotonic()
        task = await self._cancellable(self._placed(step, log, started), early=early)
        try:
            outcome = self._task_outcome(task, log)
        finally:
            log.close()
        duration = time.monotonic() - t0
        if outcome.status == st.FAILED and step.ignore_errors is not None and self._flag(step.ignore_errors, "ignore-errors"):
            outcome.message = f"failed (ignored: ignore-errors): {outcome.message or f'exit code {outcome.exit_code}'}"
            outcome.status = st.COMPLETED
        if outcome.status == st.FAILED:
            self.failed = True
            self.reason = self.reason or outcome.message or f"step '{step.name}' failed"
            eng.record_failure(self.key, step.name, outcome.message or f"exit code {outcome.exit_code}", str(log_path))
            eng.shared.step_failed()
        elif outcome.status == st.CANCELED:
            self.canceled = True
            self.reason = self.reason or outcome.message
        self._record(step, outcome, str(log_path), duration)

    async def _cancellable(self, coro: Any, *, early: bool = False) -> asyncio.Task:
        """Run ``coro`` as the job's current task — the one cancel() reaches — and return it once done.

        Everything a step awaits goes through here, placement included (it may wait
        for an SSH connection), so a Ctrl-C or an early-cancel is never lost.
        """
        task = asyncio.ensure_future(coro)
        self.current = task
        if early:
            self.engine.shared.early_cancel[task] = self
        try:
            await asyncio.wait([task])
        finally:
            self.engine.shared.early_cancel.pop(task, None)
            self.current = None
        return task

    async def _placed(self, step: Step, log: StepLog, started: list) -> StepOutcome:
        """Where the step runs, then its attempts; a step with ``cleanup:`` is pushed once it has a place."""
        self.last_outputs_file = None
        env = {**self.env, **render_env([step.env], lambda e: self.context({**self.env, **e}))}
        entry: list[Any] = [step, None, env, None]

        def placed(place: Placement) -> None:
            entry[1], entry[3] = place, outputs_path(self, step, place, 0)
            if step.cleanup:
                started.append(entry)

        try:
            return await self._attempts(step, env, log, placed)
        finally:
            entry[3] = self.last_outputs_file or entry[3]  # the cleanup sees the last attempt's $OUTPUTS

    def _task_outcome(self, task: asyncio.Task, log: StepLog) -> StepOutcome:
        if task.cancelled():
            why = self.reason or "canceled"
            log.note(f"canceled: {why}")
            return StepOutcome(st.CANCELED, message=why)
        exc = task.exception()
        if exc is None:
            return task.result()
        if isinstance(exc, WorkflowError):
            log.note(str(exc))
            return StepOutcome(st.FAILED, message=str(exc))
        # A bug in wfrun, not in the workflow: this step fails with the traceback
        # in its log; the run, its other jobs and every cleanup go on.
        import traceback

        log.note("internal error:\n" + "".join(traceback.format_exception(exc)))
        return StepOutcome(st.FAILED, message=f"internal error in wfrun: {type(exc).__name__}: {exc} (traceback in the step log)")

    async def _attempts(self, step: Step, env: dict[str, str], log: StepLog, placed: Any) -> StepOutcome:
        """Place the step (connect to its host), then run it, retrying per ``retry:``.

        A refused, unreachable or dropped connection (:class:`ConnectionFailed`) is one failed
        attempt like a non-zero exit; a rejected host key or login is not retried.
        """
        retry = step.retry
        ctx = self.context()
        max_retries = int(_number(evaluate(retry.max_retries, ctx), "retry.max-retries")) if retry else 0
        interval = _duration(evaluate(retry.interval, ctx), "retry.interval") if retry else None
        timeout = _duration(evaluate(retry.timeout, ctx), "retry.timeout") if retry and retry.timeout is not None else None
        if timeout is None:
            timeout = _duration(evaluate(step.timeout, ctx), "timeout")
        outcome = StepOutcome(st.FAILED)
        place: Placement | None = None
        last = max(0, max_retries)
        for attempt in range(last + 1):
            if attempt:
                log.note(f"retry {attempt}/{max_retries} after: {outcome.message or f'exit code {outcome.exit_code}'}")
                if interval:
                    await asyncio.sleep(interval)
            try:
                if place is None:
                    place = await place_step(self, step, env)
                    placed(place)
                outcome = await self._attempt(step, place, env, log, attempt, max_retries, timeout)
            except ConnectionFailed as exc:
                if attempt == last:
                    raise
                outcome = StepOutcome(st.FAILED, message=str(exc))
                continue
            if outcome.status == st.COMPLETED:
                break
        return outcome

    async def _attempt(
        self, step: Step, place: Placement, env: dict[str, str], log: StepLog, attempt: int, max_retries: int, timeout: float | None
    ) -> StepOutcome:
        eng = self.engine
        outputs_file = outputs_path(self, step, place, attempt)
        self.last_outputs_file = outputs_file
        step_env = {
            **env,
            **pw_env(self, place),
            "OUTPUTS": outputs_file,
            "PW_WORKFLOW_STEP_CURRENT_RETRY": str(attempt),
            "PW_WORKFLOW_STEP_MAX_RETRIES": str(max_retries),
        }
        eng.emit(StepStarted(self.key, step.name, attempt, place.target.name, step.index))
        limit = asyncio.timeout(timeout)
        try:
            async with limit:
                if step.uses:
                    if eng.shared.actions is None:
                        raise WorkflowError(f"step '{step.name}': uses: needs the action table, which this engine was not given")
                    return await eng.shared.actions.run_uses(JobStepCall(self, step, place, step_env, log))
                script = as_text(evaluate(step.run, self.context(env)))
                return await run_script(self, script, place, step_env, outputs_file, log, self._termination(step, timeout))
        except TimeoutError:
            if not limit.expired():  # someone else's timeout (a socket, a scheduler query): not the step's
                raise
            log.note(f"timed out after {timeout:g}s")
            return StepOutcome(st.FAILED, message=f"timed out after {timeout:g}s")
        finally:
            self._scrub(place, outputs_file)

    def _scrub(self, place: Placement, *paths: str) -> None:
        scrub_local(self.engine.shared, place, *paths)

    def termination(self, step: Step) -> tuple[int, float] | None:
        """(signal number, seconds before the limit) from the step's ``termination:``, if any."""
        return termination_of(evaluate(step.termination, self.context()) if step.termination is not None else None)

    def _termination(self, step: Step, timeout: float | None) -> tuple[int, float] | None:
        term = self.termination(step)
        if term is None or timeout is None:
            return None
        return term[0], max(0.0, timeout - term[1])


def _sessions(engine: RunView) -> dict[str, str]:
    return {str(name): str(name) for name in engine.workflow.sessions}
