"""``parallelworks/cancel-jobs``: cancel running instances of the jobs named in ``with: jobs``."""

from __future__ import annotations

from typing import Any

from workflow_runner.engine import status as st
from workflow_runner.engine.stepcall import StepCall, StepOutcome
from workflow_runner.errors import UsesError


async def cancel_jobs(call: StepCall, with_values: dict[str, Any], definition: Any = None) -> StepOutcome:
    names = with_values.get("jobs") or []
    if isinstance(names, str):
        names = [names]
    names = [str(n) for n in names]
    unknown = [n for n in names if n not in call.workflow.jobs]
    if unknown:
        raise UsesError(f"cancel-jobs: unknown job(s): {', '.join(unknown)}", location=call.locate("with"))
    if call.job_name in names:
        call.cancel_self(f"canceled by step '{call.step.name}'")
    hit = call.cancel_jobs([n for n in names if n != call.job_name], f"canceled by {call.job_key}/{call.step.name}")
    call.log.line(f"canceled: {', '.join(names)}" + (f" (running: {', '.join(hit)})" if hit else ""))
    return StepOutcome(st.COMPLETED, 0, {})
