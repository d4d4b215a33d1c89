"""``wfrun logs RUN [JOB[/STEP]] [-f]``: print step logs in the order things happened, or follow them."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, TextIO

from workflow_runner.commands.lookup import Selection, exit_code_of, guess_log, in_run_order, resolve_run
from workflow_runner.commands.lookup import select as select_steps
from workflow_runner.state.rows import FINAL, RunRow, StepRow
from workflow_runner.state.store import RunStore
from workflow_runner.ui.text import visible


def _label(s: StepRow) -> str:
    return f"[{visible(s.job)}/{visible(s.name)}]"


def show_logs(store: RunStore, run: int | str, select: str | None = None, *, follow: bool = False,
              out: TextIO | None = None, poll: float = 0.3) -> int:
    out = out or sys.stdout
    row = resolve_run(store, run)
    row = store.refresh_liveness(row.id) or row
    sel = select_steps(store, row, select, follow)
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


def _follow(store: RunStore, row: RunRow, sel: Selection, out: TextIO, poll: float) -> int:
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
