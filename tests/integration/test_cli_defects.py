"""Issue 9 through the real CLI in a subprocess: a closed stdout pipe, signals' messages,
a user without a home, commands and files that look alike, options before the file."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PIPE_WF = """\
name: piped
jobs:
  a:
    steps:
      - run: for i in 1 2 3 4 5 6 7 8; do echo a-line-$i; sleep 0.1; done
      - name: pip install .[test]
        run: echo second step of a
  b:
    needs: [a]
    steps:
      - run: |
          for i in $(seq 1 2000); do echo b-line-$i; done
  c:
    needs: [b]
    steps:
      - run: echo c ran; exit ${{ inputs.code }}
'on':
  execute:
    inputs:
      code: {type: integer, default: 0}
"""


def env_for(tmp_path: Path) -> dict:
    return {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none.yaml")}


def run_json(tmp_path: Path) -> dict:
    return json.loads(next((tmp_path / "home").glob("jobs/*/*/run.json")).read_text())


@pytest.mark.parametrize("mode", ["--no-live", "--json"])
@pytest.mark.parametrize("code, expected", [(0, 0), (3, 1)], ids=["succeeds", "fails"])
def test_closed_stdout_pipe_leaves_the_run_unchanged(tmp_path, mode, code, expected):
    """`wfrun wf.yaml | head -1`: every job still runs, logs are kept, the exit code is the run's."""
    wf = tmp_path / "wf.yaml"
    wf.write_text(PIPE_WF)
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), mode, "--set", f"code={code}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(tmp_path), cwd=tmp_path)
    first = proc.stdout.readline()
    assert first, "wfrun printed nothing"
    proc.stdout.close()  # the reader goes away, like `head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == expected, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
    run = run_json(tmp_path)
    assert run["exit_code"] == expected
    assert {name: job["status"] for name, job in run["jobs"].items()} == {
        "a": "completed", "b": "completed", "c": "completed" if code == 0 else "failed"}
    for job in run["jobs"].values():
        for step in job["steps"]:
            assert "internal error" not in (step["message"] or ""), step
    b_log = Path(run["jobs"]["b"]["steps"][0]["log"]).read_text()
    assert b_log.splitlines()[-1] == "b-line-2000"


def test_closed_pipe_of_runs_listing_is_quiet(wfrun, tmp_path):
    wf = tmp_path / "wf.yaml"
    wf.write_text("jobs:\n  a:\n    steps:\n      - run: 'true'\n")
    for _ in range(3):
        assert wfrun(wf).code == 0
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", "runs"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env_for(tmp_path) | {"WFRUN_HOME": str(wfrun.home)})
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "Exception ignored" not in err, err


SLEEPER = "jobs:\n  a:\n    steps:\n      - run: echo started; sleep 1000\n"


def _start(tmp_path: Path, **streams) -> subprocess.Popen:
    wf = tmp_path / "wf.yaml"
    wf.write_text(SLEEPER)
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), "--grace", "1", "--no-live"],
                            env=env_for(tmp_path), **streams)
    deadline = time.monotonic() + 20
    # the step has started once its first line is in its log (a log file is created at its first line)
    while not any("started" in p.read_text() for p in (tmp_path / "home").glob("jobs/*/*/logs/a/*.log")):
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    time.sleep(0.3)
    return proc


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT-piped"])
def test_no_hurry_hint_without_a_person_at_a_terminal(tmp_path, sig, code):
    proc = _start(tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert "canceling steps and running cleanups" in err
    assert "hurry" not in err


def test_interactive_ctrl_c_offers_to_hurry(tmp_path):
    master, slave = pty.openpty()
    proc = _start(tmp_path, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    text = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        text += chunk
    os.close(master)
    assert "(Ctrl-C again to hurry)" in text.decode()


def test_user_without_home_gets_one_line(tmp_path):
    """No HOME and a uid with no passwd entry: Path.home() cannot answer."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    for command in (["runs"], ["status", "1"]):
        proc = subprocess.run(["setpriv", "--reuid", "54321", "--regid", "54321", "--clear-groups",
                               sys.executable, "-m", "workflow_runner", *command],
                              capture_output=True, text=True, env=env, cwd="/", timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.splitlines() == ["wfrun: HOME is not set and this user has no home directory; set HOME or WFRUN_HOME"]


def test_a_real_file_named_like_a_mistyped_command_runs(wfrun, tmp_path):
    (tmp_path / "vaildate").write_text("jobs:\n  a:\n    steps:\n      - run: echo from the file\n")
    result = wfrun("vaildate")
    assert result.code == 0, result.err
    assert "from the file" in result.out


def test_options_before_the_file_run_it(wfrun, tmp_path):
    (tmp_path / "wf.yaml").write_text("jobs:\n  a:\n    steps:\n      - run: echo $((6 * 7))\n")
    result = wfrun("-j", "2", "--no-live", "wf.yaml")
    assert result.code == 0, result.err
    assert "42" in result.out
    assert "(1 job)" in result.out


def test_numbers_in_env_and_in_text_agree(wfrun, tmp_path):
    (tmp_path / "wf.yaml").write_text(
        "jobs:\n  a:\n    steps:\n      - run: echo \"[$X] [$Y]\"\n        env:\n"
        "          X: ${{ 0.1 + 0.2 }}\n          Y: \"v ${{ 0.1 + 0.2 }}\"\n")
    result = wfrun("wf.yaml")
    assert result.code == 0, result.err
    assert "[0.3] [v 0.3]" in result.out
