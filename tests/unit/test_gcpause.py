"""The collector pause: nested and overlapping pauses (wfrun serve loads workflows in threads) end with it on."""

from __future__ import annotations

import gc
import threading

from workflow_runner import gcpause


def test_nested_pauses_turn_the_collector_back_on_once_the_outermost_ends():
    assert gc.isenabled()
    with gcpause.paused():
        with gcpause.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_pauses_in_threads_leave_the_collector_on():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with gcpause.paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with gcpause.paused():
            second_in.set()
            first_out.wait(5)  # the first pause ends while this one is still on
            assert not gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert gc.isenabled()


def test_a_pause_begun_with_the_collector_off_leaves_it_off():
    gc.disable()
    try:
        with gcpause.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_start_up_keeps_the_collector_off_through_loading_until_started():
    assert gc.isenabled()
    gcpause.until_started()
    try:
        with gcpause.paused():  # load_workflow during start-up: its end must not turn the collector on
            pass
        assert not gc.isenabled()
    finally:
        gcpause.started()
    assert gc.isenabled()
    gcpause.started()  # a second call (a run's engine after a command's start) changes nothing
    assert gc.isenabled()


def _one_step_run(tmp_path, code: str) -> str:
    """Run ``code`` (a wfrun process, instrumented) on a one-step workflow; its stderr."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    wf = tmp_path / "wf.yaml"
    wf.write_text("jobs:\n  a:\n    steps:\n      - run: echo hi\n")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "PYTHONPATH": str(root)}
    proc = subprocess.run([sys.executable, "-c", code, str(wf)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def test_a_wfrun_process_collects_again_once_its_run_starts(tmp_path):
    """cli.entry pauses the collector for start-up; the engine must not run a whole workflow without it."""
    code = ("import gc, sys\n"
            "from workflow_runner import cli\n"
            "seen = []\n"
            "import workflow_runner.engine.scheduler as sch\n"
            "orig = sch.RunEngine.run\n"
            "async def run(self):\n"
            "    seen.append(gc.isenabled())\n"
            "    return await orig(self)\n"
            "sch.RunEngine.run = run\n"
            "sys.argv = ['wfrun', 'run', sys.argv[1], '--quiet']\n"
            "try:\n"
            "    cli.entry()\n"
            "finally:\n"
            "    print('enabled during the run:', seen, file=sys.stderr)\n")
    assert "enabled during the run: [True]" in _one_step_run(tmp_path, code)


def test_the_wfrun_command_collects_nothing_before_its_run_starts(tmp_path):
    """entrypoint.main (the console script, python -m) pauses before importing the command line, nested in
    cli.entry's own pause: not one collection until the engine starts, and the collector is on after."""
    code = ("import gc, sys\n"
            "from workflow_runner import gcpause\n"
            "early, seen = [], []\n"
            "gc.callbacks.append(lambda phase, info: early.append(info['generation']) if phase == 'start' else None)\n"
            "orig = gcpause.started\n"
            "def started():\n"
            "    seen.append(len(early) - before[0])\n"
            "    orig()\n"
            "    seen.append(gc.isenabled())\n"
            "gcpause.started = started\n"
            "sys.argv = ['wfrun', 'run', sys.argv[1], '--quiet']\n"
            "from workflow_runner.entrypoint import main\n"
            "before = [len(early)]\n"
            "try:\n"
            "    main()\n"
            "finally:\n"
            "    print('at the start of the run:', seen, file=sys.stderr)\n")
    assert "at the start of the run: [0, True]" in _one_step_run(tmp_path, code)
