"""The run store's ``sessions`` table: one row per run and session name (schema v3, ``state/schema.py``).

Written from the event stream (``SessionChanged`` → ``engine/record.py``) through the write queue; read by
``wfrun status`` (``--json``: ``sessions``), ``wfrun sessions`` and ``wfrun resume`` (which re-opens them).
"""

from __future__ import annotations

import json
from typing import Any

from workflow_runner.records import ReadOnly, frozen

OPEN_STATES = ("starting", "open", "reconnecting")

SESSION_CHANGED = (
    "INSERT INTO sessions (run, name, job, step, url, local_port, remote, via, state, status, redirect, message, spec,"
    " opened, changed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (run, name) DO UPDATE SET job = excluded.job, step = excluded.step, url = excluded.url,"
    " local_port = excluded.local_port, remote = excluded.remote, via = excluded.via, state = excluded.state,"
    " status = excluded.status, redirect = excluded.redirect, message = excluded.message, spec = excluded.spec,"
    " changed = excluded.changed,"
    " opened = CASE WHEN sessions.url = excluded.url AND sessions.remote = excluded.remote THEN sessions.opened"
    " ELSE excluded.opened END"
)
_COLS = "run, name, job, step, url, local_port, remote, via, state, status, redirect, message, spec, opened, changed"


@frozen
class SessionRow(ReadOnly):
    run: int
    name: str
    job: str
    step: str
    url: str
    local_port: int
    remote: str
    via: str
    state: str
    status: str
    redirect: bool
    message: str | None
    spec: dict[str, Any]
    opened: float
    changed: float

    def as_json(self, run_final: bool = False) -> dict[str, Any]:
        """The row for ``status --json``/``wfrun sessions --json``; a final run's sessions are closed (its
        process, which held them, is gone), whatever the last recorded state."""
        state = "closed" if run_final and self.state in OPEN_STATES else self.state
        return {"name": self.name, "url": self.url, "remote": self.remote, "local_port": self.local_port,
                "via": self.via, "state": state, "status": self.status, "redirect": self.redirect,
                "job": self.job, "step": self.step, "message": self.message, "opened": self.opened,
                "changed": self.changed}


def session_params(run: int, name: str, job: str, step: str, url: str, local_port: int, remote: str, via: str,
                   state: str, status: str, redirect: bool, message: str | None, spec: dict | None,
                   now: float) -> tuple:
    return (run, name, job, step, url, local_port, remote, via, state, status, 1 if redirect else 0, message,
            json.dumps(spec or {}), now, now)


SELECT_RUN = f"SELECT {_COLS} FROM sessions WHERE run = ? ORDER BY opened, name"
SELECT_OPEN = (f"SELECT {_COLS} FROM sessions WHERE state IN ({', '.join(repr(s) for s in OPEN_STATES)})"
               " ORDER BY run, opened, name")
"""Sessions whose last recorded state is open (or starting, reconnecting), of any run."""


def session_row(r: tuple) -> SessionRow:
    return SessionRow(*r[:10], bool(r[10]), r[11], json.loads(r[12] or "{}"), r[13], r[14])
