"""Parsed YAML trees kept between processes, so a run of an unchanged file skips ruamel.yaml.

Importing ruamel.yaml and parsing a workflow of everyday size cost 10-20 ms before a run's
first job, a large share of its start-up. Parsing is a pure function
of the file's bytes and the name its locations carry, so a tree is kept under a hash of
both (and of wfrun's version) and needs no invalidation: an edited file has other bytes.

The trees are pickles, and unpickling runs code a pickle names. So a tree is only read
from a folder this user owns that nobody else can write, and the unpickler accepts the
four classes a tree is made of and nothing else (the standard "restricting globals"
pattern). A cache that cannot be used or written costs a parse, never an error.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import stat
from pathlib import Path

from workflow_runner.loader import YMap, decode, load_text, read_source

KEEP = 256
"""Trees kept; past this, the least recently used half goes when a new one is written."""

LARGEST = 256 * 1024
"""Files up to this size are kept (real workflows are under 100 KB). Beyond, parsing is most of
the work either way, and pickling a 10,000-job tree cost more (0.4 s) than loading it saved."""

_FORMAT = b"wfrun-tree-1"
"""Changes when the tree's classes change shape (with wfrun's version, part of every key)."""

_ALLOWED = {
    ("workflow_runner.loader", "YMap"),
    ("workflow_runner.loader", "YList"),
    ("workflow_runner.errors", "Location"),
    ("workflow_runner.errors", "ScalarOrigin"),
}


class _TreeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> type:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a tree")
        return super().find_class(module, name)


def load(path: str | Path, folder: Path | None) -> YMap:
    """The tree of the YAML file at ``path`` (``loader.load_file``), from ``folder`` when it holds it."""
    path = Path(path)
    data = read_source(path)
    if folder is None or len(data) > LARGEST:
        return load_text(decode(data, str(path)), str(path))
    name = key(data, str(path))
    tree = _read(folder, name)
    if tree is None:
        tree = load_text(decode(data, str(path)), str(path))
        _write(folder, name, tree)
    return tree


def key(data: bytes, filename: str) -> str:
    from workflow_runner import __version__

    h = hashlib.sha256(_FORMAT + b"\0" + __version__.encode() + b"\0")
    h.update(filename.encode("utf-8", "surrogateescape") + b"\0")
    h.update(data)
    return h.hexdigest()


def _private(folder: Path) -> bool:
    """The folder is ours and nobody else can write to it (else its pickles are not to be trusted)."""
    try:
        st = os.stat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read(folder: Path, name: str) -> YMap | None:
    file = folder / name
    try:
        data = file.read_bytes()
    except OSError:
        return None
    if not _private(folder):
        return None
    try:
        tree = _TreeUnpickler(io.BytesIO(data)).load()
    except Exception:  # noqa: BLE001 - a damaged or foreign entry is a miss
        return None
    if not isinstance(tree, YMap):
        return None
    try:
        os.utime(file)  # recently used: kept when the folder is pruned
    except OSError:
        pass
    return tree


def _write(folder: Path, name: str, tree: YMap) -> None:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(folder):
            return
        tmp = folder / f".tmp-{os.getpid()}-{name}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                pickle.dump(tree, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, folder / name)
        except BaseException:
            os.unlink(tmp)
            raise
        _prune(folder)
    except (OSError, pickle.PicklingError, RecursionError):
        pass  # a read-only or full home costs the next run a parse


def _prune(folder: Path) -> None:
    """Past KEEP trees, drop the least recently used half (and what a killed writer left behind)."""
    entries = list(os.scandir(folder))
    if len(entries) <= KEEP:
        return
    entries.sort(key=lambda e: e.stat().st_mtime_ns)
    for entry in entries[: len(entries) - KEEP // 2]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass
