"""The wfrun home an API request works in: the app's settings, else wfrun's own resolution.

``wfrun serve`` puts its settings on ``app.state.settings`` (with ``home``);
a bare app (tests, another embedding) falls back to ``$WFRUN_HOME`` / ``~/.wfrun``
exactly as the CLI finds it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Request

from workflow_runner.homedir import find_home


def home_of(request: Request) -> Path:
    settings = getattr(request.app.state, "settings", None)
    home = getattr(settings, "home", None)
    return Path(home) if home is not None else find_home()[0]
