"""``wfrun rerun RUN --failed`` (a new attempt of the run; only unfinished jobs run) and ``--inputs -``."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from serve_env import FLAKY, HELLO


def test_rerun_failed_reruns_failed_jobs_from_their_first_step(wfrun, write, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    wf = write("flaky.yaml", FLAKY)
    first = wfrun("run", wf, "--set", f"dir={work}", "--set", "pw=topsecret1", "-q")
    assert first.code == 1
    missing = wfrun("rerun", "1", "--failed")
    assert missing.code == 2 and "password input(s) pw" in missing.err
    again = wfrun("rerun", "1", "--failed", "--set", "pw=topsecret1", "-q")
    assert again.code == 0, again.err
    assert "re-running run 1: 1 completed job carry over" in again.err
    assert (work / "independent.count").read_text() == "once\n"
    assert (work / "before.count").read_text() == "before\nbefore\n"  # resume would have skipped this step
    assert (work / "after.count").read_text() == "after\n"
    status = json.loads(wfrun("status", "1", "--json").out)
    assert status["status"] == "completed"
    assert [a["status"] for a in status["attempts"]] == ["failed", "completed"]
    done = wfrun("rerun", "1", "--failed")
    assert done.code == 0 and "already completed; nothing to re-run" in done.out


def test_rerun_needs_the_failed_flag(wfrun):
    r = wfrun("rerun", "1")
    assert r.code == 2 and "--failed" in r.err


def test_inputs_from_stdin_reach_the_detached_run(wfrun, write, tmp_path):
    wf = write("hello.yaml", HELLO)
    env_home = wfrun.home
    proc = subprocess.run([sys.executable, "-m", "workflow_runner", "run", str(wf), "--detach", "--inputs", "-"],
                          input=json.dumps({"who": "stdin", "count": 3, "pw": "piped-secret"}), capture_output=True,
                          text=True, env={**__import__("os").environ, "WFRUN_HOME": str(env_home),
                                          "WFRUN_CONFIG": str(tmp_path / "none")})
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = json.loads(wfrun("status", "1", "--json").out)
        if status["status"] in ("completed", "failed"):
            break
        time.sleep(0.1)
    assert status["status"] == "completed", status
    assert status["inputs"]["who"] == "stdin" and status["inputs"]["pw"] == "***"
    assert "piped-secret" not in json.dumps(status["argv"])
    log = wfrun("logs", "1").out
    assert log == "hello stdin x3 pw=***\n"


def test_inputs_from_stdin_errors_name_stdin(wfrun, write, tmp_path):
    wf = write("hello.yaml", HELLO)
    r = subprocess.run([sys.executable, "-m", "workflow_runner", "inputs", str(wf), "--inputs", "-"], input="[1, 2",
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("wfrun: -:")
