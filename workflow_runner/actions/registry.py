"""The actions a run can call, handed to the engine at start-up (the engine never imports actions).

``launch`` builds the table with :func:`default_actions` and puts it in ``Shared.actions``;
the engine calls :meth:`Actions.run_uses` with an ``engine.stepcall.StepCall`` for every
``uses:`` step. Nothing here is imported back by an action, so the table adds no cycle.
"""

from __future__ import annotations

from workflow_runner.engine.stepcall import StepCall, StepOutcome


class Actions:
    """Runs a ``uses:`` step: a called workflow, a marketplace definition or a built-in (engine.stepcall.ActionTable)."""

    async def run_uses(self, call: StepCall) -> StepOutcome:
        from workflow_runner.actions.uses_step import run_uses  # lazy: jinja2 and friends load only when used

        return await run_uses(call)


def default_actions() -> Actions:
    return Actions()
