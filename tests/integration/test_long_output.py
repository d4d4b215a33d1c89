"""Step output through the real targets: every byte in the log however long the line; events stay proportionate.

A line longer than asyncio's 64 KiB readline limit used to be dropped or cut
(a 200 KB line kept 69 KB) and 200 MB of output made a 438 MB events.jsonl.
"""

from __future__ import annotations

import json

import pytest

from ssh_env import ssh_env, sshd  # noqa: F401  (fixture)

SCRIPT = """python3 -c "print('A'*65535+'END')"
          python3 -c "print('B'*200000+'END')"
          python3 -c "import sys; sys.stdout.write('C'*(6*1024*1024)+'END\\\\n')"
          echo short
          printf 'tail-without-newline'"""
EXPECTED = ["A" * 65535 + "END", "B" * 200000 + "END", "C" * (6 * 1024 * 1024) + "END", "short", "tail-without-newline"]


def check_run(r) -> None:
    assert r.code == 0, r.err[-2000:]
    [log] = list(r.home.glob("jobs/*/*/logs/*/*.log"))
    assert log.read_text().split("\n") == [*EXPECTED, ""]  # the log ends every line, the last one too
    events = [json.loads(line) for line in next(r.home.glob("jobs/*/*/events.jsonl")).read_text().splitlines()]
    lines = [e for e in events if e["event"] == "StepOutput"]
    assert [e.get("truncated") for e in lines] == [65538, 200003, 6 * 1024 * 1024 + 3, None, None]
    assert [e["line"][:1] for e in lines] == ["A", "B", "C", "s", "t"]
    assert all(len(e["line"]) <= 8192 for e in lines)


def test_long_lines_keep_every_byte_locally(wfrun, write):
    wf = write("w.yaml", f"jobs:\n  a:\n    steps:\n      - run: |\n          {SCRIPT}\n")
    check_run(wfrun(wf, "--quiet"))


@pytest.mark.ssh
def test_long_lines_keep_every_byte_over_ssh(wfrun, write, ssh_env):  # noqa: F811
    wf = write("w.yaml", f"jobs:\n  a:\n    ssh: {{remoteHost: \"{ssh_env.spec}\"}}\n    steps:\n      - run: |\n"
                         f"          {SCRIPT}\n")
    check_run(wfrun(wf, "--quiet", "--identity", ssh_env.key, "--known-hosts", ssh_env.known_hosts))


def test_events_stay_proportionate_to_the_run_not_its_output(wfrun, write):
    """30 MB of output in 300,000 lines: the log has all of it, events.jsonl a bounded sample and a count."""
    wf = write("w.yaml", "jobs:\n  a:\n    steps:\n      - run: python3 -c \"import sys; "
                         "sys.stdout.write(''.join('line %06d %s\\\\n' % (i, 'x' * 88) for i in range(300000)))\"\n")
    r = wfrun(wf, "--quiet", timeout=300)
    assert r.code == 0, r.err
    [log] = list(r.home.glob("jobs/*/*/logs/*/*.log"))
    lines = log.read_text().splitlines()
    assert len(lines) == 300000 and lines[-1].startswith("line 299999 ")
    events_file = next(r.home.glob("jobs/*/*/events.jsonl"))
    assert events_file.stat().st_size < 3 * 1024 * 1024
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    recorded = [e for e in events if e["event"] == "StepOutput"]
    [omitted] = [e for e in events if e["event"] == "StepOutputOmitted"]
    assert recorded[0]["line"].startswith("line 000000 ")
    assert len(recorded) + omitted["lines"] == 300000
    assert omitted["log"] == str(log)
    assert events[-1]["event"] == "RunFinished"
