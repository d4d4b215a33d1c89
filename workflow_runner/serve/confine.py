"""Map a client-supplied relative path to a file inside a root directory, or refuse.

Every endpoint that serves a file by a path from the URL goes through
:func:`confine`, so the checks live in one place: a path is refused for what it
*says* (absolute, ``..``, NUL) before the file system is touched, and for where
it *leads* after symlinks are resolved, so a link planted in a run directory
cannot expose a file outside it. Starlette has already percent-decoded the
path, so ``%2e%2e`` arrives here as ``..``.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath


class ConfineError(ValueError):
    """The path is refused; the message says why (it becomes the HTTP 4xx ``detail``)."""


def confine(root: Path, relpath: str) -> Path:
    """``root/relpath`` with symlinks resolved, guaranteed inside ``root``; else :class:`ConfineError`."""
    if not relpath or "\x00" in relpath:
        raise ConfineError("empty path or NUL byte in path")
    if relpath.startswith(("/", "\\")) or PurePosixPath(relpath).is_absolute() or os.path.isabs(relpath):
        raise ConfineError(f"absolute path not allowed: {relpath!r}")
    if ".." in PurePosixPath(relpath.replace("\\", "/")).parts:
        raise ConfineError(f"'..' not allowed in path: {relpath!r}")
    base = Path(os.path.realpath(root))
    target = Path(os.path.realpath(base / relpath))
    if target != base and base not in target.parents:
        raise ConfineError(f"path leads outside its directory (through a symlink): {relpath!r}")
    return target
