"""Running a ``uses:`` step: a called workflow as a nested run, or a built-in.

A called workflow (``workflow/<name>``, a marketplace definition, a cached
GitHub one) runs as a nested RunEngine that shares the run's targets, slots,
cancellation and reporter; its jobs show as ``job/step/subjob``. ``with:`` is
resolved like an inputs file against the called workflow's input tree, and the
union of its jobs' outputs (or its declared ``outputs:``) become the step's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow_runner import inputs as inputs_mod
from workflow_runner import limits
from workflow_runner.uses import resolve as uses_resolve
from workflow_runner.uses.with_check import read_undeclared
from workflow_runner.engine import status as st
from workflow_runner.engine.context import as_text, evaluate
from workflow_runner.errors import InputError, UsesError, WorkflowError
from workflow_runner.expressions import Context, render

if TYPE_CHECKING:
    from workflow_runner.engine.job import JobRun, Placement, StepLog, StepOutcome
    from workflow_runner.model import Step


async def run_uses(job: "JobRun", step: "Step", place: "Placement", env: dict[str, str], log: "StepLog") -> "StepOutcome":

    eng = job.engine
    wf = eng.workflow
    loc = wf.locate(step.path + ("uses",))
    with_values = render(step.with_, job.context(env)) if step.with_ else {}
    if not isinstance(with_values, dict):
        raise UsesError("with: must be a mapping", location=wf.locate(step.path + ("with",)))
    base = wf.path.parent if wf.path else Path.cwd()
    ref = uses_resolve.resolve(step.uses or "", base_dir=base, location=loc, with_=with_values)
    if ref.kind == "github" and ref.unavailable:  # not pinned before the run (found only now): fetch it now
        await _pin_github(step.uses or "", loc)
        ref = uses_resolve.resolve(step.uses or "", base_dir=base, location=loc, with_=with_values)
    if ref.unavailable:
        raise UsesError(ref.unavailable, location=loc)
    if ref.kind == "builtin":
        return await _builtin(ref.text, job, step, place, env, with_values, log)
    from workflow_runner.validate import load_workflow

    called = load_workflow(ref.path, "action" if ref.kind == "marketplace" else "workflow")
    if called.builtin:
        from workflow_runner.actions.builtins import run_builtin_action

        return await run_builtin_action(called, job, step, place, env, with_values, log)
    return await _subworkflow(called, job, step, with_values, log)


async def _pin_github(text: str, loc: Any) -> None:
    from workflow_runner.uses import github

    owner, repo, ref = uses_resolve.github_parts(text.strip(), text.strip()[len("github/"):], loc)
    try:
        await github.pin(github.github_url(owner, repo), ref, what=text.strip())
    except github.GitError as exc:
        raise UsesError(exc.message, location=loc) from None
    github.record_pins()


async def _subworkflow(called: Any, job: "JobRun", step: "Step", with_values: dict, log: "StepLog") -> "StepOutcome":
    from workflow_runner.engine.job import StepOutcome
    from workflow_runner.engine.scheduler import RunEngine
    from workflow_runner.graph import make_plan

    eng = job.engine
    called_path = called.path.resolve() if called.path else None
    if called_path is not None and called_path in eng.calls:
        raise uses_resolve.self_call(step.uses or "", eng.calls, called_path, eng.workflow.locate(step.path + ("uses",)))
    deep = limits.too_deep(step.uses or "", len(eng.calls) + 1, eng.workflow.locate(step.path + ("uses",)))
    if deep is not None:
        raise deep
    values = {k: v for k, v in with_values.items() if not str(k).startswith("$")}
    sources = inputs_mod.Sources([(f"{eng.workflow.file}: with: of step '{step.name}'", values)])
    try:
        resolved = inputs_mod.resolve(called, sources)
    except WorkflowError as exc:
        raise InputError(f"uses: {step.uses}: {exc.message}", location=eng.workflow.locate(step.path + ("with",))) from None
    eng.shared.secrets.extend(s for s in resolved.secrets if s not in eng.shared.secrets)
    passed = read_undeclared(called) & set(values)
    resolved.values.update({k: values[k] for k in passed})  # read though undeclared: pass through
    for warning in resolved.warnings:
        if not any(f"unknown input '{k}'" in warning for k in passed):
            log.note(f"warning: {warning}")
    plan = make_plan(called, resolved.values, eng.shared.secrets)
    sub_dir = eng.run_dir.child(f"{job.key}-{step.key}")
    nested = RunEngine(plan, resolved, sub_dir, eng.shared, parent_run_dir=eng.run_dir,
                       prefix=f"{job.key}/{step.key}/", run_id=eng.run_id, prior=eng.prior,
                       calls=(*eng.calls, called_path) if called_path else eng.calls)
    outcome = await nested.run()
    eng.failures.extend(outcome.failures)
    outputs = outcome.outputs
    if called.outputs:
        ctx = Context(values={"inputs": resolved.values, "needs": {n: nested.job_view(n) for n in called.jobs}})
        outputs = {str(k): as_text(evaluate(v, ctx)) for k, v in called.outputs.items()}
    if outcome.status == st.COMPLETED:
        return StepOutcome(st.COMPLETED, 0, outputs)
    if outcome.status == st.CANCELED:
        return StepOutcome(st.CANCELED, None, outputs, "the called workflow was canceled")
    first = outcome.failures[0] if outcome.failures else None
    message = f"{first[0]} / {first[1]}: {first[2]}" if first else "the called workflow failed"
    return StepOutcome(st.FAILED, 1, outputs, message)


async def _builtin(name: str, job: "JobRun", step: "Step", place: "Placement", env: dict[str, str], with_values: dict, log: "StepLog") -> "StepOutcome":
    from workflow_runner.engine.job import StepOutcome

    if name == "parallelworks/cancel-jobs":
        names = with_values.get("jobs") or []
        if isinstance(names, str):
            names = [names]
        names = [str(n) for n in names]
        unknown = [n for n in names if n not in job.engine.workflow.jobs]
        if unknown:
            raise UsesError(f"cancel-jobs: unknown job(s): {', '.join(unknown)}", location=job.engine.workflow.locate(step.path + ("with",)))
        if job.job.name in names:
            job.canceled = True
            job.reason = job.reason or f"canceled by step '{step.name}'"
        hit = job.engine.cancel_jobs([n for n in names if n != job.job.name], f"canceled by {job.key}/{step.name}")
        log.line(f"canceled: {', '.join(names)}" + (f" (running: {', '.join(hit)})" if hit else ""))
        return StepOutcome(st.COMPLETED, 0, {})
    if name == "parallelworks/checkout":
        from workflow_runner.actions.checkout import run_checkout

        return await run_checkout(job, step, place, env, with_values, log)
    raise UsesError(f"built-in '{name}' is not available", location=job.engine.workflow.locate(step.path + ("uses",)))
