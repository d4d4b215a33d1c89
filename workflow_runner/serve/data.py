"""What ``wfrun serve`` shows, as plain JSON-able data: the API routers and the HTML pages both call these.

Workflows (found under the served folder)::

    discover(root) -> list[WorkflowInfo]            every workflow file under root (cached by mtime)
    find_workflow(root, wf_id) -> WorkflowInfo      one of them by id (its path relative to root), or 404
    workflow_tree(root, wf_id, values) -> dict      definitions + resolved values + hidden/ignored + per-field errors
                                                    (the same resolver as ``wfrun inputs``; secrets masked)

Runs (from the run store and the run directories)::

    list_runs(store, workflow=, status=, limit=, before=) -> dict   {"runs": [...], "next": before-cursor or None}
    run_detail(store, run) -> dict                  the same data as ``wfrun status RUN --json``
    get_run(store, run) -> RunRow                   or 404 (liveness refreshed)
    relaunch_inputs(store, run) -> dict             the run's inputs without password values, for editing
    read_log(store, run, job, step, offset, limit)  a chunk of a step log and the offset to continue from

Errors are :class:`fastapi.HTTPException` (4xx with a ``detail``), so a page can show them as they are.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from workflow_runner import inputpath
from workflow_runner.errors import ErrorGroup, WorkflowError
from workflow_runner.masking import mask_tree
from workflow_runner.serve.confine import confine
from workflow_runner.state.queries import status_data
from workflow_runner.state.store import FINAL, RUN_FINAL, RunRow, RunStore

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache"})
MAX_FILES = 2000
"""Workflow files looked at per scan: a served home directory must not make every request walk it all."""


# ------------------------------------------------------------------ workflows


@dataclass(frozen=True)
class WorkflowInfo:
    id: str
    """The file's path relative to the served folder (POSIX separators): what the API names it by."""
    file: str
    name: str
    description: str | None = None


_SCAN: dict[tuple[str, str, int, int], WorkflowInfo | None] = {}
_LOCK = threading.Lock()


def _looks_like_workflow(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(200_000)
    except OSError:
        return False
    return any(line.startswith("jobs:") for line in head.splitlines())


def discover(root: Path) -> list[WorkflowInfo]:
    """Workflow files (``*.yaml``/``*.yml`` with a top-level ``jobs:``) under ``root``, sorted by id.

    Hidden folders and the usual vendored ones are skipped, symlinks are not followed out of root.
    """
    root = root.resolve()
    found: list[WorkflowInfo] = []
    seen = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(files):
            if not name.endswith((".yaml", ".yml")) or name.startswith("."):
                continue
            seen += 1
            if seen > MAX_FILES:
                return found
            path = Path(folder) / name
            info = _info(root, path)
            if info is not None:
                found.append(info)
    found.sort(key=lambda w: w.id)
    return found


def _info(root: Path, path: Path) -> WorkflowInfo | None:
    try:
        st = path.stat()
        real = path.resolve()
    except OSError:
        return None
    if not real.is_relative_to(root):
        return None
    rel = path.relative_to(root).as_posix()
    key = (str(root), rel, st.st_mtime_ns, st.st_size)
    with _LOCK:
        if key in _SCAN:
            return _SCAN[key]
    info = None
    if _looks_like_workflow(path):
        name, description = path.stem, None
        try:
            from workflow_runner.loader import load_file

            tree = load_file(path)
            name = str(tree.get("name") or name) if isinstance(tree, dict) else name
            description = tree.get("description") if isinstance(tree, dict) and isinstance(tree.get("description"), str) else None
        except WorkflowError:
            pass  # listed anyway: opening it shows the error
        info = WorkflowInfo(rel, str(path), name, description)
    with _LOCK:
        _SCAN[key] = info
    return info


def find_workflow(root: Path, wf_id: str) -> WorkflowInfo:
    path = confine(root, wf_id)
    if not path.is_file():
        raise HTTPException(404, f"no workflow file {wf_id!r} under the served folder")
    info = _info(root.resolve(), root.resolve() / wf_id)
    if info is None:
        raise HTTPException(404, f"{wf_id!r} is not a workflow (no top-level 'jobs:')")
    return info


def error_list(err: WorkflowError) -> list[dict[str, Any]]:
    """Errors as JSON: ``message`` (the CLI's one line), ``input`` (the field, when there is one), ``location``."""
    errors = err.errors if isinstance(err, ErrorGroup) else [err]
    return [{"message": str(e), "input": getattr(e, "input_path", None),
             "location": str(e.location) if e.location else None} for e in errors]


def load(info: WorkflowInfo) -> Any:
    from workflow_runner.validate import load_workflow

    try:
        return load_workflow(info.file)
    except WorkflowError as err:
        raise HTTPException(422, {"message": f"{info.id} is not a valid workflow", "errors": error_list(err)}) from None


def _password_values(defs: dict, values: Any) -> list[str]:
    """The strings the user gave for password inputs (also ones that failed to resolve): masked in every answer."""
    found: list[str] = []
    if not isinstance(values, dict):
        return found
    for name, spec in defs.items():
        if not isinstance(spec, dict) or name not in values:
            continue
        kind = spec.get("type")
        if kind == "password" and isinstance(values[name], str) and values[name]:
            found.append(values[name])
        elif kind == "group":
            found += _password_values(spec.get("items") or {}, values[name])
        elif kind == "list" and isinstance(values[name], list) and isinstance(spec.get("template"), dict):
            for item in values[name]:
                found += _password_values(spec["template"], item)
    return found


def _definitions(wf: Any) -> dict:
    """The input definitions as written (expressions as text), password defaults hidden."""
    import json

    tree = wf.tree.get("on", {}).get("execute", {}).get("inputs", {}) if hasattr(wf.tree, "get") else {}
    defs = json.loads(json.dumps(tree or {}, default=str))

    def hide(d: Any) -> None:
        if isinstance(d, dict):
            if d.get("type") == "password" and "default" in d:
                d["default"] = "***"
            for v in d.values():
                hide(v)

    hide(defs)
    return defs


def workflow_tree(root: Path, wf_id: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """One workflow's input form: definitions, the resolved values for ``values`` (partial is fine) and errors.

    ``errors`` lists every problem with its field (``input``); a value the form
    has not filled in yet shows as a 'required' error, not as a failure.
    """
    from workflow_runner import inputs as im
    from workflow_runner.userconfig import load_user_config

    info = find_workflow(root, wf_id)
    wf = load(info)
    given = values or {}
    try:
        user = load_user_config()
    except WorkflowError as err:
        raise HTTPException(422, {"message": "the wfrun config file is invalid", "errors": error_list(err)}) from None
    resolved, errors = im.resolve_report(wf, im.Sources([("form", given)]), clusters=user.clusters, named=user.named)
    secrets = list(resolved.secrets) + _password_values(wf.inputs, given)
    data = {
        "id": info.id, "name": wf.name, "file": info.file, "description": info.description,
        "definitions": _definitions(wf),
        "values": resolved.values, "hidden": resolved.hidden, "ignored": resolved.ignored,
        "warnings": resolved.warnings, "errors": [e for err in errors for e in error_list(err)],
        "configurations": sorted(wf.configurations),
    }
    data["valid"] = not data["errors"]
    return mask_tree(_jsonable(data), secrets)


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


# ------------------------------------------------------------------ runs


def get_run(store: RunStore, run: int) -> RunRow:
    row = store.get_run(run)
    if row is None:
        newest = store.newest_run()
        raise HTTPException(404, f"run {run} not found" + (f" (newest is {newest})" if newest else " (no runs yet)"))
    return row if row.final else (store.refresh_liveness(run) or row)


def list_runs(store: RunStore, *, workflow: str | None = None, status: list[str] | None = None, limit: int = 50,
              before: int | None = None) -> dict[str, Any]:
    """A page of runs, newest first. ``next`` is the ``before`` value of the following page (None at the end)."""
    bad = [s for s in status or [] if s not in RUN_FINAL | {"created", "running"}]
    if bad:
        raise HTTPException(400, f"unknown status {bad[0]!r} (one of: created, running, "
                                 f"{', '.join(sorted(RUN_FINAL))})")
    rows = store.list_runs(limit + 1, workflow=workflow, statuses=status or (), before=before)
    more = len(rows) > limit
    rows = rows[:limit]
    rows = [r if r.final else (store.refresh_liveness(r.id) or r) for r in rows]
    if status:  # a 'running' run found dead just became 'interrupted'
        rows = [r for r in rows if r.status in status]
    return {"runs": [summary(r) for r in rows], "next": rows[-1].id if more and rows else None}


def summary(row: RunRow) -> dict[str, Any]:
    """A run in a list: no inputs or argv (a list of 10,000 runs stays small)."""
    return {"id": row.id, "workflow": row.workflow, "file": row.file, "status": row.status, "exit_code": row.exit_code,
            "created": row.created, "started": row.started, "finished": row.finished, "duration": row.duration,
            "cancel_requested": row.cancel_requested, "attempt": row.attempt, "run_dir": row.run_dir}


def run_detail(store: RunStore, run: int) -> dict[str, Any]:
    """Everything ``wfrun status RUN --json`` prints."""
    return status_data(store, get_run(store, run))


def relaunch_inputs(store: RunStore, run: int, root: Path | None = None) -> dict[str, Any]:
    """The inputs to start ``run`` again with: stored values minus password ones (never stored; asked again).

    ``workflow`` is the id under ``root`` of the file the run used (None if it lies outside).
    """
    row = get_run(store, run)
    values = inputpath.without(row.inputs or {}, row.secret_paths or [])
    workflow = workflow_id_of(root, row) if root is not None else None
    return {"run": row.id, "workflow": workflow, "file": row.file, "inputs": values, "passwords": row.secret_paths or []}


def workflow_id_of(root: Path, row: RunRow) -> str | None:
    try:
        return Path(row.file).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return None  # started from a file outside the served folder


# ------------------------------------------------------------------ logs


LOG_CHUNK = 1 << 20
"""Default bytes per log request: a 100 MB log is read in 1 MiB pieces, never whole."""


def find_step(store: RunStore, row: RunRow, job: str, step: str) -> Any:
    """The step named ``step`` (or 1-based number; ``NAME (cleanup)`` for a cleanup) of ``job`` in ``row``."""
    steps = store.steps(row.id, job)
    if not steps and job not in {j.key for j in store.jobs(row.id)}:
        raise HTTPException(404, f"run {row.id} has no job {job!r}")
    if step.isdigit():
        chosen = [s for s in steps if s.index == int(step) - 1 and not s.cleanup]
    else:
        chosen = [s for s in steps if s.name == step]
    if not chosen:
        names = ", ".join(f"{s.index + 1}:{s.name}" for s in steps) or "none has run yet"
        raise HTTPException(404, f"job {job!r} of run {row.id} has no step {step!r} (its steps: {names})")
    return chosen[-1]


def read_log(store: RunStore, run: int, job: str, step: str, offset: int = 0, limit: int = LOG_CHUNK) -> dict[str, Any]:
    """Bytes ``offset``.. of a step's log (at most ``limit``), cut after the last whole line or UTF-8 character.

    ``next_offset`` is where to continue; ``complete`` is true once the step is
    final and everything was read (a follower stops polling then).
    """
    from workflow_runner.commands.lookup import guess_log

    row = get_run(store, run)
    s = find_step(store, row, job, step)
    if not row.run_dir:
        raise HTTPException(404, f"run {run} has no run directory yet")
    logged = guess_log(row.run_dir, s)
    base = {"run": run, "job": s.job, "step": s.name, "index": s.index + 1, "cleanup": s.cleanup, "status": s.status}
    if logged is None:
        return {**base, "path": None, "offset": offset, "next_offset": offset, "size": 0, "data": "",
                "complete": s.status in FINAL}
    rel = os.path.relpath(logged, row.run_dir) if os.path.isabs(logged) else logged
    path = confine(Path(row.run_dir), rel)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if offset > size:
                raise HTTPException(416, f"offset {offset} is past the end of the log ({size} bytes)")
            f.seek(offset)
            chunk = f.read(limit)
    except FileNotFoundError:
        size, chunk = 0, b""
    if len(chunk) == limit and offset + len(chunk) < size:
        cut = chunk.rfind(b"\n") + 1 or _utf8_boundary(chunk)
        chunk = chunk[:cut]
    end = offset + len(chunk)
    return {**base, "path": path.relative_to(Path(row.run_dir).resolve()).as_posix(), "offset": offset,
            "next_offset": end, "size": size, "data": chunk.decode("utf-8", "replace"),
            "complete": s.status in FINAL and end >= size}


def _utf8_boundary(chunk: bytes) -> int:
    """The length of ``chunk`` without a UTF-8 character cut in half at its end."""
    for back in range(1, min(4, len(chunk)) + 1):
        byte = chunk[-back]
        if byte & 0xC0 != 0x80:  # a lead byte (or ASCII): is its character whole?
            need = 1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
            return len(chunk) if need <= back else len(chunk) - back
    return len(chunk)


__all__ = ["WorkflowInfo", "discover", "find_workflow", "workflow_tree", "get_run", "list_runs", "run_detail",
           "relaunch_inputs", "read_log", "summary", "error_list", "workflow_id_of"]
