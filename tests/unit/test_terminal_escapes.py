"""Names from the user's file never drive the terminal; step output stays raw, except inside the live panel."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_runner.engine.events import JobChanged, RunFinished, RunStarted, StepAnnotation, StepFinished, StepOutput
from workflow_runner.ui.console import LiveReporter, PlainReporter
from workflow_runner.ui.text import VisibleOut, panel_safe, visible

EVIL = "x\x1b[2J\x1bc\x1b]0;pwned\x07\r\x08\x9b\u202eY"
CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def rendered(event) -> str:
    out = io.StringIO()
    PlainReporter(out, color=False).emit(event)
    return out.getvalue()


@pytest.mark.parametrize("event", [
    RunStarted("1", "/tmp/x", EVIL, ("a",)),
    StepFinished(EVIL, EVIL, "failed", 1, 0.1, "/tmp/log", EVIL),
    JobChanged(EVIL, "failed", EVIL),
    StepAnnotation(EVIL, EVIL, "error", EVIL, EVIL),
    RunFinished("failed", 1, 0.1, ((EVIL, EVIL, EVIL, EVIL),)),
])
def test_plain_lines_show_escapes_in_names_and_messages(event):
    text = rendered(event)
    assert not CONTROLS.search(text.replace("\n", "")), repr(text)
    assert "\\x1b[2J" in text


def test_plain_output_lines_stay_raw_but_their_prefix_is_escaped():
    text = rendered(StepOutput(EVIL, EVIL, "\x1b[31mred\x1b[0m"))
    assert text == f"[{visible(EVIL)}/{visible(EVIL)}] \x1b[31mred\x1b[0m\n"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "\t", "\x1b", "[", "2", "J", ";", "m", "\r", "\x07", "\x9b", "]", "\u202e"])))
def test_panel_safe_keeps_only_colours_and_tabs(line):
    safe = panel_safe(line)
    assert not CONTROLS.search(re.sub(r"\x1b\[[0-9;]*m", "", safe).replace("\t", ""))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_visible_leaves_no_control_and_is_identity_on_printable(text):
    shown = visible(text)
    assert not CONTROLS.search(shown)
    if not CONTROLS.search(text) and "\u200e" not in text and "\u200f" not in text and "\u2028" not in text \
            and "\u2029" not in text:
        assert shown == text


def test_visible_out_keeps_newlines_and_wfrun_colours_only():
    out = io.StringIO()
    VisibleOut(out).write("\x1b[32mok\x1b[0m " + EVIL + "\nnext\x1b[8m")
    assert out.getvalue() == "\x1b[32mok\x1b[0m " + visible(EVIL) + "\nnext\\x1b[8m"


def test_runs_status_and_logs_escape_names(wfrun, write, tmp_path):
    wf = write("w\x1b[2J.yaml", "jobs:\n  j:\n    steps:\n      - name: \"step\\e]0;title\\a\\e[2J\"\n"
                                "        run: printf 'out\\033[2Jline\\n'\n")
    r = wfrun(wf, "--no-live")
    assert r.code == 0, r.err
    assert "[j/step\\x1b]0;title\\x07\\x1b[2J] out\x1b[2Jline" in r.out  # the name escaped, the output raw
    assert "run 1 of w\\x1b[2J" in r.out
    for args in (("runs",), ("status", "1"), ("logs", "1")):
        shown = wfrun(*args)
        assert shown.code == 0, shown.err
        names = shown.out.replace("out\x1b[2Jline", "")  # `logs` prints the step's own output raw
        assert not CONTROLS.search(names.replace("\n", "")), (args, shown.out)
    assert "w\\x1b[2J" in wfrun("runs").out
    assert "step\\x1b]0;title\\x07\\x1b[2J" in wfrun("status", "1").out


def test_live_panel_output_keeps_colours_but_not_screen_control(monkeypatch):
    monkeypatch.setattr("sys.stdout", io.StringIO())
    live = LiveReporter()
    line = live.render(StepOutput("j", EVIL, "\x1b[31mred\x1b[0m\x1b[2J\rprogress\tdone"))
    assert line.endswith("\x1b[31mred\x1b[0m\\x1b[2J\\x0dprogress\tdone")
    assert "\x1b[2J" not in line.replace("\\x1b[2J", "")
