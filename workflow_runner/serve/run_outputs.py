"""What a run produced, read for ``GET /api/runs/{run}/outputs``: values, files, manifest.

- *values*: what steps wrote to ``$OUTPUTS`` and each job's ``outputs:``, from
  the run store, where the recorder stored them already masked (``wfrun
  status --json`` shows the same), so no secret is ever read back here.
- *files*: every regular file under the run directory's ``outputs/`` folder,
  with its size and sha256. Hashes are cached by (path, size, mtime) so polling
  a big tree does not re-hash it. The raw ``$OUTPUTS`` files the engine keeps
  there (``outputs/<job>/<NN>-<step>.<attempt>``) are left out and not served
  (:func:`is_outputs_record`): they hold values *before* masking. Symlinks are
  not followed.
- *manifest*: a ``manifest.json`` the job wrote (``outputs/manifest.json``, else
  ``manifest.json`` in the run directory), shaped like the job runner's::

      {"experimentId": "exp-1", "outputs": [{"id": "weights", "path": "weights/model.pth"}]}

  Paths are relative to the manifest's folder; each entry is confined to the
  run directory and given its size and sha256 (or an ``error``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import threading
from collections import OrderedDict
from pathlib import Path, PurePosixPath
from typing import Any

from workflow_runner.serve.confine import confine
from workflow_runner.state.store import RunRow, RunStore

_RECORD = re.compile(r"^\d{2,}-[A-Za-z0-9_.-]+\.\d+$")
MAX_MANIFEST = 1 << 20


def is_outputs_record(rel: PurePosixPath) -> bool:
    """True for ``.../outputs/<job>/<NN>-<step>.<attempt>``: a raw, unmasked ``$OUTPUTS`` file of the engine."""
    parts = rel.parts
    return len(parts) >= 3 and parts[-3] == "outputs" and bool(_RECORD.match(parts[-1]))


class HashCache:
    """sha256 of files keyed by (path, size, mtime_ns); bounded, thread-safe (endpoints run in a thread pool)."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._known: OrderedDict[tuple[str, int, int], str] = OrderedDict()
        self.hashed = 0  # files actually read (tests check the cache works)

    def sha256(self, path: Path, st: os.stat_result) -> str:
        key = (str(path), st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._known:
                self._known.move_to_end(key)
                return self._known[key]
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        value = digest.hexdigest()
        with self._lock:
            self.hashed += 1
            self._known[key] = value
            while len(self._known) > self.max_entries:
                self._known.popitem(last=False)
        return value


HASHES = HashCache()


def output_values(store: RunStore, row: RunRow) -> dict[str, Any]:
    """{job: {"status", "outputs", "steps": [{"number", "name", "status", "outputs"}]}} of steps that wrote outputs."""
    with store.snapshot():
        jobs = store.jobs(row.id)
        steps = store.steps(row.id)
    out: dict[str, Any] = {j.key: {"status": j.status, "outputs": j.outputs or {}, "steps": []} for j in jobs}
    for s in steps:
        if s.cleanup or not s.outputs:
            continue
        entry = out.setdefault(s.job, {"status": "running", "outputs": {}, "steps": []})
        entry["steps"].append({"number": s.index + 1, "name": s.name, "status": s.status, "outputs": s.outputs})
    return out


def index_files(run_dir: Path, cache: HashCache = HASHES) -> list[dict[str, Any]]:
    """Regular files under ``run_dir/outputs`` (paths relative to ``run_dir``), without the raw $OUTPUTS records."""
    folder = run_dir / "outputs"
    found: list[dict[str, Any]] = []
    if not folder.is_dir() or folder.is_symlink():
        return found
    for parent, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(parent) / name
            rel = PurePosixPath(path.relative_to(run_dir).as_posix())
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(st.st_mode) or is_outputs_record(rel):
                continue
            found.append({"path": str(rel), "size": st.st_size, "mtime": st.st_mtime,
                          "sha256": cache.sha256(path, st)})
    return found


def read_manifest(run_dir: Path, cache: HashCache = HASHES) -> dict[str, Any] | None:
    """The job's manifest.json with each output's size and sha256, None if it wrote none."""
    for where in ("outputs/manifest.json", "manifest.json"):
        try:
            path = confine(run_dir, where)
        except ValueError:
            continue
        if path.is_file():
            break
    else:
        return None
    rel_manifest = path.relative_to(Path(os.path.realpath(run_dir))).as_posix()
    if path.stat().st_size > MAX_MANIFEST:
        return {"path": rel_manifest, "error": f"larger than {MAX_MANIFEST} bytes, not read"}
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        return {"path": rel_manifest, "error": f"not valid JSON: {exc}"}
    if not isinstance(data, dict) or not isinstance(data.get("outputs", []), list):
        return {"path": rel_manifest, "error": "expected an object with an 'outputs' list"}
    base = PurePosixPath(rel_manifest).parent
    outputs = [_manifest_entry(run_dir, base, item, cache) for item in data.get("outputs", [])]
    return {"path": rel_manifest, "experimentId": data.get("experimentId"), "outputs": outputs}


def _manifest_entry(run_dir: Path, base: PurePosixPath, item: Any, cache: HashCache) -> dict[str, Any]:
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        return {"entry": item, "error": "expected {'id': ..., 'path': ...}"}
    entry: dict[str, Any] = {"id": item.get("id"), "path": item["path"]}
    try:
        if PurePosixPath(item["path"]).is_absolute():
            raise ValueError("absolute path not allowed")
        rel = str(base / item["path"])
        target = confine(run_dir, rel)
        if is_outputs_record(PurePosixPath(rel)):
            raise ValueError("a raw $OUTPUTS record is not served")
    except ValueError as exc:
        entry["error"] = str(exc)
        return entry
    entry["file"] = rel  # for GET /api/runs/{run}/files/{file}
    try:
        st = os.stat(target)
    except FileNotFoundError:
        entry["error"] = "missing"
        return entry
    if stat.S_ISREG(st.st_mode):
        entry.update(size=st.st_size, sha256=cache.sha256(target, st))
    else:
        entry["error"] = "not a regular file"
    return entry
