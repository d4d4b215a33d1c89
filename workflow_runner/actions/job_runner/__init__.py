"""The built-in ``job_runner`` (marketplace/job_runner/v3.5 and v4.0).

One step: resolve ``with:`` against the version's input tree → JobSpec (every
directive value validated) → the rundir's variables expanded on the resource
(rundir_vars.py) → one command on the resource (script.py) that writes
``run-template.sh`` (the user's script, run under its shebang's interpreter) and
``run.sh`` (a bash wrapper: directives, markers, the workflow's environment and
start count for batch jobs (jobenv.py), and the exit code recorded in the run
directory) and, for SLURM/PBS, submits it → watch it with the run's shared
BatchWatcher for that host while streaming ``run.<PW_JOB_ID>.out`` → report the
final state like v4.0.

On cancel (Ctrl-C, SIGTERM, early-cancel, timeout) the batch job is cancelled
(batched per host), the user's ``cancel.sh`` in the run directory runs if
present, and the marker files are removed; SSH-mode scripts die with their
process group.
"""

from __future__ import annotations

import asyncio
import hashlib
import shlex
from dataclasses import dataclass
from typing import Any

from workflow_runner import inputs as inputs_mod
from workflow_runner.actions.job_runner.batch import (
    BACKENDS, RELAUNCH_STATES, SLURM_FAILURE, SLURM_GRACEFUL, BatchWatcher, Final, look_up, run_command,
)
from workflow_runner.actions.job_runner.cancel import after_cancel, cancel_batch, cancel_submit, jobid_in
from workflow_runner.actions.job_runner.jobenv import attempt_file, env_file, job_environment, reset_attempts_command
from workflow_runner.actions.job_runner.rundir_vars import expand_rundir
from workflow_runner.actions.job_runner.script import render_scripts
from workflow_runner.actions.job_runner.spec import JobSpec, build_spec, with_env
from workflow_runner.actions.job_runner.states import never_starts
from workflow_runner.actions.job_runner.stream import Streamer
from workflow_runner.engine import status as st
from workflow_runner.engine.context import evaluate
from workflow_runner.engine.durations import parse_duration
from workflow_runner.engine.stepcall import StepCall, StepLog, StepOutcome
from workflow_runner.errors import InputError, TargetError, WorkflowError
from workflow_runner.state.rundir import safe_name
from workflow_runner.targets.base import StepCommand, to_the_end
from workflow_runner.targets.hostusers import with_user
from workflow_runner.model import Workflow


def resolve_spec(definition: Workflow, version: str, with_values: dict[str, Any], where: Any) -> JobSpec:
    values = {k: v for k, v in with_values.items() if not str(k).startswith("$") and k not in definition.accepts}
    try:
        resolved = inputs_mod.resolve(definition, inputs_mod.Sources([("with", values)]))
    except WorkflowError as exc:
        raise InputError(f"job_runner {version}: {exc.message}", location=where) from None
    return build_spec(version, resolved.values, where=where)


def job_name_for(run_id: str, job_key: str, step_key: str, token: str = "") -> str:
    """Unique per run store, run and step (the token tells run stores apart), so a restarted wfrun finds its job by name."""
    base = f"wfrun-{run_id}{'-' + token[:6] if token else ''}-{safe_name(job_key)}-{safe_name(step_key)}"
    if len(base) <= 60:
        return base
    digest = hashlib.sha1(f"{run_id}/{job_key}/{step_key}".encode()).hexdigest()[:8]
    return base[:51] + "-" + digest


async def job_runner_v4(call: StepCall, with_values: dict, definition: Workflow) -> StepOutcome:
    return await _run(definition, "v4.0", call, with_values)


async def job_runner_v3(call: StepCall, with_values: dict, definition: Workflow) -> StepOutcome:
    return await _run(definition, "v3.5", call, with_values)


async def _run(definition: Workflow, version: str, call: StepCall, with_values: dict) -> StepOutcome:
    step, log, place = call.step, call.log, call.placement
    where = call.locate("with") or call.locate()
    extra_env = with_env(with_values.get("env"), where)
    env = {**call.env, **extra_env}
    spec = resolve_spec(definition, version, with_values, where)
    # The resource's user (the cluster's login user) unless its ip names one: user@host wins.
    target = call.target(with_user(str(spec.resource.get("ip") or ""), spec.resource.get("user") or None), None)
    local = call.is_local(target)
    home = await target.home()
    job_dir = place.job_dir if place.target is target else call.job_dir_on(target, home)
    expand_env = {**env, "PWD": job_dir, "HOME": home, "PW_JOB_DIR": job_dir}
    rundir = await expand_rundir(spec.rundir, expand_env, home, lambda text: run_command(target, text, "/"),
                                 target.name, where)
    if not rundir.startswith("/"):
        rundir = f"{job_dir}/{rundir}"
    run_id = env.get("PW_JOB_ID", call.run_id)
    out_file = f"{rundir}/run.{run_id}.out"
    name = job_name_for(run_id, call.job_key, step.key, call.run_token)
    exit_file = f"{rundir}/wfrun.{name}.exit"
    term = call.termination()
    signal = None
    if term is not None:
        import signal as signals

        signal = (signals.Signals(term[0]).name.removeprefix("SIG"), max(1, int(term[1])))
        if spec.mode == "pbs":
            log.note("termination: PBS has no portable pre-walltime signal; only SLURM and direct mode support it")
    prepare, submit = render_scripts(spec, rundir=rundir, out_file=out_file, exit_file=exit_file, job_name=name,
                                     label=f"{call.job_key}/{step.name}", signal=signal,
                                     job_env=job_environment(call.env, extra_env))
    log.note(f"job_runner {version}: {spec.mode} mode on {target.name}, rundir {rundir}")
    outputs = {"rundir": rundir, "mode": spec.mode, "jobid": "", "job_state": "", "exit_code": ""}
    attempt = int(env.get("PW_WORKFLOW_STEP_CURRENT_RETRY", "0") or 0)
    if spec.mode == "ssh":
        timeout = parse_duration(evaluate(step.timeout, call.context()))
        signal_at = (term[0], max(0.0, timeout - term[1])) if term and timeout else None
        return await _run_direct(call, target, spec, prepare, rundir, out_file, env, outputs, log, signal_at)
    sub = Submission(spec, BACKENDS[spec.mode](), target, name, prepare, rundir, out_file, exit_file, outputs, local, attempt)
    try:
        return await _run_batch(call, sub, log)
    finally:  # the job's environment (secrets included) lives only while the job may (re)start
        if not sub.keep_env:
            await to_the_end(_remove(target, env_file(rundir, name), log))


@dataclass
class Submission:
    """One batch step's job: what sbatch/qsub gets, where it runs and writes, what the step reports."""

    spec: JobSpec
    backend: Any
    target: Any
    name: str
    """The unique job name (job_name_for): a restarted wfrun finds the job by it."""
    prepare: str
    rundir: str
    out_file: str
    exit_file: str
    outputs: dict
    local: bool
    attempt: int
    keep_env: bool = False
    """The step ends while its job may still be queued or start later (a submit that may have reached the
    controller, a scheduler that did not answer, a cancel that failed): its environment file must stay for
    it. ``wfrun resume`` or ``wfrun cancel`` removes it once the job's row ends."""


async def _prepare(target: Any, prepare: str, rundir: str, log: StepLog, hurry: asyncio.Event | None = None) -> tuple[int, list[str]]:
    lines: list[str] = []

    def collect(line: str) -> None:
        lines.append(line)
        if not line.startswith("@@wfrun-jobid "):
            log.line(line)

    command = StepCommand(script=prepare, env={}, cwd="/", outputs_file="/dev/null", grace=5.0, hurry=hurry)
    result = await target.run(command, collect)
    return result.exit_code, lines


async def _run_direct(
    call: StepCall, target: Any, spec: JobSpec, prepare: str, rundir: str, out_file: str, env: dict, outputs: dict,
    log: StepLog, signal_at: tuple[int, float] | None,
) -> StepOutcome:
    code, _ = await _prepare(target, prepare, rundir, log)
    if code != 0:
        return StepOutcome(st.FAILED, code, outputs, f"job_runner: preparing {rundir} failed (exit code {code})")
    script = f"./run.sh 2>&1 | tee {shlex.quote(out_file)}\ncode=${{PIPESTATUS[0]}}\ntouch job.ended\nexit $code\n"
    command = StepCommand(script=script, env={k: v for k, v in env.items() if k != "OUTPUTS"}, cwd=rundir,
                          outputs_file="/dev/null", grace=call.grace, hurry=call.hurry,
                          signal_at=signal_at[1] if signal_at else None, signal=signal_at[0] if signal_at else 15)
    try:
        if call.is_local(target):  # a local job: its CPUs, memory and GPUs from the pool, as a run: step's
            async with call.held_locally() as devices:
                for name, value in devices.items():
                    command.env.setdefault(name, value)
                result = await target.run(command, log.line)
        else:
            result = await target.run(command, log.line)
    except asyncio.CancelledError:
        await asyncio.shield(after_cancel(target, rundir, log))
        raise
    import socket

    node = socket.gethostname() if call.is_local(target) else target.name.split("@")[-1].split(":")[0]
    outputs.update(exit_code=str(result.exit_code), job_state="COMPLETED" if result.exit_code == 0 else "FAILED", node=node)
    if result.exit_code == 0:
        return StepOutcome(st.COMPLETED, 0, outputs)
    return StepOutcome(st.FAILED, result.exit_code, outputs, result.message or f"the script exited with code {result.exit_code}")


async def _run_batch(
    call: StepCall, sub: Submission, log: StepLog,
) -> StepOutcome:
    spec, outputs = sub.spec, sub.outputs
    prior = call.prior_batch()
    fresh = sub.prepare
    for launch in range(spec.relaunches + 1):
        # A new step attempt counts its starts from 1; a relaunch (and a resume) goes on counting.
        sub.prepare = fresh if launch or prior is not None else reset_attempts_command(attempt_file(sub.rundir, sub.name)) + "\n" + fresh
        final, jobid, outcome = await _submit_and_watch(call, sub, log, prior)
        prior = None
        if outcome is not None:
            return outcome
        if final.state in RELAUNCH_STATES and launch < spec.relaunches:
            log.line(f"wfrun: batch job {jobid} ended {final.state}; relaunching ({launch + 1}/{spec.relaunches})")
            continue
        break
    return _outcome(spec, jobid, final, outputs)


async def _submit_and_watch(
    call: StepCall, sub: Submission, log: StepLog, prior: Any,
) -> tuple[Final | None, str, StepOutcome | None]:
    """Submit (or re-attach to) one batch job and wait for its end: (final, job id, failure before it ran)."""
    spec, backend, target, name, rundir, outputs = sub.spec, sub.backend, sub.target, sub.name, sub.rundir, sub.outputs
    store = call.batch
    sub.keep_env = prior is not None  # until the scheduler says whether the job exists
    jobid = await _reattach(prior, target, backend, log) if prior is not None else None
    sub.keep_env = False
    batch_id = prior.id if prior is not None else None
    watcher = call.service(("batch", target.name, spec.mode),
                       lambda: BatchWatcher(target, backend, "/", spec.poll_interval, log.note))
    if jobid is None:
        if store is not None:  # write-ahead: the intent is durable before sbatch/qsub runs
            batch_id = store.batch_intent(attempt=sub.attempt, host=target.name, scheduler=spec.mode, job_name=name, rundir=rundir)
        submitting = asyncio.ensure_future(_prepare(target, sub.prepare, rundir, log, call.hurry))
        try:
            # Shielded: killing the prepare command mid-sbatch could leave a job in the queue
            # that nobody knows of. On cancel it gets a bounded time to finish instead.
            code, lines = await asyncio.shield(submitting)
        except asyncio.CancelledError:
            await to_the_end(cancel_submit(submitting, watcher, target, backend, name, rundir, log, call.hurry,
                                             store, batch_id))
            raise
        jobid = jobid_in(lines)
        if code != 0 or not jobid:
            # The row stays open: sbatch can fail (a timeout) after the controller took the job,
            # so a resume looks for it by name before submitting again.
            message = f"job_runner: {backend.submit_name} failed: {lines[-1] if lines else f'exit code {code}'}"
            sub.keep_env = await _may_be_queued(target, backend, name)
            return None, "", StepOutcome(st.FAILED, code or 1, outputs, message)
        _crash_point("before-jobid-recorded")
        if store is not None:
            store.batch_submitted(batch_id, jobid.split(".")[0])
    short_id = jobid.split(".")[0]
    outputs["jobid"] = short_id
    call.set_output("jobid", short_id)  # visible to needs.<self> while the job runs
    if prior is None:
        log.line(f"{spec.mode.upper()} job submitted: {short_id}")
    streamer = call.service(("stream", target.name), lambda: Streamer(target, sub.local, "/"))
    followed = streamer.follow(sub.out_file, log.line)
    warned: set[str] = set()

    def on_change(text: str) -> None:
        log.line(f"wfrun: {text}")
        reason = text[text.rfind("(") + 1:-1] if text.endswith(")") else ""
        warning = never_starts(short_id, reason) if reason else None
        if warning is not None and warning not in warned:
            warned.add(warning)
            log.line(f"wfrun: {warning}")
        if store is not None and batch_id is not None:
            store.batch_state(batch_id, text.rsplit(": ", 1)[-1].split()[0])

    future = watcher.watch(short_id, sub.exit_file, "--array" in spec.slurm, spec.poll_interval, on_change=on_change)
    try:
        final: Final = await asyncio.shield(future)
    except asyncio.CancelledError:
        canceled = await to_the_end(cancel_batch(watcher, short_id, target, rundir, log))
        sub.keep_env = not canceled
        if canceled and store is not None and batch_id is not None:
            # Finished for good: a resume runs the step again instead of re-attaching to the canceled job.
            store.batch_finished(batch_id, "CANCELLED", None)
        await to_the_end(streamer.stop(followed))
        raise
    await streamer.stop(followed)
    await _mark_ended(target, rundir)
    if store is not None and batch_id is not None:
        store.batch_finished(batch_id, final.state, final.exit_code)
    return final, short_id, None


async def _may_be_queued(target: Any, backend: Any, name: str) -> bool:
    """After a failed sbatch/qsub: does the scheduler hold a job of this name after all (or cannot it say)?

    A rejected job (a bad partition: the common case) leaves nothing behind, so its environment
    file goes; a submit that timed out after the controller took the job keeps it for that job.
    """
    try:
        return await look_up(target, backend, name) is not None
    except (TargetError, OSError):
        return True


async def _reattach(prior: Any, target: Any, backend: Any, log: StepLog) -> str | None:
    """The batch job a killed wfrun submitted for this step, if it exists: watch it instead of resubmitting."""
    if prior.jobid:
        log.line(f"wfrun: re-attaching to batch job {prior.jobid} submitted before the resume")
        return prior.jobid
    # The intent was recorded but wfrun died before the job id was: look the job up by its unique name.
    try:
        found = await look_up(target, backend, prior.job_name)
    except TargetError as exc:
        raise TargetError(f"job_runner: cannot tell whether batch job {prior.job_name} was submitted before the crash "
                          f"({backend.kind} look-up failed: {exc}); not submitting it again — resume once the scheduler answers"
                          ) from None
    if found:
        log.line(f"wfrun: found batch job {found} ({prior.job_name}) submitted before the crash; re-attaching")
    return found


def _crash_point(name: str) -> None:
    """Test hook: WFRUN_TEST_CRASH=<name> kills wfrun with SIGKILL here (write-ahead tests)."""
    import os
    import signal

    if os.environ.get("WFRUN_TEST_CRASH") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _outcome(spec: JobSpec, jobid: str, final: Final, outputs: dict) -> StepOutcome:
    outputs.update(job_state=final.state, exit_code="" if final.exit_code is None else str(final.exit_code), node=final.node)
    what = f"batch job {jobid}"
    how = f" ({final.detail})" if final.detail else ""  # how the end was learnt, when not obvious (PBS)
    if final.tasks:
        failed = sorted((t for t, (s, c) in final.tasks.items() if s != "COMPLETED" or c not in (0, None)), key=_task_key)
        outputs["tasks"] = str(len(final.tasks))
        outputs["failed_tasks"] = ",".join(failed)
        if failed:
            detail = ", ".join(f"{t} {final.tasks[t][0]} (exit {final.tasks[t][1]})" for t in failed)
            return StepOutcome(st.FAILED, final.exit_code or 1, outputs, f"{what}: {len(failed)} of {len(final.tasks)} array tasks failed: {detail}")
        return StepOutcome(st.COMPLETED, 0, outputs)
    if final.state == "COMPLETED" and final.exit_code in (0, None):
        return StepOutcome(st.COMPLETED, 0, outputs)
    if final.state in SLURM_GRACEFUL:
        why = "reached its time limit (TIMEOUT)" if final.state == "TIMEOUT" else "was cancelled outside wfrun (CANCELLED)"
        return StepOutcome(st.COMPLETED, 0, outputs, f"{what} {why}; job_runner {spec.version} treats this as a graceful end{how}")
    code = final.exit_code
    state = final.state if final.state in SLURM_FAILURE or final.state == "FAILED" else final.state
    return StepOutcome(st.FAILED, code if code else 1, outputs,
                       f"{what} ended {state}" + (f" with exit code {code}" if code is not None else "") + how)


def _task_key(task: str) -> tuple:
    tail = task.split("_", 1)[-1]
    return (int(tail) if tail.isdigit() else 0, task)


async def _remove(target: Any, path: str, log: StepLog) -> None:
    try:
        code, lines = await run_command(target, f"rm -f {shlex.quote(path)}", "/", timeout=30)
    except Exception as exc:  # noqa: BLE001 — TimeoutError, TargetError
        code, lines = 1, [str(exc)]
    if code != 0:
        log.note(f"could not remove {path} ({' '.join(lines[-1:]) or code}): remove it by hand, it holds the job's environment")


async def _mark_ended(target: Any, rundir: str) -> None:
    try:
        await run_command(target, "touch job.ended", rundir, timeout=30)
    except Exception:  # noqa: BLE001 — a marker is a courtesy to other jobs, not part of the outcome
        pass
