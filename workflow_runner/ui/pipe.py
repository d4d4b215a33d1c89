"""Standard output whose reader may go away (``wfrun wf.yaml | head -1``).

A run must not notice that nobody reads its screen output any more: the step
logs, the run directory and the run store are the record, and the exit code
is the run's. So writes to a closed pipe are dropped silently from then on,
and file descriptor 1 is pointed at /dev/null, so the interpreter's final
flush of ``sys.stdout`` cannot fail either ("Exception ignored ... BrokenPipeError").
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any, TextIO


def is_broken_pipe(exc: BaseException) -> bool:
    return isinstance(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE)


def drop_stdout() -> None:
    """Point fd 1 at /dev/null: whatever ``sys.stdout`` still buffers goes nowhere instead of raising."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


class GuardedOut:
    """A text stream wrapper that stops writing, without raising, once its reader has gone."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self.stream.write(text)
            except OSError as exc:
                self._lost(exc)
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except OSError as exc:
                self._lost(exc)

    def isatty(self) -> bool:
        return not self.gone and self.stream.isatty()

    def _lost(self, exc: OSError) -> None:
        if not is_broken_pipe(exc):
            raise exc
        self.gone = True
        if self.stream is sys.stdout or self.stream is sys.__stdout__:
            drop_stdout()

    def __getattr__(self, name: str) -> Any:  # fileno, encoding, ... for rich's Console
        return getattr(self.stream, name)


def guarded(stream: TextIO) -> Any:
    return stream if isinstance(stream, GuardedOut) else GuardedOut(stream)
