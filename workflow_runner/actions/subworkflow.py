"""A called workflow (``workflow/<name>``, a marketplace definition, a cached GitHub one) as a nested run.

The nested run shares the run's targets, slots, cancellation and reporter (the engine builds it:
``StepCall.start_nested_run``); its jobs show as ``job/step/subjob``. ``with:`` is resolved like
an inputs file against the called workflow's input tree, and the union of its jobs' outputs (or
its declared ``outputs:``) become the step's.
"""

from __future__ import annotations

from typing import Any

from workflow_runner import inputs as inputs_mod
from workflow_runner import limits
from workflow_runner.engine import status as st
from workflow_runner.engine.context import as_text, evaluate
from workflow_runner.engine.stepcall import StepCall, StepOutcome
from workflow_runner.errors import InputError, WorkflowError
from workflow_runner.expressions import Context
from workflow_runner.uses import resolve as uses_resolve
from workflow_runner.uses.with_check import read_undeclared


async def run_called(called: Any, call: StepCall, with_values: dict) -> StepOutcome:
    step, wf = call.step, call.workflow
    called_path = called.path.resolve() if called.path else None
    if called_path is not None and called_path in call.calls:
        raise uses_resolve.self_call(step.uses or "", call.calls, called_path, call.locate("uses"))
    deep = limits.too_deep(step.uses or "", len(call.calls) + 1, call.locate("uses"))
    if deep is not None:
        raise deep
    values = {k: v for k, v in with_values.items() if not str(k).startswith("$")}
    sources = inputs_mod.Sources([(f"{wf.file}: with: of step '{step.name}'", values)])
    try:
        resolved = inputs_mod.resolve(called, sources)
    except WorkflowError as exc:
        raise InputError(f"uses: {step.uses}: {exc.message}", location=call.locate("with")) from None
    call.add_secrets(resolved.secrets)
    passed = read_undeclared(called) & set(values)
    resolved.values.update({k: values[k] for k in passed})  # read though undeclared: pass through
    for warning in resolved.warnings:
        if not any(f"unknown input '{k}'" in warning for k in passed):
            call.log.note(f"warning: {warning}")
    outcome = await call.start_nested_run(called, resolved, called_path)
    outputs = outcome.outputs
    if called.outputs:
        ctx = Context(values={"inputs": resolved.values, "needs": {n: outcome.job_view(n) for n in called.jobs}})
        outputs = {str(k): as_text(evaluate(v, ctx)) for k, v in called.outputs.items()}
    if outcome.status == st.COMPLETED:
        return StepOutcome(st.COMPLETED, 0, outputs)
    if outcome.status == st.CANCELED:
        return StepOutcome(st.CANCELED, None, outputs, "the called workflow was canceled")
    first = outcome.failures[0] if outcome.failures else None
    message = f"{first[0]} / {first[1]}: {first[2]}" if first else "the called workflow failed"
    return StepOutcome(st.FAILED, 1, outputs, message)
