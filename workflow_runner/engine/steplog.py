"""A step's log file and live output: masked, annotated, streamed.

It knows nothing of the job: it is given the run's mask and emit and the job's key,
so an action holding a log cannot reach the job through it.
"""

from __future__ import annotations

from typing import Any, Callable

from workflow_runner.engine.events import StepAnnotation, StepOutput
from workflow_runner.state.recordfile import RecordFile


class StepLog:
    def __init__(self, mask: Callable[[str], str], emit: Callable[[Any], None], job_key: str, step_name: str,
                 path: str, before_open: Callable[[], None] | None = None) -> None:
        self.mask = mask
        self.emit = emit
        self.job_key = job_key
        self.step_name = step_name
        self.path = path
        self.before_open = before_open
        """Makes the log's folder: called when the file is first opened, which is after the step's process
        started (its first line, or the step's end) — the folder is not made on the way to starting it."""
        self._file: Any = None
        self.last_error: str | None = None

    @property
    def file(self) -> Any:
        """Opened on first use: thousands of matrix instances queued for a CPU slot hold no descriptor each."""
        if self._file is None:
            if self.before_open is not None:
                try:
                    self.before_open()
                except OSError:  # RecordFile says why it cannot write, once
                    pass
            self._file = RecordFile(self.path)  # a full disk or a deleted run directory is a warning, not a crash
        return self._file

    def line(self, text: str) -> None:
        text = self.mask(text)
        self.file.write(text + "\n")
        note = _annotation(text) if text.startswith("::") else None
        if note is not None:
            if note.level == "error":
                self.last_error = (f"{note.title}: " if note.title else "") + note.message
            self.emit(StepAnnotation(self.job_key, self.step_name, note.level, note.message, note.title))
            return
        self.emit(StepOutput(self.job_key, self.step_name, text))

    def note(self, text: str) -> None:
        """A line from wfrun itself (why a step failed, retries), kept in the log too."""
        self.file.write(f"[wfrun] {self.mask(text)}\n")

    def close(self) -> None:
        self.file.close()  # opens it first if nothing was written: every step that started has its log


def _annotation(line: str) -> Any:
    """engine/annotations.py, loaded by the first ``::`` line (most runs print none)."""
    from workflow_runner.engine.annotations import parse_annotation

    return parse_annotation(line)
