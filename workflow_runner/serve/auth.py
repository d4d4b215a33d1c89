"""Who may use the API: the bearer token, or the session cookie a login URL sets, plus CSRF for cookies.

- ``Authorization: Bearer <token>`` (scripts, the CLI-side tests): compared in constant time.
- Browsers open the login URL ``/login?token=…`` printed once at start: it sets
  ``wfrun_session`` (HttpOnly, SameSite=Strict; an HMAC of the token, so the
  cookie jar never holds the token itself) and ``wfrun_csrf`` (readable by the
  page's script), then redirects to a URL without the token.
- A cookie-authenticated unsafe request (POST …) must also carry the CSRF value
  in ``X-CSRF-Token`` or a ``csrf`` form field (double submit): another site can
  make the browser send the cookie, but cannot read it to copy it.
- Failed attempts (bad token on login or API) are rate-limited per client address.

``/health`` is the only route without :func:`require_auth`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from workflow_runner.serve.guard import SAFE_METHODS

SESSION_COOKIE = "wfrun_session"
CSRF_COOKIE = "wfrun_csrf"
CSRF_HEADER = "x-csrf-token"

MAX_FAILURES = 10
"""Failed attempts per client within :data:`WINDOW` seconds before it is told to wait (HTTP 429)."""
WINDOW = 60.0


class FailureLimiter:
    """Counts failed authentications per client address in a sliding window."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        seen = self._failures.setdefault(client, deque())
        while seen and seen[0] < now - self.window:
            seen.popleft()
        return seen

    def check(self, client: str) -> None:
        with self._lock:
            seen = self._recent(client, time.monotonic())
            if len(seen) >= self.limit:
                wait = int(seen[0] + self.window - time.monotonic()) + 1
                raise HTTPException(429, f"too many failed logins from {client}; try again in {wait}s",
                                    headers={"Retry-After": str(wait)})

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client, time.monotonic()).append(time.monotonic())
            if len(self._failures) > 10_000:  # bounded memory under a scan from many addresses
                self._failures = {k: v for k, v in self._failures.items() if v}


def session_value(token: str) -> str:
    """The cookie a login sets: derived from the token, useless for the Bearer header."""
    return hmac.new(token.encode(), b"wfrun-serve-session", hashlib.sha256).hexdigest()


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


async def require_auth(request: Request) -> None:
    """FastAPI dependency: a valid bearer token, or the session cookie (+ CSRF on unsafe methods); else 401/403."""
    settings = request.app.state.settings
    limiter: FailureLimiter = request.app.state.limiter
    header = request.headers.get("authorization")
    if header is not None:
        limiter.check(_client(request))
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and _same(given.strip(), settings.token):
            return
        limiter.failed(_client(request))
        raise HTTPException(401, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None:
        raise HTTPException(401, "authentication required: send 'Authorization: Bearer <token>' (the token is in"
                                 " $WFRUN_HOME/serve/token) or open the login URL wfrun serve printed",
                            headers={"WWW-Authenticate": "Bearer"})
    if not _same(cookie, session_value(settings.token)):
        limiter.failed(_client(request))
        raise HTTPException(401, "session expired (the server token changed): open the login URL again")
    if request.method not in SAFE_METHODS:
        await check_csrf(request)


async def check_csrf(request: Request) -> None:
    """Double submit: the ``wfrun_csrf`` cookie must equal the ``X-CSRF-Token`` header or the ``csrf`` form field."""
    expected = request.cookies.get(CSRF_COOKIE)
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf")
        given = value if isinstance(value, str) else None
    if not expected or not given or not _same(expected, given):
        raise HTTPException(403, "CSRF check failed: a cookie-authenticated POST needs the wfrun_csrf cookie's value"
                                 " in an X-CSRF-Token header or a 'csrf' form field")


router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path on this server: ``next=//evil.example`` must not turn the login into an open redirect."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login(request: Request, token: str | None, next_url: str | None) -> Response:
    settings = request.app.state.settings
    limiter: FailureLimiter = request.app.state.limiter
    limiter.check(_client(request))
    if not token or not _same(token, settings.token):
        limiter.failed(_client(request))
        return JSONResponse({"detail": "invalid login token"}, status_code=401)
    response = RedirectResponse(_safe_next(next_url), status_code=303)
    secure = settings.tls
    response.set_cookie(SESSION_COOKIE, session_value(settings.token), httponly=True, samesite="strict", secure=secure,
                        path="/")
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24), httponly=False, samesite="strict", secure=secure, path="/")
    response.headers["Referrer-Policy"] = "no-referrer"  # the token must not leak in a Referer header
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/login", include_in_schema=True, responses={303: {"description": "logged in; redirect"},
                                                           401: {"description": "invalid token"}})
def login(request: Request, token: str | None = None, next: str | None = None) -> Response:
    """Open the one-time login URL: set the session and CSRF cookies, redirect to a URL without the token."""
    return _login(request, token, next)


@router.post("/login", include_in_schema=False)
async def login_form(request: Request) -> Response:
    """A login form posting ``token`` (and ``next``): the token never enters the URL or the history."""
    form = await request.form()
    token, next_url = form.get("token"), form.get("next")
    return _login(request, token if isinstance(token, str) else None, next_url if isinstance(next_url, str) else None)


@router.post("/logout", dependencies=[Depends(require_auth)])
def logout() -> Response:
    response = JSONResponse({"detail": "logged out"})
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response
