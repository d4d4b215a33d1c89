"""Checks of ``uses:`` inputs that can be made before anything runs.

A job_runner step whose ``with:`` depends only on inputs and matrix values is
resolved and validated up front, so a directive injection (a partition with a
newline or ``;``) or a bad type is exit 2 before the first job starts — not a
failure halfway through a run. Steps whose ``with:`` reads ``needs``/``steps``
are checked when they run.
"""

from __future__ import annotations

from pathlib import Path

from workflow_runner.errors import WorkflowError
from workflow_runner.expressions import Context, render, walk_templates
from workflow_runner.graph import Plan

VERSIONS = {"job_runner.v4": "v4.0", "job_runner.v3": "v3.5"}


def preflight(plan: Plan, inputs: dict) -> list[WorkflowError]:
    from workflow_runner.validate import load_workflow

    from workflow_runner.uses import agents

    wf = plan.workflow
    errors: list[WorkflowError] = agents.refused_runs(wf, plan.all_instances(), inputs)
    base = wf.path.parent if wf.path else Path.cwd()
    seen: set[tuple] = set()
    for inst in plan.all_instances():
        for step in inst.job.steps:
            if not step.uses or not step.uses.startswith("marketplace/"):
                continue
            contexts = {path[0] for t in walk_templates(step.with_) for path, _ in t.references()}
            if not contexts <= {"inputs", "matrix"}:
                continue
            from workflow_runner.uses import resolve as uses_resolve  # a run without marketplace steps never loads it

            loc = wf.locate(step.path + ("with",)) or wf.locate(step.path)
            try:
                ref = uses_resolve.resolve(step.uses, base_dir=base, location=loc)
                called = load_workflow(ref.path) if ref.path else None
                version = VERSIONS.get(called.builtin or "") if called else None
                if version is None:
                    continue
                values = render(step.with_, Context(values={"inputs": inputs, "matrix": inst.matrix or {}}))
                key = (step.path, repr(values))
                if key in seen:
                    continue
                seen.add(key)
                from workflow_runner.actions.job_runner import resolve_spec

                resolve_spec(called, version, values if isinstance(values, dict) else {}, loc)
            except WorkflowError as exc:
                errors.append(exc)
    return errors
