"""Validate-time errors for sessions, each naming its key: a ``sessions.X`` that ``sessions:`` does not declare,
and an ``update-session`` whose literal ``remotePort``/``localPort`` is not a port or whose ``with:`` has a key it
does not take. Values with ``${{ }}`` are checked when the step runs (actions/update_session.py).
"""

from __future__ import annotations

from typing import Any

from workflow_runner.errors import SchemaError, WorkflowError, did_you_mean
from workflow_runner.expressions import Template
from workflow_runner.model import Step, Workflow, job_templates

UPDATE_SESSION = "parallelworks/update-session"


def check_sessions(wf: Workflow) -> list[WorkflowError]:
    errors: list[WorkflowError] = []
    declared = {str(k) for k in wf.sessions}
    for job in wf.jobs.values():
        for template, _ in job_templates(job):
            for path, loc in template.references():
                if path[0] == "sessions" and len(path) > 1 and path[1] not in declared:
                    errors.append(SchemaError(
                        f"sessions.{path[1]} is not declared under the top-level 'sessions:'"
                        f"{did_you_mean(path[1], declared)} (add '{path[1]}:' there)", location=loc))
        for step in job.steps:
            if step.uses is not None and str(step.uses).strip() == UPDATE_SESSION:
                errors += _check_with(wf, step)
    return errors


def _check_with(wf: Workflow, step: Step) -> list[WorkflowError]:
    from workflow_runner.sessions.spec import WITH_KEYS, SpecError, port_number

    with_: Any = step.with_ if isinstance(step.with_, dict) else {}
    errors: list[WorkflowError] = []
    where = wf.locate(step.path + ("with",)) or wf.locate(step.path)
    for key in with_:
        if key not in WITH_KEYS:
            errors.append(SchemaError(f"{UPDATE_SESSION} has no input '{key}'{did_you_mean(str(key), WITH_KEYS)}"
                                      f" (it takes {', '.join(WITH_KEYS)})",
                                      location=wf.locate(step.path + ("with", key), key=True) or where))
    if "remotePort" not in with_:
        errors.append(SchemaError(f"{UPDATE_SESSION} needs 'remotePort' (the service's port) in with:", location=where))
    for key, zero in (("remotePort", False), ("localPort", True), ("local_port", True)):
        value = with_.get(key)
        if key not in with_ or isinstance(value, Template) or (zero and value in (None, "")):
            continue
        try:
            port_number(value, key, allow_zero=zero)
        except SpecError as exc:
            errors.append(SchemaError(str(exc), location=wf.locate(step.path + ("with", key)) or where))
    return errors
