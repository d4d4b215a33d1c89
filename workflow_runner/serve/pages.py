"""The HTML pages of ``wfrun serve``: server-rendered (Jinja2) and live through htmx + its SSE extension.

Every page reads through :mod:`workflow_runner.serve.data` and acts through
:mod:`workflow_runner.serve.launcher`, exactly as the JSON API does, so a page
and ``curl`` can never disagree. The launch form is re-rendered by the server
(``POST /launch/form``) on every change: hidden/ignore/optional and expression
defaults come from the resolver of ``wfrun inputs``, never from JavaScript.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from workflow_runner import inputpath
from workflow_runner.serve import data, form_fields, launcher, run_view
from workflow_runner.serve.auth import CSRF_COOKIE

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["when"] = lambda ts: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else ""
STATUSES = ("created", "running", "completed", "failed", "canceled", "interrupted", "skipped")
PAGE = 25


def _render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("csrf", request.cookies.get(CSRF_COOKIE, ""))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _settings(request: Request) -> Any:
    return request.app.state.settings


def html_errors(handler: Any) -> Any:
    """A page that fails (unknown workflow or run, invalid workflow file) answers an HTML page with the reason."""
    import functools

    from starlette.concurrency import run_in_threadpool

    @functools.wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        request = kwargs["request"]
        try:
            return await run_in_threadpool(handler, *args, **kwargs)  # off the event loop, like a plain sync route
        except HTTPException as err:
            detail = err.detail if isinstance(err.detail, dict) else {"message": str(err.detail), "errors": []}
            return _render(request, "error.html", status_code=err.status_code, message=detail.get("message"),
                           errors=detail.get("errors") or [])
    return wrapper


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/workflows", status_code=303)


@router.get("/workflows", response_class=HTMLResponse)
def workflows(request: Request) -> HTMLResponse:
    return _render(request, "workflows.html", workflows=data.discover(_settings(request).root))


# ------------------------------------------------------------------ launch form


def _user() -> Any:
    from workflow_runner.userconfig import load_user_config

    try:
        return load_user_config()
    except Exception:  # the tree call reports an invalid config with its reason
        from workflow_runner.userconfig import UserConfig

        return UserConfig()


def _last_run(request: Request, name: str) -> int | None:
    rows = request.app.state.store.list_runs(1, workflow=name)
    return rows[0].id if rows else None


def form_context(request: Request, wf_id: str, given: dict[str, Any], touched: list[str],
                 extra_errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What ``_form.html`` draws: the resolved tree of ``given`` and its fields."""
    tree = data.workflow_tree(_settings(request).root, wf_id, given)
    if extra_errors:
        tree["errors"] = tree["errors"] + extra_errors
    fields = form_fields.build(tree["definitions"], tree, _user())
    general = [e["message"] for e in tree["errors"] if not e.get("input") or not _shown(fields, e["input"])]
    return {"wf": tree, "fields": fields, "touched": ",".join(touched), "general_errors": general,
            "multi": [f.path for f in _walk(fields) if f.widget == "multiselect"]}


def _walk(fields: list[form_fields.Field]) -> list[form_fields.Field]:
    out = []
    for f in fields:
        out.append(f)
        out += _walk(f.children)
        for item in f.items:
            out += _walk(item)
    return out


def _shown(fields: list[form_fields.Field], path: str) -> bool:
    return any(f.path == path for f in _walk(fields))


@router.get("/launch", response_class=HTMLResponse)
@html_errors
def launch_page(request: Request, wf: str = Query(...), config: str | None = None, run: int | None = None) -> HTMLResponse:
    """The form; ``config`` loads a ``configurations`` preset, ``run`` the inputs of an earlier run (relaunch)."""
    given: dict[str, Any] = {}
    note = None
    if run is not None:
        relaunch = data.relaunch_inputs(request.app.state.store, run, _settings(request).root)
        given = relaunch["inputs"]
        note = f"inputs of run {run}" + (" (password values are never stored: type them again)"
                                         if relaunch["passwords"] else "")
    elif config:
        from workflow_runner import inputs as im

        try:
            given = im.preset(data.load(data.find_workflow(_settings(request).root, wf)), config)
        except Exception as err:  # an unknown name: shown on the page
            raise HTTPException(404, str(err)) from None
        note = f"configuration {config!r}"
    context = form_context(request, wf, given, form_fields.flatten(given))
    info = data.find_workflow(_settings(request).root, wf)
    return _render(request, "launch.html", note=note, last_run=_last_run(request, context["wf"]["name"]), info=info,
                   **context)


def _apply_op(op: str, given: dict[str, Any], form: list[tuple[str, str]], touched: list[str]) -> None:
    """List buttons: ``add:PATH`` appends an item (its template's defaults fill it), ``del:PATH.N`` removes one."""
    verb, _, path = op.partition(":")
    if verb == "add":
        items = inputpath.get(given, path)
        if not isinstance(items, list):
            everything, _ = form_fields.posted_values(form + [("_touched", path)])
            items = inputpath.get(everything, path)
            items = list(items) if isinstance(items, list) else []
        items.append({})
        _put(given, path, items)
        touched.append(path)
    elif verb == "del":
        lst, _, index = path.rpartition(".")
        everything, _ = form_fields.posted_values(form + [("_touched", lst)])
        items = inputpath.get(everything, lst)
        items = list(items) if isinstance(items, list) else []
        if index.isdigit() and int(index) < len(items):
            items.pop(int(index))
        _put(given, lst, items)
        touched.append(lst)


def _put(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


@router.post("/launch/form", response_class=HTMLResponse)
async def launch_form(request: Request) -> HTMLResponse:
    """The form re-rendered for what the user typed so far (htmx swaps it in)."""
    form = list((await request.form()).multi_items())
    form = [(k, v) for k, v in form if isinstance(v, str)]
    wf = dict(form).get("wf", "")
    given, touched = form_fields.posted_values(form)
    op = dict(form).get("_op")
    if op:
        _apply_op(op, given, form, touched)
    return _render(request, "_form.html", **form_context(request, wf, given, touched))


@router.post("/launch")
async def launch(request: Request) -> Response:
    """Start the run (as the API does) and go to its page; invalid inputs re-render the form with the errors."""
    form = [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    wf = dict(form).get("wf", "")
    given, touched = form_fields.posted_values(form)
    try:
        started = launcher.start_run(_settings(request), wf, given)
    except HTTPException as err:
        detail = err.detail if isinstance(err.detail, dict) else {"message": str(err.detail), "errors": []}
        errors = detail.get("errors") or [{"message": detail.get("message"), "input": None}]
        context = form_context(request, wf, given, touched, [e for e in errors if not e.get("input")])
        return _render(request, "_form.html", status_code=200, **context)
    target = f"/runs/{started['run']}"
    return Response(status_code=204, headers={"HX-Redirect": target})


# ------------------------------------------------------------------ runs


@router.get("/runs", response_class=HTMLResponse)
def runs(request: Request, workflow: str | None = None, status: list[str] = Query([]), before: int | None = None,
         fragment: bool = False) -> HTMLResponse:
    workflow = workflow or None
    status = [s for s in status if s]
    page = data.list_runs(request.app.state.store, workflow=workflow, status=status, limit=PAGE, before=before)
    query = {"workflow": workflow or "", "status": status}
    next_url = "/runs?" + urlencode({**query, "before": page["next"]}, doseq=True) if page["next"] else None
    names = sorted({w.name for w in data.discover(_settings(request).root)} | ({workflow} if workflow else set()))
    context = dict(runs=page["runs"], next_url=next_url, workflow=workflow, status=status, statuses=STATUSES,
                   names=names, query=urlencode({**query, "before": before or ""}, doseq=True), now=time.time())
    return _render(request, "_runs_table.html" if fragment else "runs.html", **context)


@router.get("/runs/{run}", response_class=HTMLResponse)
@html_errors
def run_page(request: Request, run: int) -> HTMLResponse:
    return _render(request, "run.html", **run_view.context(request.app.state.store, run, _settings(request).root))


@router.get("/runs/{run}/panel", response_class=HTMLResponse)
def run_panel(request: Request, run: int) -> HTMLResponse:
    return _render(request, "_run_panel.html", **run_view.context(request.app.state.store, run, _settings(request).root))


@router.get("/runs/{run}/outputs", response_class=HTMLResponse)
def run_outputs(request: Request, run: int) -> HTMLResponse:
    """Output values (masked, from the store) and the files under outputs/ with links to download them."""
    from workflow_runner.serve.run_outputs import index_files, output_values, read_manifest

    store = request.app.state.store
    row = data.get_run(store, run)
    folder = Path(row.run_dir) if row.run_dir and Path(row.run_dir).is_dir() else None
    return _render(request, "_outputs.html", run=row, values=output_values(store, row),
                   files=index_files(folder) if folder else [], manifest=read_manifest(folder) if folder else None)


@router.post("/runs/{run}/cancel")
def cancel(request: Request, run: int) -> RedirectResponse:
    launcher.cancel(request.app.state.store, run)
    return RedirectResponse(f"/runs/{run}", status_code=303)


@router.post("/runs/{run}/rerun")
async def rerun(request: Request, run: int) -> Response:
    """Re-run the failed/canceled jobs; the password values come from the form (they were never stored)."""
    form = [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    given: dict[str, Any] = {}
    for key, value in form:
        if key.startswith(form_fields.PREFIX):
            _put(given, key[len(form_fields.PREFIX):], value)
    try:
        launcher.rerun_failed(_settings(request), request.app.state.store, run, given)
    except HTTPException as err:
        context = run_view.context(request.app.state.store, run, _settings(request).root)
        detail = err.detail if isinstance(err.detail, dict) else {"message": str(err.detail)}
        return _render(request, "run.html", status_code=err.status_code, action_error=detail.get("message"), **context)
    return RedirectResponse(f"/runs/{run}", status_code=303)


@router.get("/runs/{run}/relaunch")
@html_errors
def relaunch(request: Request, run: int) -> RedirectResponse:
    info = data.relaunch_inputs(request.app.state.store, run, _settings(request).root)
    if info["workflow"] is None:
        raise HTTPException(409, f"run {run} used {info['file']}, which is outside the served folder")
    return RedirectResponse("/launch?" + urlencode({"wf": info["workflow"], "run": run}), status_code=303)


__all__ = ["router", "form_context"]
