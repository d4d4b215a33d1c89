"""``/api/runs``: list, start, show, cancel, re-run the failed jobs of, and relaunch runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, Field

from workflow_runner.serve import data, launcher

router = APIRouter(tags=["runs"])

RunNumber = Annotated[int, Path(ge=1, le=2**62, description="the run number (as in 'wfrun runs')")]


class StartRequest(BaseModel):
    workflow: str = Field(description="the workflow's id (its path under the served folder, see GET /api/workflows)")
    inputs: dict[str, Any] = Field(default_factory=dict, description="input values (passwords are never stored)")


class RerunRequest(BaseModel):
    inputs: dict[str, Any] = Field(default_factory=dict, description="the run's password values again")


def _store(request: Request) -> Any:
    return request.app.state.store


@router.get("/api/runs", summary="Runs, newest first, filtered and paged")
def list_runs(request: Request, workflow: str | None = Query(None, description="only runs of this workflow name"),
              status: list[str] = Query([], description="only runs in these statuses (repeatable)"),
              limit: int = Query(50, ge=1, le=1000), before: int | None = Query(None, ge=1, le=2**62,
                                                                                   description="page: runs numbered below")) -> dict[str, Any]:
    return data.list_runs(_store(request), workflow=workflow, status=status, limit=limit, before=before)


@router.post("/api/runs", status_code=201, summary="Start a run (as a background wfrun run); its number")
def start_run(request: Request, body: StartRequest = Body(...)) -> dict[str, Any]:
    return launcher.start_run(request.app.state.settings, body.workflow, body.inputs)


@router.get("/api/runs/{run}", summary="One run: the same data as 'wfrun status RUN --json'")
def get_run(request: Request, run: RunNumber) -> dict[str, Any]:
    return data.run_detail(_store(request), run)


@router.post("/api/runs/{run}/cancel", summary="Cancel a run (like 'wfrun cancel'; cleanups still run)")
def cancel_run(request: Request, run: RunNumber) -> dict[str, Any]:
    return launcher.cancel(_store(request), run)


@router.post("/api/runs/{run}/rerun-failed", summary="Re-run the failed jobs (a new attempt of the same run)")
def rerun_failed(request: Request, run: RunNumber, body: RerunRequest = Body(default_factory=RerunRequest)) -> dict[str, Any]:
    """Like ``wfrun rerun RUN --failed``: completed jobs carry over; failed, canceled and skipped ones run again."""
    return launcher.rerun_failed(request.app.state.settings, _store(request), run, body.inputs)


@router.get("/api/runs/{run}/relaunch", summary="The run's inputs for editing (password values omitted)")
def relaunch(request: Request, run: RunNumber) -> dict[str, Any]:
    return data.relaunch_inputs(_store(request), run, request.app.state.settings.root)
