"""Helpers for the ``wfrun serve`` tests: a served folder, its app, a client, a real server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from workflow_runner.serve.app import create_app
from workflow_runner.serve.settings import ServeSettings, load_or_create_token

HELLO = """\
name: hello
'on':
  execute:
    inputs:
      who: {type: string, default: world}
      count: {type: number, default: 2, min: 1, max: 5}
      pw: {type: password, optional: true}
      advanced: {type: boolean, default: false}
      extra: {type: string, default: x, hidden: "${{ !inputs.advanced }}"}
jobs:
  greet:
    steps:
      - name: say
        run: echo "hello ${{ inputs.who }} x${{ inputs.count }} pw=${{ inputs.pw }}"
"""

FLAKY = """\
name: flaky
'on':
  execute:
    inputs:
      dir: {type: string}
      pw: {type: password, optional: true}
jobs:
  independent:
    steps:
      - run: echo once >> "${{ inputs.dir }}/independent.count"
  first-try-fails:
    steps:
      - name: before
        run: echo before >> "${{ inputs.dir }}/before.count"
      - name: flaky
        run: |
          if [ -f "${{ inputs.dir }}/flag" ]; then echo fixed; else touch "${{ inputs.dir }}/flag"; exit 3; fi
  after:
    needs: [first-try-fails]
    steps:
      - run: echo after >> "${{ inputs.dir }}/after.count"
"""

CHATTY = """\
name: chatty
'on':
  execute:
    inputs:
      lines: {type: number, default: 20}
      pause: {type: number, default: 0.05}
jobs:
  talk:
    steps:
      - name: lines
        run: |
          i=0
          while [ $i -lt ${{ inputs.lines }} ]; do echo "line $i"; i=$((i+1)); sleep ${{ inputs.pause }}; done
"""


@dataclass
class Served:
    root: Path
    home: Path
    settings: ServeSettings
    client: TestClient

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.token}"}

    def get(self, url: str, **kw) -> httpx.Response:
        return self.client.get(url, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def post(self, url: str, **kw) -> httpx.Response:
        return self.client.post(url, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def wait_final(self, run: int, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.get(f"/api/runs/{run}").json()
            if data["status"] in ("completed", "failed", "canceled", "interrupted"):
                return data
            time.sleep(0.1)
        raise AssertionError(f"run {run} did not finish in {timeout}s: {data['status']}")


def make_served(tmp_path: Path, monkeypatch, port: int = 8765) -> Served:
    root = tmp_path / "flows"
    (root / "sub").mkdir(parents=True)
    (root / "hello.yaml").write_text(HELLO)
    (root / "sub" / "flaky.yaml").write_text(FLAKY)
    (root / "chatty.yaml").write_text(CHATTY)
    (root / "notes.yaml").write_text("just: data\n")
    home = tmp_path / "home"
    monkeypatch.setenv("WFRUN_HOME", str(home))
    monkeypatch.setenv("WFRUN_CONFIG", str(tmp_path / "no-config.yaml"))
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    settings = ServeSettings(root=root, home=home, token=load_or_create_token(home), port=port)
    client = TestClient(create_app(settings), base_url=f"http://127.0.0.1:{port}")
    return Served(root, home, settings, client)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, port: int, env: dict | None = None) -> subprocess.Popen:
    """A real ``wfrun serve`` process; returns once /health answers. (Its request log goes to a pipe: tests make
    few requests, far below the pipe's 64 KiB; read it with ``communicate()``.)"""
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", "serve", str(root), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"wfrun serve exited {proc.returncode}: {proc.stderr.read()}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("wfrun serve did not answer /health")
