"""``wfrun status RUN``: a run's jobs and steps with status, attempts, exit codes, durations, hosts, batch jobs, logs."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from workflow_runner.commands.lookup import resolve_run
from workflow_runner.commands.statusfmt import ICONS, fmt_duration, fmt_time, painter, step_lines
from workflow_runner.state.queries import pins, status_data, status_parts
from workflow_runner.state.store import RunStore
from workflow_runner.ui.text import VisibleOut


def show_status(store: RunStore, run: int | str, *, as_json: bool = False, out: TextIO | None = None,
                color: bool | None = None) -> int:
    out = out or sys.stdout
    row = resolve_run(store, run)
    row = store.refresh_liveness(row.id) or row
    if as_json:
        out.write(json.dumps(status_data(store, row), indent=2) + "\n")
        return 0
    parts = status_parts(store, row)
    job_rows, by_job, batch_of, tries, sessions = parts.jobs, parts.by_job, parts.batch_of, parts.tries, parts.sessions

    paint = painter(out, color)
    out = VisibleOut(out)  # job and step names, messages: the user's text, escapes shown not obeyed
    head = f"run {row.id} of {row.workflow}: {paint(row.status, row.status)}"
    if row.exit_code is not None:
        head += f" (exit {row.exit_code})"
    if row.cancel_requested and not row.final:
        head += ", cancel requested"
    out.write(head + "\n")
    out.write(f"  started {fmt_time(row.started or row.created)}, {'took' if row.final else 'running for'} {fmt_duration(row.duration)}"
              + (f", pid {row.pid} on {row.hostname}" if not row.final and row.pid else "") + "\n")
    out.write(f"  file: {row.file}\n")
    out.write(f"  dir:  {row.run_dir or '-'}\n")
    for what, pin in pins(row).items():
        out.write(f"  uses: {what} -> {str(pin.get('commit'))[:12]} ({pin.get('kind')})\n")
    if len(sessions) > 1:
        for a in sessions:
            code = f" (exit {a.exit_code})" if a.exit_code is not None else ""
            what = "run" if a.attempt == 1 else "resume"
            out.write(f"  attempt {a.attempt} ({what}): {paint(a.status, a.status)}{code}, started {fmt_time(a.started)},"
                      f" {'took' if a.finished is not None else 'running for'} {fmt_duration(a.duration)}"
                      f" (pid {a.pid} on {a.hostname})\n")
    for link in parts.links:
        info = link.as_json(row.final)
        extra = f", {info['status']}" if info["status"] else ""
        out.write(f"  session {link.name}: {link.url} → {link.remote} on {link.via} ({info['state']}{extra})\n")
    if row.status == "interrupted":
        out.write("  its wfrun process ended without recording an outcome (killed?)\n")
    if not job_rows:
        out.write("  no jobs recorded\n")
        return 0
    width = max(len(j.key) for j in job_rows)
    out.write("\n")
    for j in job_rows:
        reason = f"  {j.reason}" if j.reason and j.status != "completed" else ""
        out.write(f"{paint(ICONS.get(j.status, '?'), j.status)} {j.key.ljust(width)}  {paint(j.status.ljust(11), j.status)}"
                  f" {fmt_duration(j.duration).rjust(7)}{reason}\n")
        own = by_job.get(j.key, [])
        name_width = max((len(s.name) for s in own), default=0)
        for s in own:
            step_lines(s, tries.get((s.job, s.index, s.cleanup, s.name), []),
                        [] if s.cleanup else batch_of.get((s.job, s.index), []), paint, out, name_width)
    return 0
