"""How runs and steps look on a terminal: status icons and colours, tables, times and durations."""

from __future__ import annotations

import os
import time
from typing import Any, Callable, TextIO

from workflow_runner.state.rows import StepRow

ICONS = {"completed": "✓", "failed": "✗", "skipped": "-", "canceled": "⊘", "running": "▶", "blocked": "…",
         "interrupted": "!", "created": "…"}
COLORS = {"completed": "32", "failed": "31", "skipped": "2", "canceled": "33", "running": "36", "blocked": "2",
          "interrupted": "35", "created": "2"}


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


def painter(out: TextIO, color: bool | None) -> Callable[[str, str], str]:
    use = color if color is not None else (hasattr(out, "isatty") and out.isatty() and not os.environ.get("NO_COLOR"))

    def paint(text: str, status: str) -> str:
        code = COLORS.get(status)
        return f"\033[{code}m{text}\033[0m" if use and code else text

    return paint


def table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")



def step_lines(s: StepRow, tries: list[Any], batches: list[Any], paint: Callable[[str, str], str], out: TextIO,
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
