"""Property: for any two passwords, no form of either leaves the step processes that use them.

Hypothesis draws two passwords — quotes, backslashes, newlines, non-ASCII, one
often containing the other — and runs a real workflow that uses them every way
issue 11 found a leak: as environment values printed by a step, through
``toJSON(inputs)``, in an expression error that quotes the value, as matrix
values, written to ``$OUTPUTS`` and read back by a later job, once in the
foreground (passwords from an ``--inputs`` file) and once with ``--detach``
(passwords given with ``--set``). Then nothing may hold any form of either
password that wfrun's own encodings produce (secret_scan.encodings: as typed,
JSON-escaped, repr()-quoted, each line of ≥ 3 visible characters): no file
under WFRUN_HOME (contents as bytes, runs.db included, and names), no event
(``--json`` output, events.jsonl), nothing wfrun printed (``run``, ``status``,
``logs``), no command line of any process sampled while the runs go on (the
``wfrun run --detach --set …`` the user typed excepted: its own arguments are
the user's).

What the passwords are made of, and why:

- every line is at least 6 characters and holds a quote or backslash *and* a
  non-ASCII character: a short or plain line ("a", "true", "run") would match
  wfrun's own text (paths, statuses, JSON keys), failing the property for no
  leak — and a line of a multi-line password is masked (and looked for) alone;
- no control characters but the newline between lines (nor other line or
  paragraph separators): a step's output reaches wfrun one ``\\n``-ended line at
  a time, so what a step prints of a ``\\r`` or a form feed is the terminal's
  business, not a form of the password wfrun produces;
- no ``{`` or ``}``: the format error is provoked by appending a ``{`` to the
  password; a brace inside would end the format string earlier with a message
  about that placeholder instead;
- no blanks at either end of a line: they carry nothing to look for.

Bounded to keep CI fast: 10 examples, two overlapping runs each (≈ 2–3 s an example on an idle machine).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from secret_scan import CmdlineSampler, found_in, scan_home

WORKFLOW = """
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
      - run: printf 'matrix %s\\n' "$P"
        env: {P: "${{ matrix.p }}"}
  use:
    steps:
      - id: put
        run: |
          printf 'env %s\\n' "$ONE"
          printf 'json %s\\n' "$J"
          printf 'one<<WFRUN_EOF\\n%s\\nWFRUN_EOF\\n' "$ONE" >> "$OUTPUTS"
          printf 'two=%s\\n' "$TWO" >> "$OUTPUTS"
          sleep 0.2
        env:
          ONE: ${{ inputs.one }}
          TWO: ${{ inputs.two }}
          J: ${{ toJSON(inputs) }}
  later:
    needs: [use]
    steps:
      - run: |
          [ "$GOT" = "$ONE" ] && echo "clear value passed on"
        env:
          GOT: ${{ needs.use.outputs.one }}
          ONE: ${{ inputs.one }}
  bad:
    steps:
      - run: echo "${{ format(format('{0}{{', inputs.one)) }}"
"""

_QUOTES = st.sampled_from(["'", '"', "\\"])
_NON_ASCII = st.characters(min_codepoint=0xA1, max_codepoint=0x2FFFF, categories=("L", "N", "S"))
_ANY = st.characters(categories=("L", "N", "P", "S"), exclude_characters="{}", codec="utf-8") | st.just(" ")


@st.composite
def _line(draw: st.DrawFn) -> str:
    parts = [draw(st.text(_ANY, min_size=1, max_size=6)), draw(_QUOTES), draw(st.text(_ANY, max_size=6)),
             draw(_NON_ASCII), draw(st.text(_ANY, min_size=1, max_size=6))]
    order = draw(st.permutations(range(len(parts))))
    line = "".join(parts[i] for i in order).strip()
    return line if len(line) >= 6 else line + draw(_NON_ASCII) * (6 - len(line))


_password = st.lists(_line(), min_size=1, max_size=3).map("\n".join)


@st.composite
def _passwords(draw: st.DrawFn) -> tuple[str, str]:
    """Two different passwords; often one contains the other (a masker must hide the longer one whole)."""
    one = draw(_password)
    extra = draw(_password.filter(lambda text: text != one))
    two = draw(st.sampled_from([extra, one + extra, extra + one, one + "\n" + extra]))
    return one, two


def _wfrun(home: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "WFRUN_HOME": str(home), "WFRUN_CONFIG": str(home.parent / "no-config.yaml")}
    return subprocess.run([sys.executable, "-m", "workflow_runner", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=home.parent, **kw)


def _finished(home: Path, run: int) -> bool:
    db = sqlite3.connect(home / "runs.db")
    try:
        row = db.execute("SELECT status FROM runs WHERE id = ?", (run,)).fetchone()
    finally:
        db.close()
    return row is not None and row[0] not in ("created", "running")


# No shrinking: each step of it is two real runs (seconds), and a failing example is short already.
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(_passwords())
def test_no_form_of_a_password_leaves_the_steps_that_use_it(passwords: tuple[str, str]) -> None:
    one, two = passwords
    secrets = [one, two]
    tmp = Path(tempfile.mkdtemp(prefix="wfrun-secret-prop-"))
    try:
        home = tmp / "home"
        wf = tmp / "w.yaml"
        wf.write_text(WORKFLOW)
        (tmp / "inputs.json").write_text(json.dumps({"one": one, "two": two}))
        printed: list[tuple[str, str]] = []
        with CmdlineSampler(secrets, interval=0.03) as sampler:
            with sampler.paused():  # the command line typed here is the user's; its background run's is ours
                bg = _wfrun(home, "run", str(wf), "--detach", "--set", f"one={json.dumps(one)}",
                            "--set", f"two={json.dumps(two)}")
            assert bg.returncode == 0, bg.stderr
            printed += [("detach stdout", bg.stdout), ("detach stderr", bg.stderr)]
            fg = _wfrun(home, "run", str(wf), "--json", "-f", "inputs.json")  # while the detached run goes on
            printed += [("run stdout", fg.stdout), ("run stderr", fg.stderr)]
            deadline = time.monotonic() + 60
            while not _finished(home, 1):
                assert time.monotonic() < deadline, "the detached run did not finish"
                time.sleep(0.05)
        for command in (("status", "1", "--json"), ("logs", "2")):  # what they read back is scanned above as files
            r = _wfrun(home, *command)
            assert r.returncode == 0, r.stderr
            printed.append((" ".join(command), r.stdout + r.stderr))

        # The runs did what the property is about: every use happened, masked.
        assert fg.returncode == 1, fg.stderr  # the format error fails job 'bad'
        events = [json.loads(line) for line in fg.stdout.splitlines()]
        jobs = {e["job"]: e for e in events if e["event"] == "JobChanged" and e["status"] != "running"}
        assert sorted(jobs) == ["bad", "later", "m (***) #1", "m (***) #2", "m (plain)", "use"], sorted(jobs)
        assert jobs["later"]["status"] == "completed" and jobs["bad"]["status"] == "failed"
        lines = [e["line"] for e in events if e["event"] == "StepOutput"]
        assert "env ***" in lines and "clear value passed on" in lines, lines
        assert "format: unmatched '{'" in jobs["bad"]["reason"], jobs["bad"]["reason"]
        assert sampler.samples > 5 and any(c.startswith(b"sleep\x000.2") for c in sampler.seen)

        hits = scan_home(home, secrets)
        hits += [f"{name}: {h}" for name, text in printed for h in found_in(text.encode("utf-8", "surrogateescape"), secrets)]
        hits += sorted(sampler.hits)
        assert hits == []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
