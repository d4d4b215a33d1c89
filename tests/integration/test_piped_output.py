"""wfrun's output through a pipe arrives line by line while the run goes on, not at its end.

Without this a CI log, ``wfrun wf.yaml | tee run.log`` or a test that waits for
a line sees nothing until the run ends (Python block-buffers a piped stdout,
unless PYTHONUNBUFFERED happens to be set, as it is on some machines: the test
clears it).
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time

import pytest


def first_lines_while_running(args: list[str], tmp_path, want: str) -> str:
    """Start wfrun with a piped stdout; return what it printed once ``want`` appears (the run still going)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env.update(WFRUN_HOME=str(tmp_path / "home"), WFRUN_CONFIG=str(tmp_path / "none"))
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    seen = b""
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + 20
            while want.encode() not in seen and time.monotonic() < deadline:
                if sel.select(timeout=0.2):
                    chunk = os.read(proc.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    seen += chunk
        assert proc.poll() is None, "the run ended: this test must see its output while it runs"
        return seen.decode()
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.parametrize("mode", ["--no-live", "--json"])
def test_piped_output_is_not_held_back(tmp_path, mode):
    wf = tmp_path / "wf.yaml"
    wf.write_text("jobs:\n  j:\n    steps:\n      - id: s\n        run: |\n          echo first-line\n          sleep 60\n")
    out = first_lines_while_running([str(wf), mode], tmp_path, "first-line")
    assert "first-line" in out, out
