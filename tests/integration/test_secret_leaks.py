"""Issue 11, items 5–10: a password never shows outside the step's own process, whatever wfrun does with it.

Each test runs the real CLI and looks in every file under WFRUN_HOME (names included, runs.db as
bytes), in wfrun's stdout/stderr, ``status`` and ``logs``, for the secret in each form wfrun's own
encodings make of it (see secret_scan.encodings).
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import shutil
import sqlite3
import subprocess
import sys
import time

from pathlib import Path

import pytest
from secret_scan import CmdlineSampler, encodings, found_in, scan_home
from ssh_env import ssh_env, sshd  # noqa: F401  (fixture)

TOKEN = os.urandom(4).hex()


def _inputs(write, **values: str):
    return write("inputs.json", json.dumps(values))


def _no_leak(wfrun, r, secrets: list[str], run: int = 1) -> None:
    status = wfrun("status", str(run), "--json")
    logs = wfrun("logs", str(run))
    assert status.code == 0 and logs.code == 0, status.err + logs.err
    hits = scan_home(r.home, secrets)
    for name, text in (("stdout", r.out), ("stderr", r.err), ("status", status.out), ("logs", logs.out)):
        hits += [f"{name}: {h}" for h in found_in(text.encode(), secrets)]
    assert hits == []


def test_a_secret_matrix_value_is_masked_in_the_job_key_and_its_log_folder(wfrun, write):
    """Item 5: ``m (SECRET)`` named the job everywhere, down to ``logs/m_SECRET/``."""
    one, two = f"Mtx1{TOKEN}", f"Mtx2{TOKEN}"
    wf = write("w.yaml", """
on:
  execute:
    inputs:
      one: {type: password}
      two: {type: password}
jobs:
  m:
    strategy:
      matrix:
        p: ["${{ inputs.one }}", "${{ inputs.two }}", plain]
    steps:
      - run: echo "value $P"
        env: {P: "${{ matrix.p }}"}
""")
    r = wfrun(wf, "--json", "-f", _inputs(write, one=one, two=two))
    assert r.code == 0, r.err
    _no_leak(wfrun, r, [one, two])
    keys = sorted(r.run_json()["jobs"])
    assert keys == ["m (***) #1", "m (***) #2", "m (plain)"], "two secret instances stay apart"
    assert len({p.name for p in r.home.glob("jobs/w/*/logs/*")}) == 3


def test_to_json_of_a_password_with_quotes_backslashes_and_newlines_is_masked(wfrun, write):
    """Item 6: toJSON printed the JSON-escaped password, which the masker did not know."""
    pw = f'q"uo\\te{TOKEN}\nsecond line {TOKEN}'
    wf = write("w.yaml", """
on:
  execute:
    inputs:
      pw: {type: password}
jobs:
  j:
    steps:
      - run: printf '%s\\n' "$J"
        env: {J: "${{ toJSON(inputs) }}"}
""")
    r = wfrun(wf, "--json", "-f", _inputs(write, pw=pw))
    assert r.code == 0, r.err
    assert encodings(pw)["json-ascii"] not in r.out.encode()
    assert '\\"pw\\": \\"***\\"' in r.out, "the line is there, the password masked"
    _no_leak(wfrun, r, [pw])


def test_each_line_of_a_multi_line_password_is_masked(wfrun, write):
    """Item 7: output is masked line by line, so a multi-line password got through in pieces."""
    pw = f"-----BEGIN {TOKEN}-----\nMIIEv{TOKEN}QIBADANBg\n-----END {TOKEN}-----"
    wf = write("w.yaml", """
on:
  execute:
    inputs:
      pw: {type: password}
jobs:
  j:
    steps:
      - run: printf '%s\\n' "$PW"
        env: {PW: "${{ inputs.pw }}"}
""")
    r = wfrun(wf, "--no-live", "-f", _inputs(write, pw=pw))
    assert r.code == 0, r.err
    assert r.out.count("***") >= 3
    _no_leak(wfrun, r, [pw])


def test_an_expression_error_quoting_a_password_masks_it(wfrun, write):
    """Item 8: ``format(inputs.pw)`` failed with the password in repr() form: log, screen, store, status."""
    pw = f"it's a \\ back{TOKEN}{{"
    wf = write("w.yaml", """
on:
  execute:
    inputs:
      pw: {type: password}
jobs:
  j:
    steps:
      - run: echo "${{ format(inputs.pw) }}"
""")
    r = wfrun(wf, "--no-live", "-f", _inputs(write, pw=pw))
    assert r.code == 1
    assert "format: unmatched '{'" in r.out, r.out  # the error happened; whether it quotes the value is its business
    assert encodings(pw)["repr"] != pw.encode(), "the test needs a password whose repr differs"
    _no_leak(wfrun, r, [pw])


def test_detach_hands_the_set_values_to_the_background_run_off_its_command_line(wfrun, write, tmp_path):
    """Item 9: the background process of ``--detach`` had ``--set pw=SECRET`` on its command line for the whole run."""
    pw = f"Det{TOKEN}"
    wf = write("w.yaml", """
on:
  execute:
    inputs:
      pw: {type: password}
jobs:
  j:
    steps:
      - run: |
          printf '%s' "$PW" | sha256sum
          sleep 1.5
        env: {PW: "${{ inputs.pw }}"}
""")
    r = wfrun(wf, "--detach", "--set", f"pw={pw}")
    assert r.code == 0, r.err
    child = int(re.search(r"\(pid (\d+)\)", r.out).group(1))
    with CmdlineSampler([pw]) as sampler:
        own = open(f"/proc/{child}/cmdline", "rb").read()
        db = sqlite3.connect(wfrun.home / "runs.db")
        deadline = time.monotonic() + 30
        while db.execute("SELECT status FROM runs WHERE id = 1").fetchone()[0] not in ("completed", "failed"):
            assert time.monotonic() < deadline, "the detached run did not finish"
            time.sleep(0.1)
        db.close()
    assert not found_in(own, [pw]) and b"workflow_runner" in own
    assert sampler.hits == set()
    assert any(c == b"sleep\x001.5\x00" for c in sampler.seen), "the step never ran while we looked"
    out = next(wfrun.home.glob("jobs/w/*/wfrun.out")).read_text()
    assert hashlib.sha256(pw.encode()).hexdigest() in out, "the background run got the password"
    _no_leak(wfrun, r, [pw])


def test_a_password_written_to_outputs_is_masked_on_disk_and_still_reaches_later_steps(wfrun, write):
    """Item 10: ``outputs/<job>/…`` kept the password in plain text (the store's copy was masked)."""
    pw = f"Out{TOKEN}\nsecond {TOKEN}"
    wf = write("w.yaml", """
on:
  execute:
    inputs:
      pw: {type: password}
jobs:
  a:
    steps:
      - id: put
        run: |
          printf 'token<<EOF\\n%s\\nEOF\\n' "$PW" >> "$OUTPUTS"
          echo "plain=visible" >> "$OUTPUTS"
        env: {PW: "${{ inputs.pw }}"}
        cleanup: printf 'cleaned=%s\\n' "$PW" >> "$OUTPUTS"
  b:
    needs: [a]
    steps:
      - run: '[ "$V" = "$PW" ] && echo "same value"'
        env:
          V: ${{ needs.a.outputs.token }}
          PW: ${{ inputs.pw }}
""")
    r = wfrun(wf, "--no-live", "-f", _inputs(write, pw=pw))
    assert r.code == 0, r.out + r.err
    assert "same value" in r.out, "a later step still gets the clear value"
    files = list(r.home.glob("jobs/w/*/outputs/a/*"))
    text = "".join(f.read_text() for f in files)
    assert "token<<EOF\n***\nEOF\nplain=visible\ncleaned=***\n" in text, text
    _no_leak(wfrun, r, [pw])


def test_the_detached_child_refuses_to_run_without_its_arguments():
    """``python -m workflow_runner.detached`` with nothing on stdin is a one-line error, not a traceback."""
    proc = subprocess.run([sys.executable, "-m", "workflow_runner.detached", "1"], input=b"", capture_output=True,
                          timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.decode().strip().endswith("(start it with wfrun run --detach)")
    assert b"Traceback" not in proc.stderr


@pytest.mark.ssh
def test_a_password_written_to_outputs_on_an_ssh_host_is_masked_there(ssh_env, wfrun, write):  # noqa: F811
    """Item 10 over SSH: the step's ``$OUTPUTS`` file in the remote run directory is rewritten masked."""
    pw = f"Rem{TOKEN}"
    name = f"leak-{TOKEN}"  # the remote run directory is ~/pw/jobs/<name>/00001: one of this test's own
    wf = write("w.yaml", f"""
name: {name}
on:
  execute:
    inputs:
      pw: {{type: password}}
jobs:
  a:
    ssh: {{remoteHost: "{ssh_env.spec}"}}
    steps:
      - id: put
        run: |
          echo "token=$PW" >> "$OUTPUTS"
          echo "plain=visible" >> "$OUTPUTS"
        env: {{PW: "${{{{ inputs.pw }}}}"}}
  b:
    needs: [a]
    steps:
      - run: '[ "$V" = "$PW" ] && echo "same value"'
        env:
          V: ${{{{ needs.a.outputs.token }}}}
          PW: ${{{{ inputs.pw }}}}
""")
    r = wfrun(wf, "--no-live", "-f", _inputs(write, pw=pw), "--identity", ssh_env.key, "--known-hosts", ssh_env.known_hosts)
    assert r.code == 0, r.out + r.err
    assert "same value" in r.out
    home = Path(pwd.getpwnam(ssh_env.user).pw_dir)  # the test sshd serves this machine: its user's home is here
    remote = home / "pw" / "jobs" / name / "00001"
    try:
        assert (remote / "outputs" / "a" / "01-put.0").read_text() == "token=***\nplain=visible\n"
        assert scan_home(remote, [pw]) == []
    finally:
        shutil.rmtree(remote.parent, ignore_errors=True)
    _no_leak(wfrun, r, [pw])
