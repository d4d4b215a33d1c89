"""entrypoint.main: the wfrun process skips the interpreter's teardown, and loses nothing by it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _wfrun(tmp_path: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none.yaml"),
           "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONUNBUFFERED", None)  # stdout to a pipe is block-buffered, as for a user
    argv = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "workflow_runner", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


def test_everything_printed_reaches_a_pipe_and_the_exit_code_is_the_commands(tmp_path):
    schema = _wfrun(tmp_path, "schema")  # ~100 KB through a pipe, in stdout's buffer when the command returns
    assert schema.returncode == 0, schema.stderr
    assert json.loads(schema.stdout)["$schema"].startswith("https://json-schema.org/")
    wf = tmp_path / "wf.yaml"
    wf.write_text("jobs:\n  ok:\n    steps: [{run: echo fine}]\n  bad:\n    steps: [{run: exit 3}]\n")
    run = _wfrun(tmp_path, "run", str(wf), "--no-live")
    assert run.returncode == 1 and "fine" in run.stdout and "1 completed, 1 failed" in run.stdout
    assert run.stdout.rstrip().endswith("logs/bad/01-1.log")  # the summary's last line
    missing = _wfrun(tmp_path, "run", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "nope.yaml" in missing.stderr


def test_exit_handlers_registered_by_the_command_still_run(tmp_path):
    mark = tmp_path / "mark"
    code = ("import atexit, sys\n"
            "import workflow_runner.cli as cli\n"
            "def main(argv=None):\n"
            f"    atexit.register(lambda: open({str(mark)!r}, 'w').write('ran'))\n"
            "    print('out', end='')\n"
            "    return 7\n"
            "cli.main = main\n"
            "from workflow_runner.entrypoint import main as entry\n"
            "entry()\n")
    proc = _wfrun(tmp_path, code=code)
    assert (proc.returncode, proc.stdout, mark.read_text()) == (7, "out", "ran")


def test_an_internal_error_keeps_its_traceback_and_the_normal_exit(tmp_path):
    code = ("import workflow_runner.cli as cli\n"
            "def main(argv=None):\n"
            "    raise RuntimeError('a bug')\n"
            "cli.main = main\n"
            "from workflow_runner.entrypoint import main as entry\n"
            "entry()\n")
    proc = _wfrun(tmp_path, code=code)
    assert proc.returncode == 1 and "RuntimeError: a bug" in proc.stderr and "Traceback" in proc.stderr
