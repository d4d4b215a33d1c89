"""Datasets over HTTP: upload (verified, de-duplicated, archives extracted safely), look up, list, read files.

::

    POST /api/datasets?sha256=<hex>&name=<file name>   raw request body = the bytes; 201 new, 200 already stored
    GET  /api/datasets                                  every dataset, newest first
    GET  /api/datasets/{sha256}   (HEAD too)            its description, 404 if absent
    GET  /api/datasets/{sha256}/exists                  {"exists": bool, "info": ...} (the job runner's shape)
    GET  /api/datasets/{sha256}/files/{path}            one file of it, confined to it

The body is streamed to disk while hashed (no multipart parsing, no copy in
memory). Storage and extraction are :mod:`workflow_runner.datasets` and
:mod:`workflow_runner.safe_extract`; this module only maps them to HTTP. Limits
come from ``app.state.settings.dataset_limits`` (an ``ExtractLimits``) and
``.max_upload`` (bytes) when the app sets them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response

from workflow_runner.datasets import DatasetError, DatasetInfo, DatasetStore
from workflow_runner.serve.confine import confine
from workflow_runner.serve.homeof import home_of

router = APIRouter()


def _store(request: Request) -> DatasetStore:
    settings = getattr(request.app.state, "settings", None)
    kwargs: dict[str, Any] = {}
    if getattr(settings, "dataset_limits", None) is not None:
        kwargs["limits"] = settings.dataset_limits
    if getattr(settings, "max_upload", None) is not None:
        kwargs["max_upload"] = settings.max_upload
    return DatasetStore(home_of(request), **kwargs)


def _get(request: Request, sha256: str) -> DatasetInfo | None:
    try:
        return _store(request).get(sha256)
    except DatasetError as exc:
        raise HTTPException(exc.status, detail=str(exc)) from None


@router.post("/api/datasets")
async def upload_dataset(request: Request, sha256: str, name: str = "data") -> JSONResponse:
    """Store the request body as a dataset if it hashes to ``sha256``; a mismatch stores nothing (400)."""
    store = _store(request)
    try:
        pending = store.begin(name, sha256)
    except DatasetError as exc:
        raise HTTPException(exc.status, detail=str(exc)) from None
    try:
        async for chunk in request.stream():
            pending.write(chunk)
        info, created = await run_in_threadpool(pending.commit)
    except DatasetError as exc:
        raise HTTPException(exc.status, detail=str(exc)) from None
    finally:
        pending.abort()  # idempotent: the temporary upload never outlives the request
    return JSONResponse({**info.to_json(), "deduplicated": not created}, status_code=201 if created else 200)


@router.get("/api/datasets")
def list_datasets(request: Request) -> dict[str, Any]:
    return {"datasets": [i.to_json() for i in _store(request).list()]}


@router.head("/api/datasets/{sha256}", response_model=None)
def head_dataset(sha256: str, request: Request) -> Response:
    """Whether the dataset is stored: 200 or 404 (a HEAD answer has no body; the reason is in X-Wfrun-Detail)."""
    try:
        found = _get(request, sha256)
    except HTTPException as exc:  # a malformed sha256
        return Response(status_code=exc.status_code, headers={"X-Wfrun-Detail": _header_text(str(exc.detail))})
    if found:
        return Response(status_code=200)
    return Response(status_code=404, headers={"X-Wfrun-Detail": _header_text(f"no dataset {sha256}")})


def _header_text(text: str) -> str:
    """HTTP header values are Latin-1 without control characters: escape anything else (a request's own text)."""
    return "".join(c if " " <= c <= "~" else c.encode("unicode_escape").decode("ascii") for c in text)


@router.get("/api/datasets/{sha256}", response_model=None)
def get_dataset(sha256: str, request: Request) -> Any:
    info = _get(request, sha256)
    if info is None:
        raise HTTPException(404, detail=f"no dataset {sha256}")
    return info.to_json()


@router.get("/api/datasets/{sha256}/exists")
def dataset_exists(sha256: str, request: Request) -> dict[str, Any]:
    info = _get(request, sha256)
    return {"exists": True, "info": info.to_json()} if info else {"exists": False}


@router.get("/api/datasets/{sha256}/files/{path:path}")
def dataset_file(sha256: str, path: str, request: Request) -> FileResponse:
    info = _get(request, sha256)
    if info is None:
        raise HTTPException(404, detail=f"no dataset {sha256}")
    root = _store(request).root / info.sha256 / "data"
    try:
        target = confine(root, path)
    except ValueError as exc:
        raise HTTPException(400, detail=str(exc)) from None
    if not target.is_file():
        raise HTTPException(404, detail=f"no file {path!r} in dataset {info.sha256}")
    return FileResponse(target, filename=target.name)
