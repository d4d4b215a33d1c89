"""Running a ``uses:`` step: resolve what it names (pinning a GitHub reference found only now), then
run it — a built-in, a definition bound to Python, or a called workflow (actions/subworkflow.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workflow_runner.actions.bindings import builtin
from workflow_runner.actions.subworkflow import run_called
from workflow_runner.engine.stepcall import StepCall, StepOutcome
from workflow_runner.errors import UsesError
from workflow_runner.expressions import render
from workflow_runner.uses import resolve as uses_resolve


async def run_uses(call: StepCall) -> StepOutcome:
    step, wf = call.step, call.workflow
    loc = call.locate("uses")
    with_values = render(step.with_, call.context(call.env)) if step.with_ else {}
    if not isinstance(with_values, dict):
        raise UsesError("with: must be a mapping", location=call.locate("with"))
    base = wf.path.parent if wf.path else Path.cwd()
    ref = uses_resolve.resolve(step.uses or "", base_dir=base, location=loc, with_=with_values)
    if ref.kind == "github" and ref.unavailable:  # not pinned before the run (found only now): fetch it now
        await _pin_github(step.uses or "", loc)
        ref = uses_resolve.resolve(step.uses or "", base_dir=base, location=loc, with_=with_values)
    if ref.unavailable:
        raise UsesError(ref.unavailable, location=loc)
    if ref.kind == "builtin":
        impl = builtin(ref.text)
        if impl is None:
            raise UsesError(f"built-in '{ref.text}' is not available", location=loc)
        return await impl(call, with_values, None)
    from workflow_runner.validate import load_workflow

    called = load_workflow(ref.path, "action" if ref.kind == "marketplace" else "workflow")
    if called.builtin:
        impl = builtin(called.builtin)
        if impl is None:
            raise UsesError(f"'{step.uses}' is bound to the built-in '{called.builtin}', which this wfrun does not provide",
                            location=loc)
        return await impl(call, with_values, called)
    return await run_called(called, call, with_values)


async def _pin_github(text: str, loc: Any) -> None:
    from workflow_runner.uses import github

    owner, repo, ref = uses_resolve.github_parts(text.strip(), text.strip()[len("github/"):], loc)
    try:
        await github.pin(github.github_url(owner, repo), ref, what=text.strip())
    except github.GitError as exc:
        raise UsesError(exc.message, location=loc) from None
    github.record_pins()
