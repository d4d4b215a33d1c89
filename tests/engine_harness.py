"""An in-process harness for the engine: a workflow runs against fake targets in milliseconds.

The semantics of a run — needs, ``if:``, cleanup order, early-cancel, retries, cancel,
fail-fast, timeouts — do not depend on where a script runs. Here every script is looked up in
a table (``{"script text": Fake(...)}``) instead of being run, and the run's events come back as
a short trace, so a test states the exact order of what happened without a subprocess.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflow_runner.engine.events import JobChanged, RunFinished, StepFinished, StepStarted
from workflow_runner.engine.runstate import RunOptions, Shared
from workflow_runner.engine.scheduler import RunEngine
from workflow_runner.graph import make_plan
from workflow_runner.inputs import Sources, resolve
from workflow_runner.state.rundir import RunDir
from workflow_runner.targets.base import StepCommand, StepResult, TargetStats
from workflow_runner.validate import load_workflow


@dataclass
class Fake:
    """What a fake script does: print ``lines``, sleep ``sleep`` seconds (cancellable), write ``outputs``, exit."""

    exit: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    sleep: float = 0.0
    exits: list[int] | None = None
    """Exit codes of successive runs (retries); the last one repeats."""


class FakeTarget:
    """targets.base.Target: runs nothing; answers from the table and records what it was asked."""

    def __init__(self, name: str, fakes: dict[str, Fake], trace: list[tuple]) -> None:
        self.name = name
        self.stats = TargetStats()
        self.fakes = fakes
        self.trace = trace
        self.runs: dict[str, int] = {}

    async def home(self) -> str:
        return "/home/fake"

    async def run(self, command: StepCommand, on_output: Any) -> StepResult:
        script = command.script.strip()
        fake = self.fakes.get(script, Fake())
        count = self.runs.get(script, 0)
        self.runs[script] = count + 1
        self.trace.append(("exec", self.name, script))
        for line in fake.lines:
            on_output(line)
        if fake.sleep:
            try:
                await asyncio.sleep(fake.sleep)
            except asyncio.CancelledError:
                self.trace.append(("killed", script))
                raise
        code = fake.exits[min(count, len(fake.exits) - 1)] if fake.exits else fake.exit
        return StepResult(code, "".join(f"{k}={v}\n" for k, v in fake.outputs.items()))

    async def aclose(self) -> None:
        pass


class FakeTargets:
    """Duck-types targets.select.Targets: ``local`` and one FakeTarget per host."""

    def __init__(self, fakes: dict[str, Fake], trace: list[tuple]) -> None:
        self.fakes, self.trace = fakes, trace
        self.local = FakeTarget("local", fakes, trace)
        self.hosts: dict[str, FakeTarget] = {}

    def get(self, host: str | None, jump: str | None = None) -> FakeTarget:
        if not host or host in ("localhost", "local"):
            return self.local
        return self.hosts.setdefault(host, FakeTarget(host, self.fakes, self.trace))

    async def aclose(self) -> None:
        pass


class TraceReporter:
    """Records the run's events as short tuples (the form assert_trace compares)."""

    def __init__(self, trace: list[tuple]) -> None:
        self.trace = trace

    def emit(self, event: Any) -> None:
        if isinstance(event, JobChanged):
            self.trace.append(("job", event.job, event.status))
        elif isinstance(event, StepStarted):
            self.trace.append(("cleanup-start" if event.cleanup else "start", event.job, event.step))
        elif isinstance(event, StepFinished):
            self.trace.append(("cleanup" if event.cleanup else "step", event.job, event.step, event.status))
        elif isinstance(event, RunFinished):
            self.trace.append(("run", event.status, event.exit_code))


@dataclass
class Trace:
    events: list[tuple]
    outcome: Any
    messages: dict[tuple[str, str], str | None]
    """(job, step) → the message its StepFinished carried (why it failed, was skipped or canceled)."""

    def of(self, kind: str) -> list[tuple]:
        return [e for e in self.events if e[0] == kind]

    def steps(self, job: str) -> list[tuple[str, str]]:
        return [(e[2], e[3]) for e in self.events if e[0] == "step" and e[1] == job]

    def jobs(self) -> dict[str, str]:
        final = {}
        for e in self.events:
            if e[0] == "job":
                final[e[1]] = e[2]
        return final

    def execs(self) -> list[str]:
        """The scripts the targets were asked to run, in order."""
        return [e[2] for e in self.events if e[0] == "exec"]

    def index(self, event: tuple) -> int:
        return self.events.index(event)


class _MessageReporter(TraceReporter):
    def __init__(self, trace: list[tuple], messages: dict) -> None:
        super().__init__(trace)
        self.messages = messages

    def emit(self, event: Any) -> None:
        super().emit(event)
        if isinstance(event, StepFinished) and not event.cleanup:
            self.messages[(event.job, event.step)] = event.message


def run_workflow(yaml_text: str, *, fakes: dict[str, Fake] | None = None, actions: Any = None,
                 inputs: dict[str, Any] | None = None, cancel_after: float | None = None,
                 max_parallel: int = 2, files: dict[str, str] | None = None, pool: Any = None) -> Trace:
    """Validate ``yaml_text`` like ``wfrun run`` does, run it on fake targets, return its trace.

    ``files``: more workflow files next to it (``uses: workflow/<name>`` finds ``<name>.yaml``).
    ``pool``: an engine.resources.ResourcePool the local steps hold (None: no resource accounting).
    """
    events: list[tuple] = []
    messages: dict[tuple[str, str], str | None] = {}
    with tempfile.TemporaryDirectory(prefix="wfrun-harness-") as tmp:
        path = Path(tmp) / "wf.yaml"
        path.write_text(yaml_text)
        for name, text in (files or {}).items():
            (Path(tmp) / name).write_text(text)
        wf = load_workflow(path)
        resolved = resolve(wf, Sources([("test", inputs or {})]))
        plan = make_plan(wf, resolved.values, resolved.secrets)

        async def main() -> Any:
            shared = Shared(reporter=_MessageReporter(events, messages), targets=FakeTargets(fakes or {}, events),
                            options=RunOptions(max_parallel=max_parallel, grace=0.05, cleanup_timeout=5.0),
                            local_slots=asyncio.Semaphore(max_parallel), secrets=list(resolved.secrets), actions=actions, pool=pool)
            engine = RunEngine(plan, resolved, RunDir(Path(tmp) / "run", 1, wf.name), shared, run_id="1")
            (Path(tmp) / "run").mkdir()
            if cancel_after is not None:
                asyncio.get_running_loop().call_later(cancel_after, engine.cancel, "canceled", 130)
            return await engine.run()

        outcome = asyncio.run(main())
    return Trace(events, outcome, messages)


def assert_before(trace: Trace, first: tuple, then: tuple) -> None:
    """Partial order: ``first`` happened, ``then`` happened, and ``first`` came before ``then``."""
    assert first in trace.events, (first, trace.events)
    assert then in trace.events, (then, trace.events)
    assert trace.index(first) < trace.index(then), (first, then, trace.events)
