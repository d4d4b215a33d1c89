"""What goes wrong at run time fails a step or a job — never the run's bookkeeping, its cleanups or its cancel."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import os
import time

import pytest

CLEANUP_MARK = "cleanup-of-first-ran"


@pytest.mark.parametrize(("setting", "message"), [
    ("timeout: ${{ inputs.bad }}", "timeout: "),
    ("retry: {max-retries: 1, interval: '${{ inputs.bad }}'}", "retry.interval: "),
    ("ignore-errors: ${{ fromJSON('{') }}", "ignore-errors: "),
    ("early-cancel: ${{ fromJSON('{') }}", "early-cancel: "),
])
def test_bad_runtime_setting_fails_the_job_and_cleanups_still_run(wfrun, write, tmp_path, setting, message):
    mark = tmp_path / "mark"
    fail = "exit 1" if "ignore-errors" in setting else "echo STEP-RAN-$((1+1))"
    wf = write("w.yaml", f"""
jobs:
  j:
    steps:
      - run: echo first
        cleanup: echo {CLEANUP_MARK} > {mark}
      - run: {fail}
        {setting}
  other:
    steps:
      - run: echo other-ran
'on':
  execute:
    inputs:
      bad: {{type: string, default: "soon-ish"}}
""")
    r = wfrun(wf, "--no-live")
    assert r.code == 1, r.out + r.err
    assert "Traceback" not in r.out + r.err
    assert message in r.out
    assert mark.read_text().strip() == CLEANUP_MARK
    assert r.job("other")["status"] == "completed"
    assert r.job("j")["status"] == "failed"
    if "ignore-errors" not in setting:  # a step whose settings are broken does not run
        assert "STEP-RAN-2" not in r.out


def test_bad_fail_fast_fails_the_instance_not_the_run(wfrun, write):
    wf = write("w.yaml", """
jobs:
  m:
    strategy:
      matrix: {n: [1, 2]}
      fail-fast: ${{ fromJSON('{') }}
    steps:
      - run: exit ${{ matrix.n == 1 && 1 || 0 }}
""")
    r = wfrun(wf, "--no-live")
    assert r.code == 1 and "Traceback" not in r.out + r.err
    assert "strategy.fail-fast: " in r.out


def test_job_timeout_does_not_cut_the_cleanup(wfrun, write, tmp_path):
    done = tmp_path / "cleanup-finished"
    wf = write("w.yaml", f"""
jobs:
  j:
    timeout: 2s
    steps:
      - run: sleep 1
        cleanup: sleep 2.5; echo ok > {done}
""")
    r = wfrun(wf, "--no-live")
    assert r.code == 0, r.out + r.err
    assert done.read_text() == "ok\n"
    assert r.job("j")["status"] == "completed"


def test_resume_reruns_a_job_skipped_because_its_need_failed(wfrun, write, tmp_path):
    gate = tmp_path / "gate"
    wf = write("w.yaml", f"""
jobs:
  a:
    steps:
      - run: test -f {gate}
  b:
    needs: [a]
    steps:
      - run: echo b-ran
""")
    r = wfrun(wf, "--no-live")
    assert r.code == 1 and r.job("b")["status"] == "skipped"
    gate.touch()
    r = wfrun("resume", "1", "--no-live")
    assert r.code == 0, r.out + r.err
    assert "b-ran" in r.out
    status = json.loads(wfrun("status", "1", "--json").out)
    assert {j["key"]: j["status"] for j in status["jobs"]} == {"a": "completed", "b": "completed"}


def test_resume_keeps_what_a_called_workflow_finished(wfrun, write, tmp_path):
    count, gate = tmp_path / "count", tmp_path / "gate"
    write("sub.yaml", f"""
jobs:
  x:
    steps:
      - run: echo x >> {count}; echo "made=yes" >> $OUTPUTS
  y:
    needs: [x]
    steps:
      - run: test -f {gate} && echo "y saw ${{{{ needs.x.outputs.made }}}}"
""")
    wf = write("main.yaml", """
jobs:
  top:
    steps:
      - uses: workflow/sub
""")
    r = wfrun(wf, "--no-live")
    assert r.code == 1
    assert count.read_text() == "x\n"
    gate.touch()
    r = wfrun("resume", "1", "--no-live")
    assert r.code == 0, r.out + r.err
    assert count.read_text() == "x\n", "the called workflow's finished job ran again"
    assert "y saw yes" in r.out


def test_workflow_that_calls_itself_is_refused_with_its_location(wfrun, write):
    write("b.yaml", "jobs:\n  j:\n    steps:\n      - uses: workflow/a\n")
    a = write("a.yaml", "jobs:\n  j:\n    steps:\n      - uses: workflow/b\n")
    for args in (("validate", a), (a, "--no-live")):
        r = wfrun(*args)
        assert r.code == 2, r.out + r.err
        assert "b.yaml:4:15: uses: workflow/a: the workflow calls itself (a.yaml → b.yaml → a.yaml)" in r.err
        assert "Traceback" not in r.err


def test_ctrl_c_while_waiting_for_an_ssh_connection_is_not_lost(wfrun, write, tmp_path):
    """A server that accepts TCP but never speaks SSH: the step waits in placement when Ctrl-C comes."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    wf = write("w.yaml", f"""
jobs:
  j:
    ssh:
      remoteHost: nobody@127.0.0.1:{port}
    steps:
      - run: echo never
""")
    env = {**os.environ, "WFRUN_HOME": str(wfrun.home), "WFRUN_CONFIG": str(tmp_path / "none.yaml")}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), "--no-live"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(2)
        assert proc.poll() is None
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        waited = time.monotonic() - start
    finally:
        silent.close()
    assert proc.returncode == 130, out
    assert waited < 10, f"the cancel waited {waited:.1f}s for the connection attempt (15 s timeout) to end"
    assert "never" not in out.replace("echo never", "")
