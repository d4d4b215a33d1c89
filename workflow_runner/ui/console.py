"""What a person (or a program) sees while a run goes on.

- ``LiveReporter`` (a terminal): a rich live panel of jobs — waiting, running,
  passed, failed, skipped — with step output streamed above it, prefixed by
  ``job/step``.
- ``PlainReporter`` (a pipe or file, or ``--no-live``): the same lines without
  the panel, cheap enough for 10,000-job runs.
- ``JsonReporter`` (``--json``): one JSON object per event on stdout.
- ``quiet``: only the final summary (and session links).
Every reporter also feeds ``RunRecorder``, which keeps ``events.jsonl`` and
``run.json`` in the run directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from workflow_runner.engine import status as st
from workflow_runner.engine.events import (
    Event, JobChanged, RunFinished, RunStarted, SessionChanged, StepAnnotation, StepFinished, StepOutput, StepStarted,
)
from workflow_runner.state.recordfile import RecordFile, write_record
from workflow_runner.ui.pipe import guarded
from workflow_runner.ui.text import panel_safe, plural, visible

ICONS = {st.COMPLETED: "✓", st.FAILED: "✗", st.SKIPPED: "-", st.CANCELED: "⊘", st.RUNNING: "▶", st.BLOCKED: "…"}
COLORS = {st.COMPLETED: "green", st.FAILED: "red", st.SKIPPED: "dim", st.CANCELED: "yellow", st.RUNNING: "cyan", st.BLOCKED: "dim"}
LEVEL_COLORS = {"error": "red", "warning": "yellow", "notice": "blue", "debug": "dim"}


EVENT_LINE_MAX = 8192
"""Characters of one output line kept in an event (events.jsonl, --json); the step log keeps the whole line."""
EVENT_OUTPUT_BUDGET = 1 << 20
"""Characters of output per step recorded in events.jsonl; the rest is only in the step log."""


def event_dict(event: Event) -> dict[str, Any]:
    """Shallow, unlike dataclasses.asdict (whose deep copy was a visible share of a 200-job run).

    An output line longer than EVENT_LINE_MAX is cut, and says so: ``truncated``
    holds the length of the whole line, which is in the step log.
    """
    data = {name: getattr(event, name) for name in event.__slots__}
    data["event"] = type(event).__name__
    if type(event) is StepOutput and len(event.line) > EVENT_LINE_MAX:
        data["line"] = event.line[:EVENT_LINE_MAX]
        data["truncated"] = len(event.line)
    return data


class RunRecorder:
    """events.jsonl while running; run.json (statuses, failures, logs) at the end."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.events = RecordFile(run_dir / "events.jsonl", note_losses=False)  # survives a full disk or a deleted run directory
        self.pending: list[str] = []
        """Lines of events.jsonl not yet written: what one turn of the event loop emits goes out in one write."""
        self.pending_size = 0
        self.jobs: dict[str, dict[str, Any]] = {}
        self.meta: dict[str, Any] = {}
        self.output_spent: dict[tuple[str, str], int] = {}
        self.omitted: dict[tuple[str, str], list[int]] = {}

    def emit(self, event: Event) -> None:
        if type(event) is StepOutput and self._over_budget(event):
            return
        record = event_dict(event)
        record["time"] = round(time.time(), 3)
        self._record(json.dumps(record) + "\n")
        if type(event) is StepFinished:
            self._note_omitted(event)
        if isinstance(event, RunStarted):
            self.meta = {"run_id": event.run_id, "workflow": event.workflow, "run_dir": event.run_dir, "started": record["time"]}
            for job in event.jobs:
                self.jobs[job] = {"status": st.BLOCKED, "steps": []}
        elif isinstance(event, JobChanged):
            self.jobs.setdefault(event.job, {"status": st.BLOCKED, "steps": []}).update(status=event.status, reason=event.reason)
        elif isinstance(event, StepFinished):
            job = self.jobs.setdefault(event.job, {"status": st.RUNNING, "steps": []})
            job["steps"].append({"name": event.step, "status": event.status, "exit_code": event.exit_code,
                                 "duration": round(event.duration, 3), "log": event.log, "message": event.message})
        elif isinstance(event, RunFinished):
            self.meta.update(status=event.status, exit_code=event.exit_code, duration=round(event.duration, 3),
                             finished=record["time"], failures=[list(f) for f in event.failures])
            self.flush()
            self.events.close()
            uses = self.run_dir / "uses.json"  # commits of github/… and checkout refs (actions/github.py)
            with contextlib.suppress(OSError, ValueError):
                if uses.is_file():
                    self.meta["uses"] = json.loads(uses.read_text())
            write_record(self.run_dir / "run.json", json.dumps({**self.meta, "jobs": self.jobs}, indent=2))


    def _record(self, line: str) -> None:
        """Queue one line of events.jsonl; it is written at the end of this turn of the event loop.

        A step's start and end are five events, and each write to the file is a metadata update
        the file system journals: on a busy disk those writes were a large part of a job's cost.
        A line waits microseconds (never past this turn, nor past 64 KB); the run store, not this
        file, is what a resume reads.
        """
        self.pending.append(line)
        self.pending_size += len(line)
        if self.pending_size > 65536:
            self.flush()
        elif len(self.pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no event loop: write now
                self.flush()

    def flush(self) -> None:
        if self.pending:
            text = "".join(self.pending)
            self.pending, self.pending_size = [], 0
            self.events.write(text)

    def _over_budget(self, event: StepOutput) -> bool:
        """Past EVENT_OUTPUT_BUDGET characters of one step's output, lines are counted, not recorded.

        events.jsonl is the run's story, not a second copy of its output: 200 MB
        of output made a 438 MB events file. The step log keeps every byte.
        """
        key = (event.job, event.step)
        spent = self.output_spent.get(key, 0)
        size = min(len(event.line), EVENT_LINE_MAX)
        if spent + size <= EVENT_OUTPUT_BUDGET:
            self.output_spent[key] = spent + size
            return False
        counts = self.omitted.setdefault(key, [0, 0])
        counts[0] += 1
        counts[1] += len(event.line) + 1
        return True

    def _note_omitted(self, event: StepFinished) -> None:
        counts = self.omitted.pop((event.job, event.step), None)
        self.output_spent.pop((event.job, event.step), None)
        if counts:
            note = {"event": "StepOutputOmitted", "job": event.job, "step": event.step, "lines": counts[0],
                    "chars": counts[1], "log": event.log, "time": round(time.time(), 3)}
            self._record(json.dumps(note) + "\n")


class Fanout:
    def __init__(self, *reporters: Any) -> None:
        self.reporters = [r for r in reporters if r is not None]

    def emit(self, event: Event) -> None:
        for reporter in self.reporters:
            reporter.emit(event)


def color_wanted(out: Any) -> bool:
    """Colours on a terminal, unless ``NO_COLOR`` is set to anything non-empty (https://no-color.org)."""
    return bool(out.isatty()) and not os.environ.get("NO_COLOR")


class PlainReporter:
    """Prefixed lines; colours only on a terminal (and never with ``NO_COLOR``).

    Output goes through :class:`GuardedOut`: when the reader of stdout goes away
    (``| head``) the run carries on unchanged, only its screen output stops.
    """

    def __init__(self, out: TextIO | None = None, *, color: bool | None = None, quiet: bool = False) -> None:
        self.out = guarded(out if out is not None else sys.stdout)
        self.color = color_wanted(self.out) if color is None else color
        self.quiet = quiet
        self.job_status: dict[str, str] = {}

    def paint(self, text: str, color: str) -> str:
        if not self.color:
            return text
        codes = {"green": "32", "red": "31", "yellow": "33", "cyan": "36", "blue": "34", "dim": "2", "bold": "1"}
        return f"\033[{codes[color]}m{text}\033[0m"

    def write(self, text: str) -> None:
        # flushed per line: a pipe (``| tee``, a CI log, a test) sees progress as it happens
        self.out.write(text + "\n")
        self.out.flush()

    def emit(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            self.write(summary_text(event, self.job_status, self.paint))
            return
        if isinstance(event, JobChanged):
            self.job_status[event.job] = event.status
        if self.quiet and type(event) is not SessionChanged:  # a session's link is what the user waits for
            return
        line = self.render(event)
        if line is not None:
            self.write(line)

    def render(self, event: Event) -> str | None:
        """One line for ``event``; names and messages through ``visible`` (an ESC in a job name must not reach the terminal)."""
        if isinstance(event, RunStarted):
            return self.paint(f"wfrun: run {event.run_id} of {visible(event.workflow)} ({plural(len(event.jobs), 'job')}) "
                              f"in {visible(event.run_dir)}", "bold")
        if isinstance(event, StepOutput):
            return f"{self.paint(f'[{visible(event.job)}/{visible(event.step)}]', 'dim')} {self.output_text(event.line)}"
        if isinstance(event, StepAnnotation):
            where = f"[{visible(event.job)}/{visible(event.step)}]"
            if event.level in ("group", "endgroup"):
                return self.paint(f"{where} {'▼ ' + visible(event.message) if event.level == 'group' else '▲'}", "dim")
            title = f"{visible(event.title)}: " if event.title else ""
            return self.paint(f"{where} {visible(event.level.upper())}: {title}{visible(event.message)}",
                              LEVEL_COLORS.get(event.level, "bold"))
        if isinstance(event, JobChanged):
            if event.status == st.RUNNING:
                return None
            why = f": {visible(event.reason)}" if event.reason and event.status != st.COMPLETED else ""
            return self.paint(f"{ICONS.get(event.status, '?')} job {visible(event.job)} {event.status}{why}", COLORS.get(event.status, "bold"))
        if isinstance(event, SessionChanged):
            return self.paint(session_line(event), "blue" if event.state != "closed" else "dim")
        if isinstance(event, StepFinished):
            if event.status == st.SKIPPED:
                return None
            extra = f": {visible(event.message)}" if event.message else ""
            took = f" ({event.duration:.2f}s)"
            return self.paint(f"  {ICONS.get(event.status, '?')} {visible(event.job)}/{visible(event.step)}{took}{extra}",
                              COLORS.get(event.status, "bold"))
        return None

    def output_text(self, line: str) -> str:
        """A step's output line as shown: raw — it is the user's program talking (colours, progress bars)."""
        return line


def session_line(event: SessionChanged) -> str:
    """``⇄ session NAME: open http://127.0.0.1:PORT/ → localhost:8888 on user@host`` (and its later states)."""
    head = f"⇄ session {visible(event.name)}"
    why = f" ({visible(event.message)})" if event.message else ""
    if event.state == "open":
        word = "open" if event.redirect else "link"
        return f"{head}: {word} {visible(event.url)} → {visible(event.remote)} on {visible(event.via)}{why}"
    return f"{head} {event.state}: {visible(event.url)}{why}"


def summary_text(event: RunFinished, job_status: dict[str, str], paint: Any) -> str:
    counts: dict[str, int] = {}
    for status in job_status.values():
        counts[status] = counts.get(status, 0) + 1
    parts = [f"{counts[s]} {s}" for s in (st.COMPLETED, st.FAILED, st.CANCELED, st.SKIPPED) if counts.get(s)]
    color = COLORS.get(event.status, "bold")
    lines = [paint(f"Run {event.status} in {event.duration:.2f}s: " + (", ".join(parts) or "no jobs"), color)]
    for job, step, message, log in event.failures:
        lines.append(paint(f"  ✗ {visible(job)} / {visible(step)}: {visible(message or 'failed')}", "red"))
        if log:
            lines.append(f"    log: {visible(log)}")
    return "\n".join(lines)


class JsonReporter:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = guarded(out if out is not None else sys.stdout)

    def emit(self, event: Event) -> None:
        self.out.write(json.dumps(event_dict(event)) + "\n")
        self.out.flush()  # one event per line, as it happens, also through a pipe


class LiveReporter(PlainReporter):
    """A rich live panel of jobs at the bottom of the terminal, output lines scrolling above."""

    def __init__(self) -> None:
        from rich.console import Console

        out = guarded(sys.stdout)
        self.console = Console(file=out)  # rich honours NO_COLOR itself; the painted lines follow it below
        super().__init__(out, color=not self.console.no_color)
        self.running: dict[str, str] = {}
        self.started: dict[str, float] = {}
        self.total = 0
        self.live: Any = None

    def write(self, text: str) -> None:
        from rich.text import Text

        self.console.print(Text.from_ansi(text), soft_wrap=True)

    def output_text(self, line: str) -> str:
        """Colours kept; cursor moves, clears and carriage returns shown as escapes, so the panel stays whole."""
        return panel_safe(line)

    def emit(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            from rich.live import Live

            self.total = len(event.jobs)
            self.live = Live(self._panel(), console=self.console, refresh_per_second=4, transient=True, get_renderable=self._panel)
            self.live.start()
        elif isinstance(event, StepStarted):
            self.running[event.job] = event.step
            self.started.setdefault(event.job, time.monotonic())
        elif isinstance(event, JobChanged) and event.status in st.FINAL:
            self.running.pop(event.job, None)
        elif isinstance(event, RunFinished) and self.live is not None:
            self.live.stop()
        super().emit(event)

    def _panel(self) -> Any:
        """The panel; job and step names are user text, escaped so '[test]' shows and '[/]' cannot break markup."""
        from rich.markup import escape
        from rich.table import Table

        table = Table.grid(padding=(0, 1))
        done = {s: sum(1 for v in self.job_status.values() if v == s) for s in (st.COMPLETED, st.FAILED, st.SKIPPED, st.CANCELED)}
        waiting = self.total - sum(done.values()) - len(self.running)
        table.add_row(
            f"[cyan]▶ {len(self.running)} running[/]  [dim]… {max(waiting, 0)} waiting[/]  [green]✓ {done[st.COMPLETED]}[/]  "
            f"[red]✗ {done[st.FAILED]}[/]  [dim]- {done[st.SKIPPED]} skipped[/]  [yellow]⊘ {done[st.CANCELED]}[/]"
        )
        now = time.monotonic()
        for job, step in list(self.running.items())[:12]:
            table.add_row(f"  [cyan]▶[/] {escape(visible(job))} / {escape(visible(step))}  [dim]{now - self.started.get(job, now):.0f}s[/]")
        if len(self.running) > 12:
            table.add_row(f"  [dim]… and {len(self.running) - 12} more[/]")
        return table
