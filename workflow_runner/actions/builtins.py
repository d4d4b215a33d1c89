"""Marketplace definitions bound to Python (``wfrun: {builtin: NAME}``), such as job_runner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

from workflow_runner.errors import UsesError

if TYPE_CHECKING:
    from workflow_runner.engine.job import JobRun, Placement, StepLog, StepOutcome
    from workflow_runner.model import Step, Workflow

Builtin = Callable[..., Awaitable["StepOutcome"]]
REGISTRY: dict[str, Builtin] = {}


def register(name: str) -> Callable[[Builtin], Builtin]:
    def deco(fn: Builtin) -> Builtin:
        REGISTRY[name] = fn
        return fn

    return deco


async def run_builtin_action(
    definition: "Workflow", job: "JobRun", step: "Step", place: "Placement", env: dict[str, str], with_values: dict[str, Any], log: "StepLog"
) -> "StepOutcome":
    _load_builtins()
    impl = REGISTRY.get(definition.builtin or "")
    if impl is None:
        raise UsesError(
            f"'{step.uses}' is bound to the built-in '{definition.builtin}', which this wfrun does not provide",
            location=job.engine.workflow.locate(step.path + ("uses",)),
        )
    return await impl(definition, job, step, place, env, with_values, log)


def _load_builtins() -> None:
    """Import the modules that register built-ins (kept lazy: jinja2 and friends load only when used)."""
    import workflow_runner.actions.job_runner  # noqa: F401
