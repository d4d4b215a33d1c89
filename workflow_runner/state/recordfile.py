"""The run's own record files (step logs, ``events.jsonl``, ``run.json``) written so that faults cannot stop a run.

A full disk, or a run directory deleted or replaced while the run goes on, used to
end the step or the whole run with an internal error and a traceback. Here a
failed write is said once on stderr (naming the file and the cause) and the run
goes on; a folder that vanished is created again; a file whose directory entry
was deleted while it was open is written back at close from the still-open
descriptor, so ``events.jsonl`` stays complete. Writes are plain ``os.write``
calls on an ``O_APPEND`` descriptor: after ENOSPC nothing half-written is left in
a buffer to be retried out of order, and writing resumes as soon as there is room.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from pathlib import Path

_SAID: set[str] = set()


def warn_once(key: str, text: str) -> None:
    """One warning per kind of fault and place per process: a full disk must not print a line per log line."""
    if key in _SAID:
        return
    _SAID.add(key)
    print(f"wfrun: warning: {text}", file=sys.stderr, flush=True)


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _vanished(folder: Path) -> None:
    warn_once("vanished", f"{folder} vanished during the run (deleted or replaced?); wfrun created it again, "
                          "but what was written there before is lost (the run store still has the run)")


def ensure_dir(folder: Path) -> bool:
    """``folder`` exists as a directory (created, with a warning, if it vanished); False if it cannot be."""
    if folder.is_dir():
        return True
    top = folder
    while not top.parent.exists() and top.parent != top:
        top = top.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        warn_once(f"mkdir:{folder}", f"cannot create {folder}: {_why(exc)}; the run goes on without writing there")
        return False
    _vanished(top)
    return True


class RecordFile:
    """An append-only text file of the run's record that a write fault cannot turn into a crash."""

    def __init__(self, path: Path | str, *, note_losses: bool = True) -> None:
        self.path = Path(path)
        self.fd: int | None = None
        self.lost = 0
        self.note_losses = note_losses
        """Write a ``[wfrun] N line(s) lost`` line once writing works again (logs; not ``events.jsonl``, which is JSON)."""
        self._open()

    def _open(self) -> None:
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            self.fd = os.open(self.path, flags, 0o666)
        except FileNotFoundError:
            if ensure_dir(self.path.parent):
                try:
                    self.fd = os.open(self.path, flags, 0o666)
                except OSError as exc:
                    self._failed(exc)
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        kind = "full" if exc.errno == errno.ENOSPC else f"err{exc.errno}"
        folder = self.path.parent.parent.parent if self.path.parent.parent.name == "logs" else self.path.parent
        warn_once(f"{kind}:{folder}", f"cannot write {self.path}: {_why(exc)}; the run goes on, but its record "
                                      "there is incomplete until the fault is fixed")

    def write(self, text: str) -> None:
        if self.fd is None:
            self._open()
            if self.fd is None:
                self.lost += 1
                return
        data = text.encode("utf-8", "surrogateescape")
        if self.lost and self.note_losses:
            data = f"[wfrun] {self.lost} line(s) lost here: the file could not be written\n".encode() + data
        start = None
        try:
            start = os.lseek(self.fd, 0, os.SEEK_END)
            while data:
                data = data[os.write(self.fd, data):]
        except OSError as exc:
            self.lost += 1
            if start is not None:  # no half line: readers of events.jsonl parse every line
                with contextlib.suppress(OSError):
                    os.ftruncate(self.fd, start)
            self._failed(exc)
            return
        self.lost = 0

    def close(self) -> None:
        """Close; if the file was deleted or replaced while open, write what it holds back under its name."""
        fd, self.fd = self.fd, None
        if fd is None:
            return
        try:
            if not self._still_named(fd):
                self._restore(fd)
        finally:
            os.close(fd)

    def _still_named(self, fd: int) -> bool:
        try:
            mine, there = os.fstat(fd), os.stat(self.path)
        except OSError:
            return False
        return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)

    def _restore(self, fd: int) -> None:
        if not ensure_dir(self.path.parent):
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.restore")
        try:
            with open(os.dup(fd), "rb") as old, open(tmp, "wb") as new:
                old.seek(0)
                while chunk := old.read(1 << 20):
                    new.write(chunk)
            os.replace(tmp, self.path)
        except OSError as exc:
            self._failed(exc)
            with contextlib.suppress(OSError):
                tmp.unlink()


def write_record(path: Path, text: str) -> bool:
    """Write a whole small file (``run.json``) in place of the old one; a fault is a warning, not a crash."""
    if not ensure_dir(path.parent):
        return False
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        return True
    except OSError as exc:
        kind = "full" if exc.errno == errno.ENOSPC else f"err{exc.errno}"
        warn_once(f"{kind}:{path}", f"cannot write {path}: {_why(exc)}; the run's outcome is in the run store "
                                    "(wfrun status) but not in that file")
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False
