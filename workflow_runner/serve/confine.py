"""Confine a request-supplied relative path to one directory (a run directory, a dataset root).

Every file-serving endpoint takes a path from the request; this is the single
place that decides whether it may be opened, so the traversal rules cannot drift
between routers. Rejected: absolute paths, any ``..`` component, NUL bytes, and
anything whose symlink-resolved location leaves ``root`` (a symlink *inside*
the root that points elsewhere inside it is fine). The check resolves the real
path, so it also holds for symlinked parent directories.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from fastapi import HTTPException


class PathRejected(HTTPException, ValueError):
    """A request path that may not be served; FastAPI renders it as a 4xx with a JSON ``detail``.

    Also a ValueError, so code that checks paths a file names (a job's ``manifest.json``)
    can report the reason per entry instead of failing the whole request."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(status_code=status_code, detail=detail)


def confine(root: Path, relpath: str) -> Path:
    """Return the resolved path of ``relpath`` inside ``root``, or raise :class:`PathRejected`.

    ``""`` and ``"."`` name the root itself. The file need not exist (the caller
    answers 404 for a missing one); the answer is the real (symlink-free) path.
    """
    if "\x00" in relpath:
        raise PathRejected(400, "path contains a NUL byte")
    if "\\" in relpath:
        raise PathRejected(400, f"path {relpath!r} contains a backslash")
    pure = PurePosixPath(relpath)
    if pure.is_absolute() or relpath.startswith("~"):
        raise PathRejected(400, f"path {relpath!r} must be relative to the run directory")
    if any(part == ".." for part in pure.parts):
        raise PathRejected(400, f"path {relpath!r} may not contain '..'")
    real_root = Path(root).resolve()
    target = (real_root / pure).resolve()
    if target != real_root and not target.is_relative_to(real_root):
        raise PathRejected(403, f"path {relpath!r} leaves its directory (symlink)")
    return target
