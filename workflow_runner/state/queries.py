"""Read-side views of the run store shared by ``wfrun status --json`` and ``wfrun serve``.

Both must show the same data for a run, so the JSON of ``wfrun status RUN
--json`` is built here once (:func:`status_data`) and the text view of
``wfrun status`` groups rows with the same :func:`status_parts`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from workflow_runner.state.store import JobRow, RunRow, RunStore, StepRow


@dataclass
class StatusParts:
    """One consistent read of a run's jobs, steps, step attempts, batch jobs and sessions, grouped for display."""

    row: RunRow
    jobs: list[JobRow]
    sessions: list[Any]
    """The run's attempts (each ``wfrun run``/``resume`` session of the wfrun process)."""
    by_job: dict[str, list[StepRow]] = field(default_factory=dict)
    batch_of: dict[tuple[str, int], list[Any]] = field(default_factory=dict)
    tries: dict[tuple[str, int, bool, str], list[Any]] = field(default_factory=dict)
    links: list[Any] = field(default_factory=list)
    """Interactive sessions (``update-session``): state/sessionrows.SessionRow."""


def run_dict(row: RunRow) -> dict[str, Any]:
    """A run row as JSON data (what ``wfrun runs --json`` prints per run)."""
    data = dataclasses.asdict(row)
    data["duration"] = row.duration
    return data


def pins(row: RunRow) -> dict[str, dict]:
    """The commits the run's github/… and checkout refs resolved to (actions/github.py records them)."""
    from workflow_runner.pinrecord import read_pins

    return read_pins(row.run_dir)


def status_parts(store: RunStore, row: RunRow) -> StatusParts:
    with store.snapshot():
        jobs = store.jobs(row.id)
        steps = store.steps(row.id)
        attempts = store.attempts(row.id)
        batches = store.batch_jobs(row.id)
        sessions = store.run_attempts(row.id)
        links = store.sessions(row.id)
    parts = StatusParts(row, [], sessions, links=links)
    for s in steps:
        parts.by_job.setdefault(s.job, []).append(s)
    for b in batches:
        parts.batch_of.setdefault((b.job, b.step_index), []).append(b)
    for a in attempts:
        parts.tries.setdefault((a.job, a.index, a.cleanup, a.name), []).append(a)
    known = {j.key for j in jobs}
    # A job whose steps were recorded before the job itself (a crash between the two writes) still shows.
    parts.jobs = list(jobs) + [JobRow(row.id, key, "running", None, None, None, None) for key in parts.by_job if key not in known]
    return parts


def status_data(store: RunStore, row: RunRow) -> dict[str, Any]:
    """The JSON of ``wfrun status RUN --json``: the run, its sessions, jobs, steps, their attempts and batch jobs."""
    parts = status_parts(store, row)
    data = run_dict(row)
    data["uses"] = pins(row)
    data["attempts"] = [{**dataclasses.asdict(a), "duration": a.duration} for a in parts.sessions]
    data["sessions"] = [link.as_json(row.final) for link in parts.links]
    data["jobs"] = []
    for j in parts.jobs:
        jd = dataclasses.asdict(j)
        jd["duration"] = j.duration
        jd["steps"] = []
        for s in parts.by_job.get(j.key, []):
            sd = dataclasses.asdict(s)
            sd["attempt_rows"] = [dataclasses.asdict(a) for a in parts.tries.get((s.job, s.index, s.cleanup, s.name), [])]
            sd["batch_jobs"] = [] if s.cleanup else [dataclasses.asdict(b) for b in parts.batch_of.get((s.job, s.index), [])]
            jd["steps"].append(sd)
        data["jobs"].append(jd)
    return data
