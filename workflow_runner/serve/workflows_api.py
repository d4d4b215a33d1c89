"""``/api/workflows``: the workflows under the served folder and their input forms."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field

from workflow_runner.serve import data

router = APIRouter(tags=["workflows"])


class ResolveRequest(BaseModel):
    workflow: str = Field(description="the workflow's id (its path under the served folder)")
    inputs: dict[str, Any] = Field(default_factory=dict, description="values so far (partial is fine)")


@router.get("/api/workflows", summary="The workflows under the served folder")
def list_workflows(request: Request) -> list[dict[str, Any]]:
    return [asdict(w) for w in data.discover(request.app.state.settings.root)]


@router.post("/api/workflows/resolve", summary="Resolve partial input values: the tree and per-field errors")
def resolve(request: Request, body: ResolveRequest = Body(...)) -> dict[str, Any]:
    """The same resolution as ``wfrun inputs``: defaults, hidden/ignore/optional evaluated, values coerced.

    A form calls this as the user types; ``errors`` name their field in ``input``.
    Password values are masked in the answer.
    """
    return data.workflow_tree(request.app.state.settings.root, body.workflow, body.inputs)


@router.get("/api/workflows/{wf_id:path}", summary="One workflow: its input definitions and default values")
def get_workflow(request: Request, wf_id: str) -> dict[str, Any]:
    return data.workflow_tree(request.app.state.settings.root, wf_id, {})
