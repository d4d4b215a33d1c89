"""``/api/runs/{run}/log``: a step's log in chunks from a byte offset (a 100 MB log is never read whole)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from workflow_runner.serve import data
from workflow_runner.serve.runs_api import RunNumber

router = APIRouter(tags=["logs"])


@router.get("/api/runs/{run}/log", summary="A chunk of a step's log, from a byte offset; returns the next offset")
def read_log(request: Request, run: RunNumber, job: str = Query(..., description="the job key, as in the run's status"),
             step: str = Query(..., description="the step's 1-based number or its name ('NAME (cleanup)' for a cleanup)"),
             offset: int = Query(0, ge=0, le=2**62), limit: int = Query(data.LOG_CHUNK, ge=1, le=16 * data.LOG_CHUNK)) -> dict[str, Any]:
    return data.read_log(request.app.state.store, run, job, step, offset, limit)
