"""Hostile input through the real CLI: each case is bounded in time and memory and ends in a clear error.

wfrun runs in a subprocess with an address-space limit and a timeout, so a
regression fails the test instead of swapping the machine or hanging CI.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

MEMORY_LIMIT = 1 << 30  # 1 GiB of address space: a bounded wfrun needs far less


def bounded(home: Path, *args: str, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    """wfrun under RLIMIT_AS and a timeout; a runaway ends as a failed test, not a dead machine."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    full_env = {**os.environ, "WFRUN_HOME": str(home / "home"), "WFRUN_CONFIG": str(home / "none.yaml"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "workflow_runner", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=home, preexec_fn=limit)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# ------------------------------------------------------------------ YAML bombs (item 14)


def laughs(levels: int = 9, width: int = 9) -> str:
    lines = ["  a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "jobs:\n x:\n  steps: [{run: 'true'}]\nx-bomb:\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels, width", [(9, 9), (12, 6), (6, 30)])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_yaml_bomb_is_a_fast_located_error(tmp_path, levels, width, command):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs(levels, width))
    assert bomb.stat().st_size < 1200
    started = time.monotonic()
    line = one_error_line(bounded(tmp_path, *([command] if command == "validate" else []), str(bomb)))
    assert time.monotonic() - started < 30
    assert "bomb.yaml:" in line and "YAML aliases expand to more than" in line


# ------------------------------------------------------------------ matrix size (item 15)


def matrix_workflow(axes: int, width: int = 10, *, from_input: bool = False, run: str = "true") -> str:
    values = "[" + ", ".join(str(i) for i in range(width)) + "]"
    lines = [f"        a{i}: {values}" for i in range(axes)]
    if from_input:
        lines[0] = "        a0: ${{ fromJSON(inputs.values) }}"
    head = f"on:\n  execute:\n    inputs:\n      values: {{type: string, default: '{values}'}}\n" if from_input else ""
    return head + "jobs:\n  big:\n    strategy:\n      matrix:\n" + "\n".join(lines) + f"\n    steps: [{{run: '{run}'}}]\n"


def test_million_instance_matrix_fails_validation_at_the_matrix(tmp_path):
    wf = tmp_path / "m.yaml"
    wf.write_text(matrix_workflow(6))
    line = one_error_line(bounded(tmp_path, "validate", str(wf), timeout=30))
    assert line == (f"{wf}:5:9: job 'big': the matrix expands to 1000000 instances, more than the limit of 10000; "
                    "set WFRUN_MAX_MATRIX to raise it")


def test_matrix_known_only_at_run_time_fails_before_expanding(tmp_path):
    wf = tmp_path / "m.yaml"
    wf.write_text(matrix_workflow(6, from_input=True))
    assert bounded(tmp_path, "validate", str(wf)).returncode == 0  # its size depends on an input
    proc = bounded(tmp_path, str(wf), "--quiet", timeout=30)
    line = one_error_line(proc)
    assert "the matrix expands to 1000000 instances" in line and "WFRUN_MAX_MATRIX" in line
    assert not list((tmp_path / "home").glob("jobs/*/*/logs"))  # nothing ran, nothing was written


def test_matrix_limit_can_be_raised_and_counts_the_whole_run(tmp_path):
    wf = tmp_path / "m.yaml"
    wf.write_text(matrix_workflow(2, width=3) + "  second:\n    strategy: {matrix: {x: [1, 2, 3]}}\n"
                                                "    steps: [{run: 'true'}]\n")
    assert "limit of 8" in one_error_line(bounded(tmp_path, "validate", str(wf), env={"WFRUN_MAX_MATRIX": "8"}))
    line = one_error_line(bounded(tmp_path, str(wf), "--quiet", env={"WFRUN_MAX_MATRIX": "10"}))
    assert "the matrices of this run expand to 12 instances, more than the limit of 10" in line
    ok = bounded(tmp_path, str(wf), "--quiet", env={"WFRUN_MAX_MATRIX": "12"})
    assert ok.returncode == 0, ok.stderr


def test_sigterm_with_hundreds_of_waiting_instances_is_prompt_and_clean(tmp_path):
    """Instances queued for a CPU slot are canceled at once: no 'not in deque' internal errors, no stall."""
    wf = tmp_path / "m.yaml"
    wf.write_text(matrix_workflow(2, width=15, run="echo go; sleep 60"))  # a log exists once a step wrote
    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none.yaml")}
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), "--no-live", "--cpus", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list((tmp_path / "home").glob("jobs/*/*/logs/*/*.log")):
            time.sleep(0.1)
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert time.monotonic() - started < 20
    assert proc.returncode == 143, err
    assert "internal error" not in out + err
    run = json.loads(next((tmp_path / "home").glob("jobs/*/*/run.json")).read_text())
    assert {job["status"] for job in run["jobs"].values()} == {"canceled"} and len(run["jobs"]) == 225


# ------------------------------------------------------------------ nested sub-workflows (item 17)


def chain(folder: Path, length: int) -> Path:
    """w0 → w1 → … → w{length-1}: each calls the next with ``uses: workflow/…``; the last echoes."""
    for i in range(length):
        body = (f"jobs:\n  job-{i}:\n    steps:\n      - uses: workflow/w{i + 1}\n" if i < length - 1
                else "jobs:\n  leaf:\n    steps:\n      - run: echo leaf reached\n")
        (folder / f"w{i}.yaml").write_text(body)
    return folder / "w0.yaml"


def test_nesting_deeper_than_the_limit_fails_validation_at_the_uses(tmp_path):
    top = chain(tmp_path, 300)
    for args in (("validate", str(top)), (str(top), "--quiet")):
        line = one_error_line(bounded(tmp_path, *args))
        assert line.endswith(f"{tmp_path / 'w31.yaml'}:4:15: uses: workflow/w32: sub-workflows nested more than 32 deep; "
                             "set WFRUN_MAX_USES_DEPTH to raise the limit")


def test_a_raised_limit_runs_300_levels_with_bounded_directory_names(tmp_path):
    top = chain(tmp_path, 300)
    proc = bounded(tmp_path, str(top), "--no-live", env={"WFRUN_MAX_USES_DEPTH": "400"}, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "leaf reached" in proc.stdout
    run = next((tmp_path / "home").glob("jobs/w0/*"))
    paths = [p for p in run.rglob("*")]
    assert max(len(p.name) for p in paths) <= 80
    assert max(len(str(p.relative_to(run))) for p in paths) < 300
    assert len(list((run / "sub").iterdir())) == 299  # every level its own directory: long names do not collide


def test_a_large_matrix_runs_within_a_small_descriptor_limit(tmp_path):
    """1,000 instances queued for 2 CPUs hold no open log each (they used to: EMFILE at a 1024 ulimit)."""
    wf = tmp_path / "m.yaml"
    wf.write_text(matrix_workflow(3))

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none.yaml")}
    proc = subprocess.run([sys.executable, "-m", "workflow_runner", str(wf), "--quiet", "--cpus", "2"], capture_output=True,
                          text=True, timeout=300, env=env, cwd=tmp_path, preexec_fn=few_files)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    assert "1000 completed" in proc.stdout
    assert len(list((tmp_path / "home").glob("jobs/m/*/logs/*/01-*.log"))) == 1000
