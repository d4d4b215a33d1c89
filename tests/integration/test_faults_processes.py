"""Nothing left running: background children, setsid daemons, cancel, SIGTERM, Ctrl-C and cancel of a killed wfrun.

Real wfrun processes and real step processes; a process counts as running when
/proc says so and it is not a zombie (orphans are reaped slowly on these machines).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import run_cli as wfrun
from helpers import wfrun_env


@pytest.fixture
def env(tmp_path):
    return wfrun_env(tmp_path)


def start(env, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "workflow_runner", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def running(argv_tail: str) -> list[int]:
    """Live (not zombie) processes whose command line ends with ``argv_tail``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if cmdline.endswith(argv_tail) and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


_MINE: list[str] = []


def unique_seconds() -> str:
    """A sleep length no other process on the machine uses, to find exactly this test's processes."""
    seconds = f"{random.randint(100000, 999999)}.{random.randint(1, 9)}"
    _MINE.append(seconds)
    return seconds


@pytest.fixture(autouse=True)
def no_strays():
    """Whatever a failing test left running is stopped here, by pid (a failure must not leak into other tests)."""
    yield
    for seconds in _MINE:
        for pid in running(f"sleep {seconds}"):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    _MINE.clear()


def daemon_workflow(path: Path, daemon: str, held: str, ready: Path) -> Path:
    path.write_text(f"""
jobs:
  a:
    steps:
      - run: |
          setsid sleep {daemon} >/dev/null 2>&1 < /dev/null &
          sleep 0.3
          touch {ready}
          sleep {held}
""")
    return path


def test_background_child_holding_stdout_does_not_keep_the_step_open(tmp_path, env):
    child = unique_seconds()
    wf = tmp_path / "w.yaml"
    wf.write_text(f"""
jobs:
  a:
    steps:
      - run: |
          sleep {child} &
          echo main done
      - run: echo next step
""")
    began = time.monotonic()
    proc = wfrun(env, "run", wf, "--no-live", timeout=60)
    took = time.monotonic() - began
    assert proc.returncode == 0, proc.stderr
    assert "main done" in proc.stdout and "next step" in proc.stdout
    assert took < 10, f"the step waited for its background child: {took:.1f}s"
    assert running(f"sleep {child}") == []  # a child left in the step's group ends with the step


def test_setsid_daemon_outlives_its_step_but_not_the_run(tmp_path, env):
    """The documented rule: the step's group dies with the step; what left it (setsid) dies when the run ends."""
    daemon = unique_seconds()
    wf = tmp_path / "w.yaml"
    wf.write_text(f"""
jobs:
  a:
    steps:
      - run: |
          setsid sleep {daemon} >/dev/null 2>&1 < /dev/null &
          sleep 0.3
      - run: pgrep -f 'sleep {daemon}' >/dev/null && echo daemon still there
""")
    proc = wfrun(env, "run", wf, "--no-live", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "daemon still there" in proc.stdout
    assert "stopped 1 process group(s) that steps of this run left running" in proc.stderr
    wait_for(lambda: running(f"sleep {daemon}") == [], 5, "the daemon to be stopped at the end of the run")


@pytest.mark.parametrize("how", ["cancel", "SIGTERM", "SIGINT"])
def test_cancel_stops_the_setsid_daemon_of_a_step(tmp_path, env, how):
    daemon, held = unique_seconds(), unique_seconds()
    ready = tmp_path / "ready"
    wf = daemon_workflow(tmp_path / "w.yaml", daemon, held, ready)
    proc = start(env, "run", wf, "--no-live", "--grace", "2")
    try:
        wait_for(ready.exists, 30, "the step to start its daemon")
        assert running(f"sleep {daemon}"), "the daemon did not start"
        if how == "cancel":
            result = wfrun(env, "cancel", "1", "--wait", "30")
            assert result.returncode == 0, result.stdout + result.stderr
        else:
            proc.send_signal(getattr(signal, how))
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (130, 143)
    wait_for(lambda: running(f"sleep {daemon}") == [], 5, "the daemon to be stopped")
    assert running(f"sleep {held}") == []


def test_cancel_of_a_run_whose_wfrun_was_killed_stops_its_step_processes(tmp_path, env):
    daemon, held = unique_seconds(), unique_seconds()
    ready = tmp_path / "ready"
    wf = daemon_workflow(tmp_path / "w.yaml", daemon, held, ready)
    proc = start(env, "run", wf, "--no-live")
    try:
        wait_for(ready.exists, 30, "the step to start its daemon")
        wait_for(lambda: bool(running(f"sleep {held}")), 5, "the step's own sleep")
    finally:
        proc.kill()
        proc.wait()
    assert running(f"sleep {held}") and running(f"sleep {daemon}"), "kill -9 of wfrun stopped its steps by itself?"
    result = wfrun(env, "cancel", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "already finished: interrupted" in result.stdout
    assert "stopped 2 process group(s) its steps left running" in result.stdout
    wait_for(lambda: running(f"sleep {held}") == [] and running(f"sleep {daemon}") == [], 5,
             "the dead run's step processes to be stopped")
