"""Host and Origin checks in front of every route: DNS rebinding and cross-site requests.

A page on evil.example whose name is re-pointed at 127.0.0.1 reaches this server
with ``Host: evil.example``: only the names the server was bound to are
accepted. A cross-site form or fetch POST carries an ``Origin`` (or
``Sec-Fetch-Site: cross-site``) that is not this server: unsafe methods from
another origin are refused before any authentication runs. Non-browser clients
(curl, httpx) send neither header and are judged by their token alone.

Pure ASGI (not BaseHTTPMiddleware) so event streams pass through unbuffered.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from workflow_runner.serve.settings import ServeSettings

log = logging.getLogger("wfrun.serve")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


class GuardMiddleware:
    def __init__(self, app: ASGIApp, settings: ServeSettings) -> None:
        self.app = app
        self.settings = settings
        self.hosts = settings.host_names()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # lifespan; this app has no websockets
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "").strip().lower()
        if host not in self.hosts:
            await _refuse(send, 421 if host else 400,
                          f"Host header {host!r} is not this server (expected one of {', '.join(sorted(self.hosts))});"
                          " use --allowed-host NAME to serve another name")
            return
        if scope.get("method", "GET") not in SAFE_METHODS:
            why = self.cross_site(headers, host)
            if why:
                await _refuse(send, 403, why)
                return
        started = time.monotonic()
        status = [0]

        async def logged_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            # The path only: the login URL's query string holds the token.
            log.info("%s %s %s %.1fms", scope.get("method"), scope.get("path"), status[0],
                     (time.monotonic() - started) * 1000)

    def cross_site(self, headers: dict[str, str], host: str) -> str | None:
        """Why an unsafe request comes from another site, or None."""
        origin = headers.get("origin")
        if origin is not None:
            parts = urlsplit(origin)
            if origin == "null" or parts.scheme not in ("http", "https") or (parts.netloc.lower() not in (host, *self.hosts)):
                return f"cross-site request refused (Origin {origin!r} is not this server)"
            return None
        if headers.get("sec-fetch-site", "").lower() == "cross-site":
            return "cross-site request refused (Sec-Fetch-Site: cross-site)"
        return None


async def _refuse(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
