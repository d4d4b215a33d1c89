"""``wfrun runs``: the newest runs, one line each (or JSON)."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from workflow_runner.commands.statusfmt import fmt_duration, fmt_time, table
from workflow_runner.state.queries import run_dict
from workflow_runner.state.store import RunStore
from workflow_runner.ui.text import VisibleOut, visible


def show_runs(store: RunStore, *, limit: int = 20, as_json: bool = False, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    rows = [r if r.final else (store.refresh_liveness(r.id) or r) for r in store.list_runs(limit)]
    if as_json:
        out.write(json.dumps([run_dict(r) for r in rows], indent=2) + "\n")
        return 0
    if not rows:
        out.write(f"no runs yet (run store: {store.path})\n")
        return 0
    out = VisibleOut(out)  # workflow names are the user's: no terminal escapes reach the screen
    rows_out = [["RUN", "WORKFLOW", "STATUS", "STARTED", "DURATION", "DIR"]]
    for r in rows:
        status = r.status + (" (cancel requested)" if r.cancel_requested and not r.final else "")
        rows_out.append([str(r.id), visible(r.workflow), status, fmt_time(r.started or r.created), fmt_duration(r.duration), r.run_dir or "-"])
    table(rows_out, out)
    return 0
