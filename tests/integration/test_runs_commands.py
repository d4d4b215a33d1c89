"""``wfrun runs / status / logs / cancel`` (commands/runs.py) against a real run store and real log files.

The engine is not wired to the store yet, so runs are made of synthetic engine events
(what RunEngine/JobRun emit) plus log files laid out as the run directory does; cancel
is tried on real child processes.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from workflow_runner import commands as cmd
from workflow_runner.commands.cancel import cancel_run
from workflow_runner.commands.logs import show_logs
from workflow_runner.engine.events import JobChanged, RunFinished, RunStarted, StepFinished, StepOutput, StepStarted
from workflow_runner.engine.record import StoreRecorder
from workflow_runner.errors import WorkflowError
from workflow_runner.state.rundir import RunDir
from workflow_runner.state.store import RunStore


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def store(home):
    s = RunStore(home / "runs.db", flush_interval=0.02)
    yield s
    s.close()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wfrun")
    sub = p.add_subparsers(dest="command")
    cmd.add_parsers(sub)
    return p


def invoke(store: RunStore, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    args = parser().parse_args(list(argv))
    code = cmd.main(args, store=store, out=out)
    return code, out.getvalue()


def log_file(rd: RunDir, job: str, index: int, key: str, text: str, cleanup: bool = False) -> str:
    path = rd.step_file("logs", job, index, key, ".cleanup.log" if cleanup else ".log")
    path.write_text(text)
    return str(path)


def finished_run(store: RunStore, home: Path, workflow: str = "demo") -> tuple[int, RunDir]:
    """prep (1 step) completed; build: compile failed after 3 attempts as a batch job, its cleanup ran,
    package skipped; test skipped."""
    run = store.new_run(workflow=workflow, file=f"{workflow}.yaml", argv=["wfrun", f"{workflow}.yaml"], inputs_masked={},
                        secret_paths=[])
    rd = RunDir.allocate(workflow, home)
    store.set_run_dir(run, str(rd.root))
    store.run_started(run)
    fetch = log_file(rd, "prep", 0, "fetch", "fetching\ndone\n")
    comp = log_file(rd, "build", 0, "compile", "gcc main.c\nerror: oops\n[wfrun] retry 1/2 after: exit code 2\n")
    clean = log_file(rd, "build", 0, "compile", "rm -rf tmp\n", cleanup=True)
    rec = StoreRecorder(store, run)
    for e in [
        RunStarted(str(rd.number), str(rd.root), workflow, ("prep", "build", "test")),
        JobChanged("prep", "running"),
        StepStarted("prep", "fetch", 0, "local", 0),
        StepOutput("prep", "fetch", "fetching"),
        StepFinished("prep", "fetch", "completed", 0, 0.25, fetch, None, 0),
        JobChanged("prep", "completed"),
        JobChanged("build", "running"),
        StepStarted("build", "compile", 0, "cluster", 0),
        StepStarted("build", "compile", 1, "cluster", 0),
        StepStarted("build", "compile", 2, "cluster", 0),
        StepFinished("build", "compile", "failed", 2, 12.5, comp, "batch job 4243 failed: exit code 2", 0),
        StepFinished("build", "package", "skipped", None, 0.0, None, "an earlier step failed", 1),
        StepStarted("build", "compile (cleanup)", 0, "cluster", 0, cleanup=True),
        StepFinished("build", "compile (cleanup)", "completed", 0, 0.1, clean, None, 0, cleanup=True),
        JobChanged("build", "failed", "batch job 4243 failed: exit code 2"),
        JobChanged("test", "skipped", "a job it needs failed"),
    ]:
        rec.emit(e)
    for attempt, (jobid, state, code) in enumerate([("4241", "FAILED", 2), ("4242", "FAILED", 2), ("4243", "FAILED", 2)]):
        bid = store.batch_intent(run, job="build", step_index=0, attempt=attempt, host="cluster", scheduler="slurm",
                                 job_name=f"wfrun-{run}-build-compile", rundir="/home/u/pw/jobs/demo/00001/build")
        store.batch_submitted(bid, jobid)
        store.batch_finished(bid, state, code)
    rec.emit(RunFinished("failed", 1, 13.0, (("build", "compile", "exit code 2", comp),)))
    return run, rd


# ------------------------------------------------------------------ runs


def test_runs_table_and_json(store, home):
    run, rd = finished_run(store, home)
    live = store.new_run(workflow="other", file="other.yaml", argv=[], inputs_masked={}, secret_paths=[])
    store.run_started(live)  # owned by this (live) process: stays running
    code, out = invoke(store, "runs")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["RUN", "WORKFLOW", "STATUS", "STARTED", "DURATION", "DIR"]
    assert lines[1].split()[:3] == [str(live), "other", "running"]
    first = lines[2].split()
    assert first[:3] == [str(run), "demo", "failed"] and first[-1] == str(rd.root)
    assert time.strftime("%Y-%m-%d") in lines[2]
    code, out = invoke(store, "runs", "--json", "--limit", "1")
    data = json.loads(out)
    assert [r["id"] for r in data] == [live] and data[0]["status"] == "running" and data[0]["duration"] >= 0


def test_runs_marks_dead_runs_interrupted(store, home):
    run = store.new_run(workflow="w", file="w.yaml", argv=[], inputs_masked={}, secret_paths=[])
    store.run_started(run)
    dead = subprocess.Popen(["true"])
    dead.wait()
    store.set_owner(run, dead.pid)
    code, out = invoke(store, "runs")
    assert "interrupted" in out.splitlines()[1]


def test_runs_when_empty(store):
    code, out = invoke(store, "runs")
    assert code == 0 and "no runs yet" in out


# ------------------------------------------------------------------ status


def test_status_text(store, home):
    run, rd = finished_run(store, home)
    code, out = invoke(store, "status", str(run))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"run {run} of demo: failed (exit 1)"
    assert f"dir:  {rd.root}" in out and "demo.yaml" in out
    job_lines = [l for l in lines if l and l[0] in "✓✗-"]
    assert [l.split()[:3] for l in job_lines] == [["✓", "prep", "completed"], ["✗", "build", "failed"], ["-", "test", "skipped"]]
    assert "batch job 4243 failed: exit code 2" in job_lines[1]
    assert "a job it needs failed" in job_lines[2]
    compile_line = next(l for l in lines if "1. compile " in l)
    assert "failed" in compile_line and "exit 2" in compile_line and "12s" in compile_line
    assert "on cluster" in compile_line and "3 attempts" in compile_line
    assert "attempts: #1 failed, #2 failed, #3 failed (exit 2)" in out
    for jobid in ("4241", "4242", "4243"):
        assert f"batch job {jobid}: FAILED, exit 2 (slurm on cluster" in out
    assert re.search(r"^ +2\. package +skipped$", out, re.M) and "        an earlier step failed" in out
    assert re.search(r"^ +1\. compile \(cleanup\) +completed +exit 0 +0\.1s +on cluster$", out, re.M)
    assert f"log: {rd.root}/logs/build/01-compile.log" in out
    assert f"log: {rd.root}/logs/build/01-compile.cleanup.log" in out
    assert "\033[" not in out, "no colours when not on a terminal"


def test_status_json(store, home):
    run, _ = finished_run(store, home)
    code, out = invoke(store, "status", "last", "--json")
    data = json.loads(out)
    assert data["id"] == run and data["status"] == "failed"
    build = data["jobs"][1]
    assert build["key"] == "build" and [s["name"] for s in build["steps"]] == ["compile", "compile (cleanup)", "package"]
    compile_ = build["steps"][0]
    assert compile_["attempts"] == 3 and [a["attempt"] for a in compile_["attempt_rows"]] == [0, 1, 2]
    assert [b["jobid"] for b in compile_["batch_jobs"]] == ["4241", "4242", "4243"]
    assert build["steps"][1]["batch_jobs"] == []


def test_status_of_a_running_run_with_a_pending_batch_job(store, home):
    run = store.new_run(workflow="w", file="w.yaml", argv=[], inputs_masked={}, secret_paths=[])
    rec = StoreRecorder(store, run)
    rec.emit(RunStarted("1", "/r", "w", ("sim",)))
    rec.emit(JobChanged("sim", "running"))
    rec.emit(StepStarted("sim", "submit", 0, "cluster", 0))
    store.batch_intent(run, job="sim", step_index=0, attempt=0, host="cluster", scheduler="pbs", job_name="n", rundir="/d")
    code, out = invoke(store, "status", str(run))
    assert f"run {run} of w: running" in out and f"pid {os.getpid()}" in out
    assert "batch job (not submitted yet): intent (pbs on cluster), rundir /d" in out
    assert re.search(r"1\. submit +running +\d", out)


def test_status_unknown_run(store, home):
    with pytest.raises(WorkflowError, match=r"run 42 not found \(no runs recorded yet"):
        invoke(store, "status", "42")
    run, _ = finished_run(store, home)
    with pytest.raises(WorkflowError, match=rf"^run 42 not found \(newest is {run}\)$"):
        invoke(store, "status", "42")
    with pytest.raises(WorkflowError, match="run number or 'last', not 'abc'"):
        invoke(store, "status", "abc")


# ------------------------------------------------------------------ logs


def test_logs_all_prefixed_in_order(store, home):
    run, _ = finished_run(store, home)
    code, out = invoke(store, "logs", str(run))
    assert code == 0
    assert out.splitlines() == [
        "[prep/fetch] fetching",
        "[prep/fetch] done",
        "[build/compile] gcc main.c",
        "[build/compile] error: oops",
        "[build/compile] [wfrun] retry 1/2 after: exit code 2",
        "[build/compile (cleanup)] rm -rf tmp",
    ]


def test_logs_of_one_step_are_plain(store, home):
    run, _ = finished_run(store, home)
    assert invoke(store, "logs", str(run), "prep")[1] == "fetching\ndone\n"
    assert invoke(store, "logs", str(run), "prep/fetch")[1] == "fetching\ndone\n"
    assert invoke(store, "logs", str(run), "prep/1")[1] == "fetching\ndone\n"
    # a step's number brings its cleanup log along
    assert invoke(store, "logs", "last", "build/1")[1].splitlines()[-1] == "[build/compile (cleanup)] rm -rf tmp"
    assert invoke(store, "logs", "last", "build/compile (cleanup)")[1] == "rm -rf tmp\n"


def test_logs_of_a_step_without_log(store, home, capsys):
    run, _ = finished_run(store, home)
    code, out = invoke(store, "logs", str(run), "build/package")
    assert code == 0 and out == ""
    assert "no logs for 'build/package' (build/package: skipped (an earlier step failed))" in capsys.readouterr().err


def test_logs_unknown_job_or_step(store, home):
    run, _ = finished_run(store, home)
    with pytest.raises(WorkflowError, match=r"has no job 'biuld' \(did you mean 'build'\?\)"):
        invoke(store, "logs", str(run), "biuld")
    with pytest.raises(WorkflowError, match=r"has no job 'biuld' \(did you mean 'build'\?\)"):
        invoke(store, "logs", str(run), "biuld/compile")
    with pytest.raises(WorkflowError, match=r"job 'build' of run \d+ has no step 'compiel' \(did you mean 'compile'\?\)"):
        invoke(store, "logs", str(run), "build/compiel")
    with pytest.raises(WorkflowError, match=r"job 'build' of run \d+ has no step 7 \(it has steps 1..2\)"):
        invoke(store, "logs", str(run), "build/7")


def test_logs_follow(store, home):
    """-f prints a running step's lines as they are written, picks up a step that starts later,
    and returns once the run is final and everything is printed."""
    run = store.new_run(workflow="f", file="f.yaml", argv=[], inputs_masked={}, secret_paths=[])
    rd = RunDir.allocate("f", home)
    store.set_run_dir(run, str(rd.root))
    store.run_started(run)
    writer = RunStore(store.path, flush_interval=0.01)  # the running wfrun: its own connection
    rec = StoreRecorder(writer, run)
    rec.emit(RunStarted("1", str(rd.root), "f", ("a",)))
    rec.emit(JobChanged("a", "running"))
    first = rd.step_file("logs", "a", 0, "one", ".log")
    second = rd.step_file("logs", "a", 1, "two", ".log")
    f1 = open(first, "a", buffering=1)  # the log exists while the step runs; its path is not in the store yet
    rec.emit(StepStarted("a", "one", 0, "local", 0))
    writer.flush()

    def engine() -> None:
        for i in range(5):
            f1.write(f"one {i}\n")
            time.sleep(0.05)
        f1.write("no newline at the end")
        f1.close()
        rec.emit(StepFinished("a", "one", "completed", 0, 0.3, str(first), None, 0))
        with open(second, "a", buffering=1) as f2:
            rec.emit(StepStarted("a", "two", 0, "local", 1))
            writer.flush()
            for i in range(3):
                f2.write(f"two {i}\n")
                time.sleep(0.05)
        rec.emit(StepFinished("a", "two", "completed", 0, 0.2, str(second), None, 1))
        rec.emit(JobChanged("a", "completed"))
        rec.emit(RunFinished("completed", 0, 1.0, ()))

    out = io.StringIO()
    t = threading.Thread(target=engine)
    t.start()
    result: list[int] = []
    follower = threading.Thread(target=lambda: result.append(show_logs(store, run, None, follow=True, out=out, poll=0.05)))
    follower.start()
    follower.join(30)
    t.join(30)
    writer.close()
    assert not follower.is_alive(), "follow must end when the run is final"
    assert result == [0]
    assert out.getvalue().splitlines() == [
        *(f"[a/one] one {i}" for i in range(5)),
        "[a/one] no newline at the end",
        *(f"[a/two] two {i}" for i in range(3)),
    ]


def test_logs_follow_a_finished_run_prints_and_returns(store, home):
    run, _ = finished_run(store, home)
    code, out = invoke(store, "logs", str(run), "prep/fetch", "-f")
    assert code == 1 and out == "fetching\ndone\n"  # the run failed: -f exits with its code


def test_logs_follow_waits_for_a_step_not_started_yet(store, home):
    run = store.new_run(workflow="w", file="w.yaml", argv=[], inputs_masked={}, secret_paths=[])
    rd = RunDir.allocate("w", home)
    rec = StoreRecorder(store, run)
    rec.emit(RunStarted("1", str(rd.root), "w", ("a", "b")))
    rec.emit(JobChanged("a", "running"))
    store.flush()
    with pytest.raises(WorkflowError, match="has no step 'later'"):
        invoke(store, "logs", str(run), "b/later")  # without -f: nothing to show

    def later() -> None:
        time.sleep(0.2)
        log = log_file(rd, "b", 0, "later", "late line\n")
        rec.emit(JobChanged("b", "running"))
        rec.emit(StepStarted("b", "later", 0, "local", 0))
        rec.emit(StepFinished("b", "later", "completed", 0, 0.1, log, None, 0))
        rec.emit(RunFinished("completed", 0, 1.0, ()))

    t = threading.Thread(target=later)
    t.start()
    out = io.StringIO()
    assert show_logs(store, run, "b/later", follow=True, out=out, poll=0.05) == 0
    t.join()
    assert out.getvalue() == "late line\n"


# ------------------------------------------------------------------ cancel


def _running(store: RunStore, pid: int) -> int:
    run = store.new_run(workflow="c", file="c.yaml", argv=[], inputs_masked={}, secret_paths=[])
    store.run_started(run)
    store.set_owner(run, pid)
    return run


def test_cancel_sends_sigterm_to_the_runs_process(store):
    proc = subprocess.Popen(["sleep", "30"])
    try:
        run = _running(store, proc.pid)
        out = io.StringIO()
        code = cancel_run(store, run, wait=10, out=out)
        assert proc.wait(timeout=10) == -signal.SIGTERM
        assert code == 0
        text = out.getvalue()
        assert f"run {run}: cancel requested; sent SIGTERM to its wfrun (pid {proc.pid})" in text
        # sleep does not record an outcome: the run ends up interrupted
        assert f"run {run} interrupted: its wfrun exited without recording an outcome" in text
        row = store.get_run(run)
        assert row.cancel_requested and row.status == "interrupted"
    finally:
        proc.kill()
        proc.wait()


CHILD = """\
import signal, sys, time
from workflow_runner.state.store import RunStore
store = RunStore(sys.argv[1])
run = int(sys.argv[2])
store.set_owner(run)
store.run_started(run)

def on_term(*_):
    time.sleep(0.3)  # cleanups
    store.run_finished(run, "canceled", 143 if store.cancel_requested(run) else 99)
    store.close()
    sys.exit(143)

signal.signal(signal.SIGTERM, on_term if sys.argv[3] == "clean" else signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
"""


def _child(store: RunStore, mode: str) -> tuple[subprocess.Popen, int]:
    run = store.new_run(workflow="c", file="c.yaml", argv=[], inputs_masked={}, secret_paths=[])
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(store.path), str(run), mode], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc, run


def test_cancel_via_parser_waits_for_a_clean_cancel(store):
    proc, run = _child(store, "clean")
    try:
        code, out = invoke(store, "cancel", str(run), "--wait", "20")
        assert code == 0
        assert f"sent SIGTERM to its wfrun (pid {proc.pid})" in out
        assert out.splitlines()[-1] == f"run {run} canceled (exit 143)"  # 143: it saw cancel_requested
        assert proc.wait(timeout=10) == 143
    finally:
        proc.kill()
        proc.wait()


def test_cancel_gives_up_waiting(store):
    proc, run = _child(store, "ignore")
    try:
        code, out = invoke(store, "cancel", str(run), "--wait", "0.4")
        assert code == 1
        assert f"run {run} is still running after 0.4s" in out
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_cancel_a_finished_run(store, home):
    run, _ = finished_run(store, home)
    code, out = invoke(store, "cancel", str(run))
    assert code == 0 and out == f"run {run} already finished: failed (exit 1)\n"
    assert not store.get_run(run).cancel_requested


def test_cancel_a_run_on_another_host(store):
    run = store.new_run(workflow="c", file="c.yaml", argv=[], inputs_masked={}, secret_paths=[])
    store.run_started(run)
    store.set_owner(run, 12345, hostname="login2")
    code, out = invoke(store, "cancel", str(run), "--wait", "0")
    assert code == 0
    assert "its wfrun runs on login2 (pid 12345)" in out
    assert store.cancel_requested(run)


def test_cancel_unknown_run(store):
    with pytest.raises(WorkflowError, match="run 3 not found"):
        invoke(store, "cancel", "3")


def test_main_opens_the_default_store(home, monkeypatch):
    monkeypatch.setenv("WFRUN_HOME", str(home))
    out = io.StringIO()
    assert cmd.main(parser().parse_args(["runs"]), out=out) == 0
    assert "no runs yet" in out.getvalue() and (home / "runs.db").exists()
