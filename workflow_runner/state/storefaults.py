"""What went wrong with ``runs.db`` or its file system, said in one line with what to do.

SQLite reports a damaged file, a full disk and a read-only mount as bare
``DatabaseError``/``OperationalError`` texts ("file is not a database", "disk
I/O error"); a user needs the path, the cause and the way out. Nothing here
deletes or rewrites the store: what it already recorded stays where it is.
"""

from __future__ import annotations

import os
from pathlib import Path

from workflow_runner.errors import WorkflowError
from workflow_runner.records import Record, record

_DAMAGED = ("file is not a database", "malformed", "not a database", "file is encrypted", "corrupt",
            "could not decode", "no such table", "no such column")
_FULL_BELOW = 64 * 1024
"""Free bytes under which a failed write is blamed on a full disk (SQLite needs pages, a -wal and a -shm file)."""


def disk_full(path: Path) -> bool:
    """True when the file system holding ``path`` (or its nearest existing parent) has (almost) no room left."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        st = os.statvfs(probe)  # shutil.disk_usage's own call; importing shutil (bz2, lzma) costs every run ~1 ms
        return st.f_bavail * st.f_frsize < _FULL_BELOW
    except OSError:
        return False


def explain(exc: BaseException, path: Path) -> WorkflowError:
    """A one-line error for an SQLite or OS error met while using the run store at ``path``."""
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    if any(word in lowered for word in _DAMAGED):
        return WorkflowError(f"run store {path} is damaged ({text}); move it aside (mv {path} {path}.broken; "
                             f"'sqlite3 {path}.broken .recover' may save what is readable) and wfrun starts a new one: "
                             f"run directories, logs and outputs under {path.parent / 'jobs'} are kept, and new run "
                             "numbers continue after them")
    if disk_full(path) or "full" in lowered or getattr(exc, "errno", None) == 28:
        return WorkflowError(f"run store {path}: no space left on its file system ({text}); free some space and try "
                             "again (nothing already recorded was lost)")
    if "readonly" in lowered or "read-only" in lowered or getattr(exc, "errno", None) == 30:
        return WorkflowError(f"run store {path} cannot be written ({text}); make it and its directory writable, "
                             "or point WFRUN_HOME at a writable directory")
    if "unable to open" in lowered or isinstance(exc, PermissionError):
        return WorkflowError(f"run store {path} cannot be opened ({text}); check that it and its directory exist "
                             "and belong to you")
    return WorkflowError(f"run store {path}: {text}")


@record
class StoreIdentity(Record):
    """The store file a run started with, to notice it being deleted or replaced while the run goes on.

    SQLite keeps writing to the open file even after it was unlinked or renamed over:
    the run would end with exit 0 and leave no record anyone can find.
    """

    path: Path
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> "StoreIdentity | None":
        try:
            st = os.stat(path)
        except OSError:
            return None
        return cls(path, st.st_dev, st.st_ino)

    def problem(self) -> str | None:
        """What happened to the file since the run started, or None if it is still the same file."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "was deleted"
        except OSError as exc:
            return f"cannot be checked ({exc.strerror or exc})"
        if (st.st_dev, st.st_ino) != (self.device, self.inode):
            return "was replaced by another file"
        return None
