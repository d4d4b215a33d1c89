"""Finding what a command is about: a run by number or ``last``, a step selection ``JOB[/STEP]``, a step's log."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from workflow_runner.errors import WorkflowError, did_you_mean
from workflow_runner.state.rows import FINAL, RunRow, StepRow
from workflow_runner.state.runref import resolve_run  # noqa: F401 (the commands and serve find runs here)
from workflow_runner.state.store import RunStore




@dataclasses.dataclass
class Selection:
    job: str | None = None
    index: int | None = None
    name: str | None = None

    def matches(self, s: StepRow) -> bool:
        if self.job is not None and s.job != self.job:
            return False
        if self.index is not None:
            return s.index == self.index
        if self.name is not None:
            return s.name == self.name or (s.cleanup and s.name == f"{self.name} (cleanup)")
        return True

    @property
    def single_step(self) -> bool:
        return self.index is not None or self.name is not None


def select(store: RunStore, row: RunRow, text: str | None, follow: bool) -> Selection:
    if not text:
        return Selection()
    jobs = {j.key: j for j in store.jobs(row.id)}
    steps = store.steps(row.id)
    keys = list(dict.fromkeys([*jobs, *(s.job for s in steps)]))
    if text in keys:
        return Selection(job=text)
    if "/" not in text:
        raise WorkflowError(f"run {row.id} has no job '{text}'{did_you_mean(text, keys)}")
    job, step = text.rsplit("/", 1)
    if job not in keys:
        raise WorkflowError(f"run {row.id} has no job '{job}'{did_you_mean(job, keys) or did_you_mean(text, keys)}")
    own = [s for s in steps if s.job == job]
    job_open = not row.final and (job not in jobs or jobs[job].status not in FINAL)
    if step.isdigit():
        sel = Selection(job=job, index=int(step) - 1)
        if any(sel.matches(s) for s in own) or (follow and job_open):
            return sel
        top = max((s.index for s in own), default=-1) + 1
        known = f"it has steps 1..{top}" if top else "no steps have run yet"
        raise WorkflowError(f"job '{job}' of run {row.id} has no step {step} ({known})")
    sel = Selection(job=job, name=step)
    if any(sel.matches(s) for s in own) or (follow and job_open):
        return sel
    names = [s.name for s in own]
    hint = did_you_mean(step, names) or (f" (its steps: {', '.join(names)})" if names else " (no steps have run yet)")
    raise WorkflowError(f"job '{job}' of run {row.id} has no step '{step}'{hint}")


def guess_log(run_dir: str | None, s: StepRow) -> str | None:
    """The log path of a step that has not finished (StepStarted does not carry it): run_dir/logs/<job>/<NN>-*.log."""
    if s.log:
        return s.log
    if not run_dir or s.index < 0:
        return None
    from workflow_runner.state.rundir import safe_name

    folder = Path(run_dir) / "logs" / safe_name(s.job)
    if s.cleanup:
        found = sorted(folder.glob(f"{s.index + 1:02d}-*.cleanup.log"))
    else:
        found = [p for p in sorted(folder.glob(f"{s.index + 1:02d}-*.log")) if not p.name.endswith(".cleanup.log")]
    return str(found[0]) if len(found) == 1 else None


def in_run_order(steps: list[StepRow]) -> list[StepRow]:
    """Steps of each job in order, then its cleanups in the order they ran (they run last, newest step first).

    The store lists a cleanup right after its own step; a log reader wants the order things happened.
    Jobs keep the store's order.
    """
    jobs = list(dict.fromkeys(s.job for s in steps))
    out: list[StepRow] = []
    for job in jobs:
        own = [s for s in steps if s.job == job]
        out += [s for s in own if not s.cleanup]
        cleanups = [s for s in own if s.cleanup]
        # Not started yet: in the order they will run (reverse step order), after those that did.
        out += sorted(cleanups, key=lambda s: (s.started is None, s.started or 0.0, -s.index))
    return out


def exit_code_of(row: RunRow) -> int:
    """What ``wfrun logs -f`` exits with once the run it follows ended: the run's own exit code (1 if it has none)."""
    if row.exit_code is not None:
        return row.exit_code
    return 0 if row.status == "completed" else 1
