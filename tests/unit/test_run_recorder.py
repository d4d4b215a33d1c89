"""RunRecorder: what one turn of the event loop emits reaches events.jsonl in one write, in order, and nothing waits longer."""

from __future__ import annotations

import asyncio
import json

from workflow_runner.engine.events import StepOutput, StepStarted
from workflow_runner.ui.console import RunRecorder


def _events(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_turns_events_are_one_write_and_land_before_the_next_turn(tmp_path, monkeypatch):
    recorder = RunRecorder(tmp_path)
    writes = []
    real = recorder.events.write
    monkeypatch.setattr(recorder.events, "write", lambda text: (writes.append(text), real(text)))

    async def steps():
        recorder.emit(StepStarted("a", "s"))
        for n in range(3):
            recorder.emit(StepOutput("a", "s", f"line {n}"))
        assert not (tmp_path / "events.jsonl").read_text()  # still this turn
        await asyncio.sleep(0)
        assert [e.get("line") for e in _events(tmp_path / "events.jsonl")] == [None, "line 0", "line 1", "line 2"]
        recorder.emit(StepOutput("a", "s", "later"))
        await asyncio.sleep(0)

    asyncio.run(steps())
    assert len(writes) == 2
    assert _events(tmp_path / "events.jsonl")[-1]["line"] == "later"


def test_without_an_event_loop_and_past_64_kb_lines_are_written_at_once(tmp_path):
    recorder = RunRecorder(tmp_path)
    recorder.emit(StepStarted("a", "s"))
    assert _events(tmp_path / "events.jsonl")[0]["event"] == "StepStarted"

    async def chatty():
        for n in range(200):
            recorder.emit(StepOutput("a", "s", "x" * 1000))
        assert len(_events(tmp_path / "events.jsonl")) > 1  # 64 KB went out without waiting for the turn's end

    asyncio.run(chatty())
    recorder.flush()
    assert len(_events(tmp_path / "events.jsonl")) == 201
