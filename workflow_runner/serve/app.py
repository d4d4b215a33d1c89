"""``create_app(settings)``: the FastAPI application of ``wfrun serve``.

Routers: auth (``/login``), workflows, runs, events (SSE), logs — all but
``/health`` and ``/login`` behind :func:`~workflow_runner.serve.auth.require_auth`.
The HTML pages (``pages``) are behind it too; ``/static`` (vendored htmx,
cytoscape, dagre and the pages' own css/js) is public: it holds no data. The
outputs/datasets routers are included when present, with the same dependency. In front of everything,
:class:`~workflow_runner.serve.guard.GuardMiddleware` checks Host and Origin.

The app holds one :class:`RunStore` connection (thread-safe) for reads; it
writes only what ``wfrun status``/``cancel`` write (liveness, cancel flag).
"""

from __future__ import annotations

import importlib
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from workflow_runner import __version__
from workflow_runner.errors import WorkflowError
from workflow_runner.serve.auth import FailureLimiter, require_auth
from workflow_runner.serve.auth import router as auth_router
from workflow_runner.serve.guard import GuardMiddleware
from workflow_runner.serve.settings import ServeSettings

OPTIONAL_ROUTERS = ("outputs_api", "datasets_api")
"""Modules of this package written separately; included when importable."""


def create_app(settings: ServeSettings) -> FastAPI:
    from workflow_runner.serve import events, logs_api, pages, runs_api, workflows_api
    from workflow_runner.state.store import RunStore

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.store.close()

    app = FastAPI(title="wfrun serve", version=__version__, lifespan=lifespan, openapi_url=None, docs_url=None,
                  redoc_url=None,
                  description="The runs of this user's wfrun run store and the workflows under the served folder. "
                              "Authenticate with 'Authorization: Bearer <token>' ($WFRUN_HOME/serve/token).")
    app.state.settings = settings
    app.state.store = RunStore(settings.store_path)
    app.state.limiter = FailureLimiter()
    app.state.should_exit = lambda: False  # `wfrun serve` points it at uvicorn's flag: streams end on shutdown

    @app.get("/health", tags=["health"], summary="Liveness (no authentication)")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    app.include_router(auth_router, tags=["auth"])
    protected = [Depends(require_auth)]

    @app.get("/openapi.json", include_in_schema=False, dependencies=protected)
    def openapi() -> dict[str, Any]:
        """The API's OpenAPI document (behind the token like everything but /health)."""
        return app.openapi()

    @app.get("/docs", include_in_schema=False, dependencies=protected)
    def docs() -> Any:
        from fastapi.openapi.docs import get_swagger_ui_html

        return get_swagger_ui_html(openapi_url="/openapi.json", title="wfrun serve API")
    for module in (workflows_api, runs_api, events, logs_api, pages):
        app.include_router(module.router, dependencies=protected)
    for name in OPTIONAL_ROUTERS:
        try:
            module = importlib.import_module(f"workflow_runner.serve.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"workflow_runner.serve.{name}":
                raise
            continue
        app.include_router(module.router, dependencies=protected)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @app.exception_handler(WorkflowError)
    async def user_error(request: Request, exc: WorkflowError) -> JSONResponse:
        from workflow_runner.serve.data import error_list

        return JSONResponse({"detail": {"message": str(exc), "errors": error_list(exc)}}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"message": e.get("msg"), "input": ".".join(str(p) for p in e.get("loc", ())), "location": None}
                  for e in exc.errors()]
        what = "; ".join(f"{e['input']}: {e['message']}" for e in errors)
        return JSONResponse({"detail": {"message": f"invalid request: {what}", "errors": errors}}, status_code=422)

    app.add_middleware(GuardMiddleware, settings=settings)
    return app


__all__ = ["create_app"]
