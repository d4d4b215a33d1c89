"""``wfrun serve``: a run's session links — under ``sessions`` in its API JSON (as ``wfrun status --json``) and as
links on its run page (the ``redirect`` one the main one), gone once the run is canceled."""

from __future__ import annotations

import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from serve_env import make_served

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "session.yaml"


@pytest.fixture
def served(tmp_path, monkeypatch):
    s = make_served(tmp_path, monkeypatch)
    shutil.copy(EXAMPLE, s.root / "session.yaml")
    with s.client:
        yield s


def test_session_link_in_the_run_json_and_on_the_run_page(served):
    run = served.post("/api/runs", json={"workflow": "session.yaml", "inputs": {}}).json()["run"]
    try:
        deadline = time.monotonic() + 60
        sessions: list = []
        while time.monotonic() < deadline:
            data = served.get(f"/api/runs/{run}").json()
            sessions = [s for s in data.get("sessions", []) if s["state"] == "open"]
            if sessions:
                break
            assert data["status"] in ("created", "running"), data
            time.sleep(0.2)
        [session] = sessions
        assert session["name"] == "files" and session["url"].startswith("http://127.0.0.1:")
        with urllib.request.urlopen(session["url"], timeout=10) as answer:
            assert answer.read().decode().startswith("Hello from ")
        page = served.get(f"/runs/{run}").text
        assert f'id="session-files" href="{session["url"]}"' in page
        assert 'class="button small session primary"' in page  # redirect: true, the run's main link
    finally:
        served.post(f"/api/runs/{run}/cancel")
    assert served.wait_final(run)["status"] == "canceled"
    assert served.get(f"/api/runs/{run}").json()["sessions"][0]["state"] == "closed"
    page = served.get(f"/runs/{run}").text
    assert "files (closed)" in page and 'id="session-files"' not in page
