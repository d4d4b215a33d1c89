"""``GET /api/runs/{run}/outputs`` and ``GET /api/runs/{run}/files/{path}``: what a run produced.

Thin over :mod:`workflow_runner.serve.run_outputs` (values, file index,
manifest) and :func:`~workflow_runner.serve.confine.confine` (every served
path stays inside the run directory). RUN is a run number or ``last``, as for
``wfrun status``. Endpoints are plain ``def``: FastAPI runs them in its thread
pool, so hashing and SQLite reads do not block the event loop.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from workflow_runner.commands.lookup import resolve_run
from workflow_runner.errors import WorkflowError
from workflow_runner.serve.confine import confine
from workflow_runner.serve.homeof import home_of
from workflow_runner.serve.run_outputs import index_files, is_outputs_record, output_values, read_manifest
from workflow_runner.state.store import RunRow, RunStore

router = APIRouter()


def _open_run(request: Request, run: str) -> tuple[RunStore, RunRow]:
    """The store (caller closes it) and the run row; 404 when there is no such run."""
    text = run.strip().lower()
    if not (text.isdigit() or text in ("last", "latest")):
        raise HTTPException(400, detail=f"run must be a run number or 'last', not {run!r}")
    db = home_of(request) / "runs.db"
    if not db.is_file():
        raise HTTPException(404, detail=f"no runs recorded yet (no {db})")
    store = RunStore(db)
    try:
        return store, resolve_run(store, text)
    except WorkflowError as exc:
        store.close()
        raise HTTPException(404, detail=str(exc)) from None


def _run_dir(row: RunRow) -> Path:
    if not row.run_dir or not Path(row.run_dir).is_dir():
        raise HTTPException(404, detail=f"run {row.id} has no run directory on this host")
    return Path(row.run_dir)


@router.get("/api/runs/{run}/outputs")
def run_outputs(run: str, request: Request) -> dict[str, Any]:
    """Masked $OUTPUTS values per job and step, the files under outputs/ (size, sha256), and the manifest."""
    store, row = _open_run(request, run)
    try:
        values = output_values(store, row)
    finally:
        store.close()
    body: dict[str, Any] = {"run": row.id, "workflow": row.workflow, "status": row.status, "values": values,
                            "files": [], "manifest": None}
    if row.run_dir and Path(row.run_dir).is_dir():
        root = Path(row.run_dir)
        body["files"] = index_files(root)
        body["manifest"] = read_manifest(root)
    return body


@router.get("/api/runs/{run}/files/{path:path}")
def run_file(run: str, path: str, request: Request) -> FileResponse:
    """One file of the run directory, streamed; refused if the path leaves the directory."""
    store, row = _open_run(request, run)
    store.close()
    root = _run_dir(row)
    try:
        target = confine(root, path)
    except ValueError as exc:
        raise HTTPException(400, detail=str(exc)) from None
    rel = PurePosixPath(target.relative_to(Path(os.path.realpath(root))).as_posix())
    if is_outputs_record(rel):
        raise HTTPException(403, detail=f"{rel} is a raw $OUTPUTS record (unmasked); "
                                        f"read the masked values from /api/runs/{row.id}/outputs")
    if not target.exists():
        raise HTTPException(404, detail=f"no file {path!r} in run {row.id}")
    if not target.is_file():
        raise HTTPException(400, detail=f"{path!r} is not a regular file")
    return FileResponse(target, filename=target.name)
