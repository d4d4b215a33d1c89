"""The run directory: one per run, numbered like the platform's job directories.

Layout (``$WFRUN_HOME`` defaults to ``~/.wfrun``)::

    $WFRUN_HOME/jobs/<workflow>/<NNNNN>/
        run.json                 summary written at the end (status, jobs, steps, failures)
        events.jsonl             every engine event, one JSON object per line (--json streams the same)
        logs/<job>/<NN>-<step>.log           combined stdout/stderr of each step (and .cleanup.log)
        outputs/<job>/<NN>-<step>.<attempt>  what the step wrote to $OUTPUTS

On a remote host the same layout lives under ``~/pw/jobs/<workflow>/<NNNNN>``,
the platform's own place for job directories.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import field
from pathlib import Path

from workflow_runner.records import ReadOnly, frozen

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


_MADE: set[Path] = set()
"""Folders this process already created (a 10,000-job run would otherwise mkdir 40,000 times)."""


def make_folder(folder: Path) -> None:
    """A step folder of the run exists: made the first time; made again, with a warning, if it vanished."""
    if folder not in _MADE:
        folder.mkdir(parents=True, exist_ok=True)
        _MADE.add(folder)
    elif not folder.is_dir():  # the run directory was deleted mid-run: make it again, and say so
        from workflow_runner.state.recordfile import ensure_dir

        ensure_dir(folder)


def wfrun_home() -> Path:
    return Path(os.environ.get("WFRUN_HOME") or Path.home() / ".wfrun")


def cache_dir(kind: str) -> Path:
    """``$WFRUN_HOME/cache/<kind>``: what wfrun keeps only to be faster next time (safe to delete)."""
    return wfrun_home() / "cache" / kind


def safe_name(text: str) -> str:
    """A path component made from a job or step name (no '/', no '..')."""
    cleaned = _UNSAFE.sub("_", text).strip("._") or "_"
    if len(cleaned) <= 80:
        return cleaned
    # Shortened with a digest of the whole name: bounded (nested sub-workflow keys
    # grow with depth) and still distinct when two long names share a prefix.
    return cleaned[:63] + "-" + hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


@frozen
class RunDir(ReadOnly):
    """A run's directory under the wfrun home: its logs, ``$OUTPUTS`` files and record, named by the run's number."""

    root: Path
    number: int
    workflow: str
    nested: tuple[str, ...] = field(default=())
    """Names of the sub-workflow runs from the top-level run down to this one (``child``), for the remote path.
    Kept here, not read back from ``root``: a ``WFRUN_HOME`` under a folder named ``sub`` is no nested run."""

    @classmethod
    def numbered(cls, workflow: str, number: int, home: Path | None = None) -> "RunDir":
        """The directory of run ``number`` (the run store's number), created if missing."""
        root = (home or wfrun_home()) / "jobs" / safe_name(workflow) / f"{number:05d}"
        root.mkdir(parents=True, exist_ok=True)
        return cls(root, number, workflow)

    @classmethod
    def allocate(cls, workflow: str, home: Path | None = None) -> "RunDir":
        """Create the next numbered directory; mkdir is the lock, so concurrent runs never share one."""
        base = (home or wfrun_home()) / "jobs" / safe_name(workflow)
        base.mkdir(parents=True, exist_ok=True)
        existing = [int(p.name) for p in base.iterdir() if p.name.isdigit()]
        number = max(existing, default=0) + 1
        while True:
            root = base / f"{number:05d}"
            try:
                root.mkdir()
                return cls(root, number, workflow)
            except FileExistsError:
                number += 1

    def child(self, name: str) -> "RunDir":
        """The directory of a sub-workflow run inside this one (same number).

        Every sub-run, however deeply nested, is a direct child of the top run's
        ``sub/`` (``name`` is the calling job's full key, unique per level): a
        path per level made a 300-deep chain fail with "File name too long".
        """
        top = self.root if self.root.name.isdigit() else self.root.parent.parent
        root = top / "sub" / safe_name(name)
        root.mkdir(parents=True, exist_ok=True)
        return RunDir(root, self.number, self.workflow, self.nested + (safe_name(name),))

    def step_file(self, kind: str, job: str, index: int, step: str, suffix: str, *, make: bool = True) -> Path:
        """The path of one step's file under ``kind`` (logs, outputs); its folder is made now unless ``make``
        is false (then :func:`make_folder` of the path's parent, before the file is first opened)."""
        folder = self.root / kind / safe_name(job)
        if make:
            make_folder(folder)
        return folder / f"{index + 1:02d}-{safe_name(step)}{suffix}"

    def remote_root(self, home: str) -> str:
        return f"{home.rstrip('/')}/pw/jobs/{safe_name(self.workflow)}/{self.number:05d}" + self._sub_suffix()

    def _sub_suffix(self) -> str:
        return "".join(f"/sub/{name}" for name in self.nested)
