"""Built-in actions by name: ``parallelworks/…`` built-ins and definitions bound to Python
(``wfrun: {builtin: NAME}``, such as job_runner).

The table holds ``module:function`` strings, imported on first use: jinja2 and friends load
only when a run uses them, and no implementation module imports this one back (no decorator
registry, so no import cycle between the table and what it lists).
"""

from __future__ import annotations

import importlib
from typing import Any, Awaitable, Callable

from workflow_runner.engine.stepcall import StepCall, StepOutcome

Builtin = Callable[[StepCall, dict[str, Any], Any], Awaitable[StepOutcome]]
"""(call, with: values, the definition bound to it or None) → the step's outcome."""

BUILTINS: dict[str, str] = {
    "job_runner.v4": "workflow_runner.actions.job_runner:job_runner_v4",
    "job_runner.v3": "workflow_runner.actions.job_runner:job_runner_v3",
    "parallelworks/checkout": "workflow_runner.actions.checkout:run_checkout",
    "parallelworks/cancel-jobs": "workflow_runner.actions.cancel_jobs:cancel_jobs",
    "parallelworks/update-session": "workflow_runner.actions.update_session:update_session",
}


def builtin(name: str) -> Builtin | None:
    """The implementation of built-in ``name``, or None when this wfrun has none."""
    where = BUILTINS.get(name)
    if where is None:
        return None
    module, function = where.split(":")
    return getattr(importlib.import_module(module), function)
