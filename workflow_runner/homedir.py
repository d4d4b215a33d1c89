"""Where wfrun keeps its state (``$WFRUN_HOME``, else ``~/.wfrun``), checked before a command relies on it.

A home that cannot be found (no ``HOME``, no passwd entry), that names a
regular file, or that cannot be written is a user's setup problem: it must
read as one line naming the variable and the path, not as a traceback from
``mkdir`` or SQLite deep inside the run store.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from workflow_runner.errors import WorkflowError


_WAY_OUT = "make it writable, or point WFRUN_HOME at a writable directory"


def find_home() -> tuple[Path, str]:
    """(the wfrun home, the name of what chose it) without touching the file system."""
    env = os.environ.get("WFRUN_HOME")
    if env:
        return Path(env), "WFRUN_HOME"
    if os.environ.get("HOME") == "":
        raise WorkflowError("HOME is set but empty, so wfrun has no home for its runs; set HOME or WFRUN_HOME")
    try:
        home = Path.home()
    except (RuntimeError, KeyError):
        raise WorkflowError("HOME is not set and this user has no home directory; set HOME or WFRUN_HOME") from None
    return home / ".wfrun", "~/.wfrun"


def checked_home(*, writable: bool) -> Path:
    """The wfrun home; with ``writable`` it is created if missing and proven writable by writing to it.

    The write probe is real (not ``os.access``): root passes every access check
    but still cannot write to a read-only mount.
    """
    home, origin = find_home()
    what = f"{origin} {home}" if origin == "WFRUN_HOME" else str(home)
    if home.exists() and not home.is_dir():
        raise WorkflowError(f"{what} is not a directory (it is a file); point WFRUN_HOME at a directory")
    if not writable:
        return home
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkflowError(f"{what} cannot be created: {exc.strerror or exc}; {_WAY_OUT}") from None
    try:
        _probe_write(home)
    except OSError as exc:
        raise WorkflowError(f"{what} is not writable: {exc.strerror or exc}; {_WAY_OUT}") from None
    return home


def _probe_write(folder: Path) -> None:
    """Create and drop a nameless file in ``folder`` (OSError if that is refused)."""
    try:
        os.close(os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o600))
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            raise
        import tempfile  # a file system without O_TMPFILE

        with tempfile.TemporaryFile(dir=folder):
            pass
