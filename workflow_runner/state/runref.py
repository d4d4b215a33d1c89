"""A run named on the command line: its number, or ``last``; a clear error when there is no such run.

In ``state`` (not ``commands``) because ``wfrun resume`` and ``wfrun serve`` name runs the same way.
"""

from __future__ import annotations

from workflow_runner.errors import WorkflowError
from workflow_runner.state.rows import RunRow
from workflow_runner.state.store import RunStore


def resolve_run(store: RunStore, run: int | str) -> RunRow:
    """The run numbered ``run`` (or the newest for 'last'), or a WorkflowError saying what exists."""
    newest = store.newest_run()
    text = str(run).strip()
    if text.lower() in ("last", "latest"):
        if newest is None:
            raise WorkflowError(f"no runs recorded yet (in {store.path})")
        number = newest
    else:
        try:
            number = int(text)
        except ValueError:
            raise WorkflowError(f"run must be a run number or 'last', not '{text[:40]}'") from None
    # Beyond SQLite's 64-bit integers no run can exist (and the query would raise OverflowError).
    row = store.get_run(number) if -(2**63) <= number < 2**63 else None
    if row is None:
        known = f"newest is {newest}" if newest is not None else f"no runs recorded yet in {store.path}"
        raise WorkflowError(f"run {number} not found ({known})")
    return row
