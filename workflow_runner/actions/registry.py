"""The actions a run can call, handed to the engine at start-up (the engine never imports actions).

``launch`` builds the table with :func:`default_actions` and puts it in ``Shared.actions``;
the engine calls :meth:`Actions.run_uses` for every ``uses:`` step. Issue 12 turns this into
the typed table of the narrow step interface (engine/stepcall.py); this first form only
breaks the engine → actions import.
"""

from __future__ import annotations

from typing import Any


class Actions:
    """Runs a ``uses:`` step: a called workflow, a marketplace definition or a built-in."""

    async def run_uses(self, job: Any, step: Any, place: Any, env: dict[str, str], log: Any) -> Any:
        from workflow_runner.actions.runner import run_uses  # lazy: jinja2 and friends load only when used

        return await run_uses(job, step, place, env, log)


def default_actions() -> Actions:
    return Actions()
