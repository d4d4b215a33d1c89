"""``wfrun runs``, ``wfrun status RUN``, ``wfrun logs RUN [JOB[/STEP]] [-f]``, ``wfrun cancel RUN``.

They read (and, for cancel, flag) the run store ``$WFRUN_HOME/runs.db``, so they
work from any terminal while a run goes on. RUN is a run number or ``last``.

Wiring in ``cli.py``::

    from workflow_runner.commands import runs as runs_cmd
    runs_cmd.add_parsers(sub)                    # in build_parser()
    if args.command in runs_cmd.NAMES:           # in main(), inside the try
        return runs_cmd.main(args)
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, TextIO

from workflow_runner.errors import WorkflowError, did_you_mean
from workflow_runner.state.queries import pins, run_dict, status_data, status_parts
from workflow_runner.state.store import FINAL, RunRow, RunStore, StepRow
from workflow_runner.ui.text import VisibleOut, visible

NAMES = ("runs", "status", "logs", "cancel")

ICONS = {"completed": "✓", "failed": "✗", "skipped": "-", "canceled": "⊘", "running": "▶", "blocked": "…",
         "interrupted": "!", "created": "…"}
COLORS = {"completed": "32", "failed": "31", "skipped": "2", "canceled": "33", "running": "36", "blocked": "2",
          "interrupted": "35", "created": "2"}


# ------------------------------------------------------------------ parsers


def add_parsers(sub: Any) -> None:
    """Register runs, status, logs and cancel on an ``add_subparsers()`` object."""
    p = sub.add_parser("runs", help="list recent runs", description="List recent runs, newest first.")
    p.add_argument("--limit", "-n", type=int, default=20, metavar="N", help="show the N newest runs (default 20; 0 = all)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(runs_handler=lambda a, store, out: show_runs(store, limit=a.limit, as_json=a.json, out=out))

    p = sub.add_parser("status", help="show a run's jobs and steps",
                       description="Show a run's jobs and steps: status, attempts, exit codes, durations, hosts, batch jobs, logs.")
    p.add_argument("run", metavar="RUN", help="run number (see 'wfrun runs'), or 'last'")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(runs_handler=lambda a, store, out: show_status(store, a.run, as_json=a.json, out=out))

    p = sub.add_parser("logs", help="print step logs", description=(
        "Print the logs of a run's steps, in order. JOB alone selects all its steps; STEP is a step name or its "
        "1-based number (a step's cleanup log comes with it). With several logs, lines are prefixed by [job/step]."))
    p.add_argument("run", metavar="RUN", help="run number (see 'wfrun runs'), or 'last'")
    p.add_argument("select", nargs="?", metavar="JOB[/STEP]", help="only this job, or this step of it")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new lines until the run ends")
    p.set_defaults(runs_handler=lambda a, store, out: show_logs(store, a.run, a.select, follow=a.follow, out=out))

    p = sub.add_parser("cancel", help="cancel a running run", description=(
        "Cancel a run started by another wfrun: mark it in the run store and send its wfrun SIGTERM "
        "(it cancels like Ctrl-C: steps stop, cleanups run), then wait until it has finished."))
    p.add_argument("run", metavar="RUN", help="run number (see 'wfrun runs'), or 'last'")
    p.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                   help="wait this long for the run to finish (default 60; 0 = do not wait)")
    p.set_defaults(runs_handler=lambda a, store, out: cancel_run(store, a.run, wait=a.wait, out=out))


def main(args: argparse.Namespace, *, store: RunStore | None = None, out: TextIO | None = None) -> int:
    """Run the subcommand ``args`` was parsed for (by a parser built with :func:`add_parsers`)."""
    own = store is None
    store = store or RunStore()
    try:
        return args.runs_handler(args, store, out or sys.stdout)
    finally:
        if own:
            store.close()


# ------------------------------------------------------------------ helpers


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


def fmt_time(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    return f"{hours // 24}d{hours % 24:02d}h"


def _painter(out: TextIO, color: bool | None) -> Callable[[str, str], str]:
    use = color if color is not None else (hasattr(out, "isatty") and out.isatty() and not os.environ.get("NO_COLOR"))

    def paint(text: str, status: str) -> str:
        code = COLORS.get(status)
        return f"\033[{code}m{text}\033[0m" if use and code else text

    return paint


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")




# ------------------------------------------------------------------ wfrun runs


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
    table = [["RUN", "WORKFLOW", "STATUS", "STARTED", "DURATION", "DIR"]]
    for r in rows:
        status = r.status + (" (cancel requested)" if r.cancel_requested and not r.final else "")
        table.append([str(r.id), visible(r.workflow), status, fmt_time(r.started or r.created), fmt_duration(r.duration), r.run_dir or "-"])
    _table(table, out)
    return 0


# ------------------------------------------------------------------ wfrun status


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

    paint = _painter(out, color)
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
            _step_lines(s, tries.get((s.job, s.index, s.cleanup, s.name), []),
                        [] if s.cleanup else batch_of.get((s.job, s.index), []), paint, out, name_width)
    return 0


def _step_lines(s: StepRow, tries: list[Any], batches: list[Any], paint: Callable[[str, str], str], out: TextIO,
                name_width: int = 0) -> None:
    number = f"{s.index + 1}." if s.index >= 0 else "-"
    duration = s.duration
    if s.started is None and s.status != "running":
        duration = None  # never ran (skipped, or failed before starting)
    elif duration is None and s.status == "running":
        duration = time.time() - s.started
    parts = [f"    {number:>3} {s.name.ljust(name_width)}", paint(s.status.ljust(9), s.status)]
    if s.exit_code is not None:
        parts.append(f"exit {s.exit_code}")
    if duration is not None:
        parts.append(fmt_duration(duration))
    if s.host:
        parts.append(f"on {s.host}")
    if s.attempts > 1:
        parts.append(f"{s.attempts} attempts")
    out.write("  ".join(parts).rstrip() + "\n")
    pad = " " * 8
    if len(tries) > 1:
        several = len({a.run_attempt for a in tries}) > 1  # tries of several run attempts: say which
        out.write(pad + "attempts: " + ", ".join(
            (f"run attempt {a.run_attempt} " if several else "") + f"#{a.attempt + 1} {a.status}"
            + (f" (exit {a.exit_code})" if a.exit_code is not None else "") for a in tries) + "\n")
    for b in batches:
        what = f"batch job {b.jobid}" if b.jobid else "batch job (not submitted yet)" if b.state == "intent" else "batch job"
        extra = f", exit {b.exit_code}" if b.exit_code is not None else ""
        attempt = f", attempt {b.attempt + 1}" if len(batches) > 1 else ""
        out.write(f"{pad}{what}: {b.state}{extra} ({b.scheduler} on {b.host}{attempt}), rundir {b.rundir}\n")
    if s.message:
        out.write(f"{pad}{s.message}\n")
    if s.log:
        out.write(f"{pad}log: {s.log}\n")


# ------------------------------------------------------------------ wfrun logs


@dataclasses.dataclass
class _Selection:
    job: str | None = None
    index: int | None = None
    name: str | None = None

    def matches(self, s: StepRow) -> bool:
        if self.job is not None and s.job != self.job:
            return False
        if self.index is not None:
            return s.index == self.index
        if self.name is not None:
            return s.name == self.name or (s.cleanup and s.name == f"{self.name} (cleanup)")
        return True

    @property
    def single_step(self) -> bool:
        return self.index is not None or self.name is not None


def _select(store: RunStore, row: RunRow, text: str | None, follow: bool) -> _Selection:
    if not text:
        return _Selection()
    jobs = {j.key: j for j in store.jobs(row.id)}
    steps = store.steps(row.id)
    keys = list(dict.fromkeys([*jobs, *(s.job for s in steps)]))
    if text in keys:
        return _Selection(job=text)
    if "/" not in text:
        raise WorkflowError(f"run {row.id} has no job '{text}'{did_you_mean(text, keys)}")
    job, step = text.rsplit("/", 1)
    if job not in keys:
        raise WorkflowError(f"run {row.id} has no job '{job}'{did_you_mean(job, keys) or did_you_mean(text, keys)}")
    own = [s for s in steps if s.job == job]
    job_open = not row.final and (job not in jobs or jobs[job].status not in FINAL)
    if step.isdigit():
        sel = _Selection(job=job, index=int(step) - 1)
        if any(sel.matches(s) for s in own) or (follow and job_open):
            return sel
        top = max((s.index for s in own), default=-1) + 1
        known = f"it has steps 1..{top}" if top else "no steps have run yet"
        raise WorkflowError(f"job '{job}' of run {row.id} has no step {step} ({known})")
    sel = _Selection(job=job, name=step)
    if any(sel.matches(s) for s in own) or (follow and job_open):
        return sel
    names = [s.name for s in own]
    hint = did_you_mean(step, names) or (f" (its steps: {', '.join(names)})" if names else " (no steps have run yet)")
    raise WorkflowError(f"job '{job}' of run {row.id} has no step '{step}'{hint}")


def guess_log(run_dir: str | None, s: StepRow) -> str | None:
    """The log path of a step that has not finished (StepStarted does not carry it): run_dir/logs/<job>/<NN>-*.log."""
    if s.log:
        return s.log
    if not run_dir or s.index < 0:
        return None
    from workflow_runner.state.rundir import safe_name

    folder = Path(run_dir) / "logs" / safe_name(s.job)
    if s.cleanup:
        found = sorted(folder.glob(f"{s.index + 1:02d}-*.cleanup.log"))
    else:
        found = [p for p in sorted(folder.glob(f"{s.index + 1:02d}-*.log")) if not p.name.endswith(".cleanup.log")]
    return str(found[0]) if len(found) == 1 else None


def in_run_order(steps: list[StepRow]) -> list[StepRow]:
    """Steps of each job in order, then its cleanups in the order they ran (they run last, newest step first).

    The store lists a cleanup right after its own step; a log reader wants the order things happened.
    Jobs keep the store's order.
    """
    jobs = list(dict.fromkeys(s.job for s in steps))
    out: list[StepRow] = []
    for job in jobs:
        own = [s for s in steps if s.job == job]
        out += [s for s in own if not s.cleanup]
        cleanups = [s for s in own if s.cleanup]
        # Not started yet: in the order they will run (reverse step order), after those that did.
        out += sorted(cleanups, key=lambda s: (s.started is None, s.started or 0.0, -s.index))
    return out


def _label(s: StepRow) -> str:
    return f"[{visible(s.job)}/{visible(s.name)}]"


def show_logs(store: RunStore, run: int | str, select: str | None = None, *, follow: bool = False,
              out: TextIO | None = None, poll: float = 0.3) -> int:
    out = out or sys.stdout
    row = resolve_run(store, run)
    row = store.refresh_liveness(row.id) or row
    sel = _select(store, row, select, follow)
    if follow:
        return _follow(store, row, sel, out, poll)
    chosen = in_run_order([s for s in store.steps(row.id) if sel.matches(s)])
    shown = [(s, path) for s in chosen if (path := guess_log(row.run_dir, s))]
    if not shown:
        what = f"'{select}'" if select else f"run {row.id}"
        why = ", ".join(f"{s.job}/{s.name}: {s.status}" + (f" ({s.message})" if s.message else "") for s in chosen[:5])
        print(f"wfrun: no logs for {what}" + (f" ({why})" if why else ""), file=sys.stderr)
        return 0
    prefix = len(shown) > 1
    for s, path in shown:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            print(f"wfrun: {s.job}/{s.name}: cannot read log {path}: {exc.strerror}", file=sys.stderr)
            continue
        text = data.decode("utf-8", "replace")
        if not prefix:
            out.write(text if not text or text.endswith("\n") else text + "\n")
            continue
        label = _label(s)
        for line in text.splitlines():
            out.write(f"{label} {line}\n")
    out.flush()
    return 0


def _follow(store: RunStore, row: RunRow, sel: _Selection, out: TextIO, poll: float) -> int:
    """Print new lines of the selected logs (and of steps that start later) until the run is final."""
    prefix = not sel.single_step
    state: dict[tuple, list[Any]] = {}  # step key -> [path, offset, partial bytes, label, prefix?]
    done: set[tuple] = set()
    while True:
        current = store.refresh_liveness(row.id) or row
        final = current.final  # read before the files: once final, one more pass prints everything
        for s in in_run_order(store.steps(row.id)):
            key = (s.job, s.index, s.cleanup, s.name)
            if key in done or not sel.matches(s):
                continue
            entry = state.get(key)
            if entry is None:
                path = guess_log(current.run_dir, s)
                if path is None:
                    if s.status in FINAL:
                        done.add(key)
                    continue
                entry = state[key] = [path, 0, b"", _label(s), prefix or s.cleanup]
            closed = s.status in FINAL  # its log is closed: what is there now is everything
            _pump(entry, out, final=closed)
            if closed:
                done.add(key)
        out.flush()
        if final:
            for key, entry in state.items():
                if key not in done:
                    _pump(entry, out, final=True)
            out.flush()
            return exit_code_of(current)
        time.sleep(poll)


def exit_code_of(row: RunRow) -> int:
    """What ``wfrun logs -f`` exits with once the run it follows ended: the run's own exit code (1 if it has none)."""
    if row.exit_code is not None:
        return row.exit_code
    return 0 if row.status == "completed" else 1


def _pump(entry: list[Any], out: TextIO, *, final: bool) -> None:
    path, offset, partial, label, prefix = entry
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        data = b""
    entry[1] = offset + len(data)
    data = partial + data
    lines = data.split(b"\n")
    entry[2] = lines.pop()
    if final and entry[2]:
        lines.append(entry[2])
        entry[2] = b""
    for line in lines:
        text = line.decode("utf-8", "replace")
        out.write(f"{label} {text}\n" if prefix else text + "\n")


# ------------------------------------------------------------------ wfrun cancel


def cancel_run(store: RunStore, run: int | str, *, wait: float = 60.0, out: TextIO | None = None, poll: float = 0.2) -> int:
    """Flag the run canceled in the store, SIGTERM its wfrun if it lives on this host, wait until it is final."""
    out = out or sys.stdout
    row = resolve_run(store, run)
    row = store.refresh_liveness(row.id) or row
    if row.final:
        out.write(f"run {row.id} already finished: {row.status}" + (f" (exit {row.exit_code})" if row.exit_code is not None else "") + "\n")
        return stop_leftovers_of_dead_run(store, row, out) if row.status == "interrupted" else 0
    store.request_cancel(row.id)
    if row.hostname == store.hostname and row.pid:
        if row.pid == os.getpid():
            raise WorkflowError(f"run {row.id} belongs to this very process (pid {row.pid})")
        try:
            os.kill(row.pid, signal.SIGTERM)
        except ProcessLookupError:
            out.write(f"run {row.id}: cancel requested; its wfrun (pid {row.pid}) has already exited\n")
        except PermissionError:
            raise WorkflowError(f"run {row.id}: cannot signal its wfrun (pid {row.pid}): permission denied") from None
        else:
            out.write(f"run {row.id}: cancel requested; sent SIGTERM to its wfrun (pid {row.pid})\n")
    else:
        out.write(f"run {row.id}: cancel requested in the run store; its wfrun runs on {row.hostname or 'another host'}"
                  f" (pid {row.pid}) and stops when it next checks the store\n")
    out.flush()
    if wait <= 0:
        return 0
    deadline = time.monotonic() + wait
    while True:
        current = store.refresh_liveness(row.id) or row
        if current.final:
            code = f" (exit {current.exit_code})" if current.exit_code is not None else ""
            note = ": its wfrun exited without recording an outcome" if current.status == "interrupted" else ""
            out.write(f"run {row.id} {current.status}{code}{note}\n")
            return stop_leftovers_of_dead_run(store, current, out) if current.status == "interrupted" else 0
        if time.monotonic() >= deadline:
            out.write(f"run {row.id} is still {current.status} after {wait:g}s (cleanups may still be running;"
                      f" see 'wfrun status {row.id}')\n")
            return 1
        time.sleep(poll)


def stop_leftovers_of_dead_run(store: RunStore, row: RunRow, out: TextIO) -> int:
    """A run whose wfrun died (kill -9, crash) leaves its steps' processes and batch jobs: stop them all.

    Local step processes are found by the run token in their environment, as ``wfrun resume``
    finds them (only on the host that ran the run); batch jobs from the store's records.
    """
    from workflow_runner.launch import kill_leftovers, run_token

    if row.hostname == store.hostname:
        killed = kill_leftovers(run_token(store.path, row.id))
        if killed:
            out.write(f"run {row.id}: its wfrun is gone; stopped {killed} process group(s) its steps left running\n")
            out.flush()
    else:
        out.write(f"run {row.id}: ran on {row.hostname or 'another host'}; its local step processes there cannot "
                  "be reached from here\n")
    return cancel_leftover_batch_jobs(store, row, out)


def cancel_leftover_batch_jobs(store: RunStore, row: RunRow, out: TextIO) -> int:
    """A run whose wfrun died cannot cancel its batch jobs: do it from the store's write-ahead records.

    Only this host's wfrun run store knows them; jobs on an SSH host are reached
    with the SSH options the run was started with (known_hosts, identity files),
    else those of the user config's ``ssh:``, else the defaults. 1 when some
    could not be cancelled (they are listed, for scancel/qdel by hand).
    """
    leftovers = [b for b in store.batch_jobs(row.id) if b.finished_at is None]
    if not leftovers:
        return 0
    out.write(f"run {row.id}: its wfrun is gone; cancelling the {len(leftovers)} batch job(s) it left\n")
    out.flush()
    failed = asyncio.run(_cancel_batch_rows(store, leftovers, out, _ssh_of(row)))
    return 1 if failed else 0


def _ssh_of(row: RunRow) -> Any:
    """The SSH options to reach a dead run's hosts: the ones it ran with, else the user config's ``ssh:``."""
    from workflow_runner.launch import ssh_options
    from workflow_runner.targets.select import SSHOptions
    from workflow_runner.userconfig import load_user_config

    chosen = ssh_options({}, row.ssh or {}, load_user_config().ssh)
    return SSHOptions(known_hosts=chosen["known_hosts"], identity_files=chosen["identities"],
                      insecure_no_host_key_check=chosen["insecure_no_host_key_check"])


async def _cancel_batch_rows(store: RunStore, rows: list[Any], out: TextIO, ssh: Any = None) -> int:
    from workflow_runner.actions.job_runner.batch import BACKENDS, BatchWatcher, look_up
    from workflow_runner.targets.select import Targets

    targets = Targets(ssh) if ssh is not None else Targets()
    failed = 0
    groups: dict[tuple[str, str], list[Any]] = {}
    for b in rows:
        groups.setdefault((b.host, b.scheduler), []).append(b)
    try:
        for (host, scheduler), batch in groups.items():
            backend = BACKENDS[scheduler]()
            where = "" if host == "local" else f" on {host}"
            notes: list[str] = []
            try:
                name, _, jump = host.partition(" via ")  # SSHTarget.name of a step behind a jump host
                target = targets.get("" if host == "local" else name, jump or None)
                ids: dict[str, Any] = {}
                for b in batch:
                    jobid = b.jobid
                    if not jobid:  # intent recorded, id not: look it up by its unique name
                        jobid = await look_up(target, backend, b.job_name)
                    if jobid:
                        ids[jobid.split(".")[0]] = b
                    else:
                        store.batch_finished(b.id, "NEVER_SUBMITTED", None)
                # The watcher's cancel: one scancel/qdel for all, retried for the ones still active
                # (qdel fails for jobs that already ended; those count as done).
                watcher = BatchWatcher(target, backend, "/", 1.0, notes.append)
                results = await asyncio.gather(*(watcher.cancel(jobid) for jobid in ids))
                for (jobid, b), ok in zip(ids.items(), results):
                    if ok:
                        store.batch_finished(b.id, "CANCELLED", None)
                left = [jobid for (jobid, _), ok in zip(ids.items(), results) if not ok]
                if ids:
                    out.write(f"  {backend.cancel(sorted(ids))}{where}: "
                              + ("done" if not left else f"{len(left)} could not be cancelled: {notes[-1] if notes else ''}") + "\n")
                failed += len(left)
            except (WorkflowError, OSError, TimeoutError) as exc:
                failed += len(batch)
                listed = ", ".join(b.jobid or b.job_name for b in batch)
                out.write(f"  could not cancel {scheduler} job(s) {listed}{where}: {exc}\n")
    finally:
        await targets.aclose()
    return failed


__all__ = ["NAMES", "add_parsers", "main", "show_runs", "show_status", "show_logs", "cancel_run", "stop_leftovers_of_dead_run", "resolve_run", "guess_log"]
