"""A ``password`` input never leaves wfrun unmasked: not in events, summaries, the store or command lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

SECRET = "s3cr3t-" + os.urandom(5).hex()

LEAKY = """
jobs:
  leak:
    outputs:
      copied: ${{ needs.leak.outputs.token }}
    steps:
      - id: put
        run: |
          echo "token=${{ inputs.token }}" >> $OUTPUTS
          echo "::error title=${{ inputs.token }}::failed with ${{ inputs.token }}"
          exit 3
  later:
    needs: [leak]
    if: ${{ always() }}
    steps:
      - run: echo "${{ needs.leak.outputs.token }}"
'on':
  execute:
    inputs:
      token: {type: password}
"""


def _everything_written(home) -> list[tuple[str, str]]:
    files = []
    for path in home.rglob("*"):
        if path.is_file() and path.suffix in (".jsonl", ".json", ".log", ".out"):
            files.append((str(path), path.read_text(errors="replace")))
    return files


def test_secret_masked_in_json_events_run_json_and_store(wfrun, write):
    wf = write("w.yaml", LEAKY)
    r = wfrun(wf, "--json", "--set", f"token={SECRET}")
    assert r.code == 1, r.err
    assert SECRET not in r.out and SECRET not in r.err
    events = [json.loads(line) for line in r.out.splitlines()]
    finished = [e for e in events if e["event"] == "StepFinished" and e["job"] == "leak"]
    assert finished[0]["outputs"] == {"token": "***"}
    failed = [e for e in events if e["event"] == "RunFinished"][0]["failures"]
    assert failed and all(SECRET not in str(f) for f in failed)
    assert any("***" in str(f) for f in failed), "the ::error:: message names the secret (masked)"
    written = _everything_written(r.home)
    assert any(name.endswith("events.jsonl") for name, _ in written)
    assert [name for name, text in written if SECRET in text] == []
    status = wfrun("status", "1", "--json")
    assert status.code == 0 and SECRET not in status.out
    db = r.home / "runs.db"
    if db.exists():
        assert SECRET.encode() not in db.read_bytes()


def test_secret_not_in_local_command_lines(wfrun, write):
    """Command lines are world-readable (ps): the rendered script must reach bash another way."""
    wf = write("w.yaml", """
jobs:
  j:
    steps:
      - run: |
          echo "using ${{ inputs.token }}" > /dev/null
          sleep 3
          echo done
'on':
  execute:
    inputs:
      token: {type: password}
""")
    inputs = write("inputs.json", json.dumps({"token": SECRET}))
    env = {**os.environ, "WFRUN_HOME": str(wfrun.home), "WFRUN_CONFIG": "/nonexistent"}
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), "--inputs", str(inputs)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    hits: set[str] = set()
    seen_sleep = False
    deadline = time.monotonic() + 20
    while proc.poll() is None and time.monotonic() < deadline:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if SECRET.encode() in cmdline:
                hits.add(cmdline.decode(errors="replace"))
            seen_sleep |= cmdline == b"sleep\x003\x00"
        time.sleep(0.05)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert seen_sleep, "the step never ran while we looked"
    assert hits == set()


def test_long_local_scripts_run_whole(wfrun, write):
    """Over a pipe's default 64 KiB, and over 1 MiB (a private file that is removed afterwards)."""
    for lines in (2_000, 20_000):
        filler = "".join(f"          : line {i} {'x' * 60}\n" for i in range(lines))
        wf = write(f"long{lines}.yaml", "jobs:\n  j:\n    steps:\n      - run: |\n" + filler
                   + '          echo "last line $LINENO"\n')
        r = wfrun(wf)
        assert r.code == 0, r.err
        assert f"last line {lines + 1}" in r.out
        assert not list(r.home.rglob("*.script.sh"))


def test_a_secret_that_matches_part_of_a_path_or_status_leaves_them_intact(wfrun, write, tmp_path):
    """Masking is for free text: run paths, job names and statuses stay what wfrun reads back."""
    config = write("config.yaml", "org:\n  account: wfrun-home\n")  # part of every path under WFRUN_HOME
    wf = write("w.yaml", """
jobs:
  build:
    steps:
      - run: echo "hi ${{ inputs.pw }}"
'on':
  execute:
    inputs:
      pw: {type: password}
""")
    r = wfrun(wf, "--no-live", "--set", "pw=complete", env={"WFRUN_CONFIG": str(config)})
    assert r.code == 0, r.out + r.err
    assert "hi ***" in r.out
    status = json.loads(wfrun("status", "1", "--json").out)
    assert status["status"] == "completed" and [j["key"] for j in status["jobs"]] == ["build"]
    logs = wfrun("logs", "1", env={"WFRUN_CONFIG": str(config)})
    assert logs.code == 0, logs.err
    assert "hi ***" in logs.out
    assert r.run_json()["jobs"]["build"]["status"] == "completed"


def test_a_local_script_sees_what_bash_c_shows(wfrun, write):
    """Reading the script from a descriptor changes nothing a script can see: $0, BASH_SOURCE, LINENO, stdin."""
    wf = write("w.yaml", """
jobs:
  j:
    steps:
      - run: |
          echo "0=$0 source=[${BASH_SOURCE[0]-}] dir=$(dirname "${BASH_SOURCE[0]-}") line=$LINENO"
          read -r x; echo "stdin=$? fds=$(ls /proc/$$/fd | sort -n | tr '\\n' ' ')"
""")
    r = wfrun(wf, "--no-live")
    assert r.code == 0, r.out + r.err
    assert "0=bash source=[] dir=. line=1" in r.out
    assert "stdin=1 fds=0 1 2 " in r.out  # the script's descriptor is closed before it runs
