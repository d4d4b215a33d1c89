"""``wfrun sessions``: the open sessions of every live run — name, link, service, where the tunnel starts."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from workflow_runner.commands.statusfmt import table
from workflow_runner.state.store import RunStore
from workflow_runner.ui.text import VisibleOut, visible


def live_sessions(store: RunStore) -> list[dict]:
    """Sessions recorded open whose run's wfrun process is still alive (a killed one held the tunnels)."""
    out: list[dict] = []
    live: dict[int, bool] = {}
    for row in store.open_sessions():
        if row.run not in live:
            run = store.refresh_liveness(row.run)
            live[row.run] = run is not None and not run.final
        if live[row.run]:
            out.append({"run": row.run, **row.as_json()})
    return out


def show_sessions(store: RunStore, *, as_json: bool = False, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    rows = live_sessions(store)
    if as_json:
        out.write(json.dumps(rows, indent=2) + "\n")
        return 0
    if not rows:
        out.write("no open sessions\n")
        return 0
    out = VisibleOut(out)
    lines = [["RUN", "SESSION", "URL", "SERVICE", "ON", "STATE"]]
    for r in rows:
        state = r["state"] + (f" ({r['status']})" if r["status"] else "")
        lines.append([str(r["run"]), visible(r["name"]), visible(r["url"]), visible(r["remote"]), visible(r["via"]), state])
    table(lines, out)
    return 0
