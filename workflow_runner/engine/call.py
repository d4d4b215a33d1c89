"""The engine's side of the step interface: :class:`JobStepCall` (engine.stepcall.StepCall) and the
script runner every ``run:`` step and every action's script goes through.

An action gets a JobStepCall and nothing else of the job: it cannot set the job's
status or outputs directly — ``set_output`` and ``cancel_self`` do, as the engine means them to.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Mapping

from workflow_runner.engine import status as st
from workflow_runner.engine.outputs import parse_outputs, scrub_outputs_file, scrub_remote_outputs
from workflow_runner.engine.signals import exit_message
from workflow_runner.engine.stepcall import NestedOutcome, Placement, StepLog, StepOutcome
from workflow_runner.expressions import Context
from workflow_runner.model import Step, Workflow
from workflow_runner.targets.base import StepCommand, Target


@asynccontextmanager
async def held_locally(job: Any) -> AsyncIterator[dict[str, str]]:
    """Hold ``job``'s share of this machine — its resources from the pool and a ``--max-parallel`` slot —
    while one of its processes runs here; yields the GPU visibility variables that process must see."""
    shared = job.engine.shared
    request = job.request()
    held: tuple[str, ...] = ()
    if shared.pool is not None:
        held = await shared.pool.acquire(request)
    try:
        async with shared.local_slots:
            yield shared.pool.device_env(held) if shared.pool is not None else {}
    finally:
        if shared.pool is not None:
            await asyncio.shield(shared.pool.release(request, held))


def scrub_local(shared: Any, place: Placement, *paths: str) -> None:
    """No plain secret stays in a local ``$OUTPUTS`` file (the clear values live on in memory)."""
    if shared.secrets and place.local:
        for path in paths:
            scrub_outputs_file(path, shared.mask)


async def run_script(job: Any, script: str, place: Placement, env: Mapping[str, str], outputs_file: str, log: StepLog,
                     signal_at: tuple[int, float] | None = None) -> StepOutcome:
    """Run ``script`` where ``place`` says; a local one holds a ``--max-parallel`` slot and its resources."""
    shared = job.engine.shared
    command = StepCommand(
        script=script, env=dict(env), cwd=place.cwd, outputs_file=outputs_file, grace=shared.options.grace, hurry=shared.hurry,
        signal_at=signal_at[1] if signal_at else None, signal=signal_at[0] if signal_at else 15,
    )
    if place.local:
        async with held_locally(job) as devices:
            for name, value in devices.items():  # its own GPUs, none if it asked for none;
                command.env.setdefault(name, value)  # a workflow's own env: value of the variable wins
            result = await place.target.run(command, log.line)
    else:
        result = await place.target.run(command, log.line)
    outputs = parse_outputs(result.outputs_text)
    if shared.secrets and not place.local:  # costs one more command there: only when a secret may be in it
        await scrub_remote_outputs(place.target, outputs_file, result.outputs_text, shared.mask, place.cwd,
                                   shared.options.grace, shared.hurry)
    if result.exit_code == 0:
        return StepOutcome(st.COMPLETED, 0, outputs)
    message = result.message or log.last_error or exit_message(result.exit_code)
    return StepOutcome(st.FAILED, result.exit_code, outputs, message)


class StoreLedger:
    """engine.stepcall.BatchLedger over the run store: the batch rows of one step of one job."""

    def __init__(self, store: Any, run: int | None, job_key: str, step_index: int) -> None:
        self.store, self.run, self.job_key, self.step_index = store, run, job_key, step_index

    def batch_intent(self, *, attempt: int, host: str, scheduler: str, job_name: str, rundir: str) -> int:
        return self.store.batch_intent(self.run, job=self.job_key, step_index=self.step_index, attempt=attempt, host=host,
                                       scheduler=scheduler, job_name=job_name, rundir=rundir)

    def batch_submitted(self, batch_id: int | None, jobid: str) -> None:
        self.store.batch_submitted(batch_id, jobid)

    def batch_state(self, batch_id: int, state: str) -> None:
        self.store.batch_state(batch_id, state)

    def batch_finished(self, batch_id: int, state: str, exit_code: int | None) -> None:
        self.store.batch_finished(batch_id, state, exit_code)


class JobStepCall:
    """One attempt of a ``uses:`` step of ``job`` (a JobRun), as its action sees it."""

    def __init__(self, job: Any, step: Step, place: Placement, env: dict[str, str], log: StepLog) -> None:
        eng = job.engine
        shared = eng.shared
        self.job = job
        self.step = step
        self.workflow: Workflow = eng.workflow
        self.placement = place
        self.env = env
        self.log = log
        self.job_key: str = job.key
        self.job_name: str = job.job.name
        self.run_id: str = eng.run_id
        self.run_token: str = shared.run_token
        self.grace: float = shared.options.grace
        self.hurry: asyncio.Event = shared.hurry
        self.calls: tuple[Path, ...] = eng.calls
        self.batch = StoreLedger(shared.store, shared.run_number, job.key, step.index) if shared.store is not None else None

    def context(self, env: Mapping[str, str] | None = None) -> Context:
        return self.job.context(env)

    def locate(self, *path: str) -> Any:
        return self.workflow.locate(self.step.path + path)

    def target(self, host: str, jump: str | None = None) -> Target:
        return self.job.engine.shared.targets.get(host, jump)

    def is_local(self, target: Target) -> bool:
        return target is self.job.engine.shared.targets.local

    def job_dir_on(self, target: Target, home: str) -> str:
        """The run's job directory on ``target`` (``$HOME``-relative there, the run directory here)."""
        run_dir = self.job.engine.run_dir
        return str(run_dir.root) if self.is_local(target) else run_dir.remote_root(home)

    def termination(self) -> tuple[int, float] | None:
        return self.job.termination(self.step)

    def service(self, key: tuple, make: Callable[[], Any]) -> Any:
        """One helper per run and key (a batch watcher per host and scheduler), made on first use."""
        services = self.job.engine.shared.services
        if key not in services:
            services[key] = make()
        return services[key]

    def prior_batch(self) -> Any:
        """The batch row a previous session of a resumed run submitted for this step (taken once), or None."""
        prior = self.job.engine.prior
        return prior.batch.pop((self.job_key, self.step.index), None) if prior else None

    def held_locally(self) -> Any:
        return held_locally(self.job)

    async def run_script(self, script: str, *, env: Mapping[str, str] | None = None) -> StepOutcome:
        env = self.env if env is None else env
        return await run_script(self.job, script, self.placement, env, env["OUTPUTS"], self.log)

    def set_output(self, name: str, value: str) -> None:
        """An output visible to ``needs.<this job>`` while the job still runs."""
        self.job.outputs[name] = value

    def cancel_self(self, reason: str) -> None:
        """The step's own job ends canceled once this step is done (its later steps see ``cancelled()``)."""
        self.job.canceled = True
        self.job.reason = self.job.reason or reason

    def cancel_jobs(self, names: list[str], reason: str) -> list[str]:
        return self.job.engine.cancel_jobs(names, reason)

    def add_secrets(self, values: Iterable[str]) -> None:
        secrets = self.job.engine.shared.secrets
        secrets.extend(s for s in values if s not in secrets)

    async def start_nested_run(self, workflow: Workflow, inputs: Any, called_path: Path | None) -> NestedOutcome:
        outcome, nested = await self.job.engine.start_nested(
            workflow, inputs, prefix=f"{self.job_key}/{self.step.key}/", dir_name=f"{self.job_key}-{self.step.key}",
            called_path=called_path)
        return NestedOutcome(outcome.status, outcome.outputs, outcome.failures, nested.job_view)

    def emit(self, event: Any) -> None:
        self.job.engine.emit(event)

    def at_run_end(self, close: Callable[[], Awaitable[None]]) -> None:
        self.job.engine.shared.at_end.append(close)
