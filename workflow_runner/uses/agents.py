"""``parallelworks/scheduler-agent`` and ``parallelworks/wait-for-agent``: refused precisely, as early as can be known.

On the platform, scheduler-agent submits a batch job that starts the platform's agent on
the compute node; the agent registers with the platform's control plane, and
wait-for-agent returns the host and port of the platform's relay to it, which later
steps use as ``ssh: remoteHost``. Nothing of that exists between this machine and a
cluster reached over SSH: the relay is the platform's, and the port it hands out is not
the node's sshd. A look-alike (hold an allocation with ``sleep``, hand out ``node:22``)
would work only where the site lets users SSH into allocated nodes, and would leave
allocations behind whenever wfrun is killed — so wfrun does not pretend.

When the step runs unconditionally, ``wfrun validate`` (and every run) refuses the
workflow (exit 2). When it sits behind an ``if:`` — the corpus's script_submitter runs
it only with ``use_scheduler_agent: true`` — validate warns, the workflow's other path
runs as usual, and a run whose inputs make the agent step run is refused before
anything starts.
"""

from __future__ import annotations

from typing import Any, Iterator

from workflow_runner.errors import UsesError, WorkflowError
from workflow_runner.expressions import Context, Template, render
from workflow_runner.model import Job, Step, Workflow

AGENT_ACTIONS = frozenset({"parallelworks/scheduler-agent", "parallelworks/wait-for-agent"})

WHY = ("'{uses}' cannot run outside the platform: the platform's scheduler agent is reached through the "
       "platform's own relay (wait-for-agent returns its host and port), which an SSH-reachable cluster does not "
       "have; run the script as a batch job with 'uses: marketplace/job_runner/v4.0' and 'scheduler: true' instead")


def is_agent(step: Step) -> bool:
    return bool(step.uses) and str(step.uses).strip() in AGENT_ACTIONS


def agent_steps(wf: Workflow) -> Iterator[tuple[Job, Step]]:
    for job in wf.jobs.values():
        for step in job.steps:
            if is_agent(step):
                yield job, step


def validate_step(wf: Workflow, job: Job, step: Step) -> tuple[WorkflowError | None, str | None]:
    """(error, warning) for an agent step at ``wfrun validate``: an error when it always runs."""
    loc = wf.locate(step.path + ("uses",))
    why = WHY.format(uses=str(step.uses).strip())
    if _known(job.if_, {}) is True and _known(step.if_, {}) is True:  # no if:, or one that holds whatever the inputs
        return UsesError(why, location=loc), None
    return None, (f"{loc}: {why}. It runs only when its if: holds; a run whose inputs make it run is refused "
                  "before anything starts")


def refused_runs(wf: Workflow, instances: Any, inputs: dict) -> list[WorkflowError]:
    """Before a run: an agent step that these inputs make run (its job's and its own ``if:`` hold) is an error."""
    errors: list[WorkflowError] = []
    seen: set[tuple] = set()
    for inst in instances:
        for step in inst.job.steps:
            if not is_agent(step) or step.path in seen:
                continue
            values = {"inputs": inputs, "matrix": inst.matrix or {}}
            if _known(inst.job.if_, values) and _known(step.if_, values):
                seen.add(step.path)
                why = WHY.format(uses=str(step.uses).strip())
                errors.append(UsesError(f"{why} (this run's inputs make job '{inst.job.name}' run this step)",
                                        location=wf.locate(step.path + ("uses",))))
    return errors


def _known(condition: Any, values: dict) -> bool | None:
    """True/False when ``condition`` (an ``if:``) can be decided from ``values`` alone, else None."""
    if condition is None:
        return True
    if isinstance(condition, bool):
        return condition
    if not isinstance(condition, Template):
        return bool(condition)
    if any(path[0] not in values for path, _ in condition.references()):
        return None
    try:
        result = render(condition, Context(values=dict(values)))
    except Exception:  # a status function without a status, a bad value: undecided, checked when it runs
        return None
    if isinstance(result, str):
        return result.strip().lower() not in ("", "false", "0", "null")
    return bool(result)
