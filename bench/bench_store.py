"""Run store overhead: synthetic engine events recorded into a fresh runs.db.

Each job gets the four events of a one-step `echo hi` job (JobChanged running,
StepStarted, StepFinished, JobChanged completed) after one RunStarted; a
RunFinished ends the run (and forces the final commit). Reports the time per
job for 200, 1,000 and 10,000 jobs (flat = no per-job growth) and, for
reference, the same stream through ui.console.RunRecorder (events.jsonl).

    python bench/bench_store.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from workflow_runner.engine.events import JobChanged, RunFinished, RunStarted, StepFinished, StepOutput, StepStarted
from workflow_runner.engine.record import StoreRecorder
from workflow_runner.state.store import RunStore


def events(n: int, run_dir: str) -> list:
    out: list = [RunStarted("1", run_dir, "bench", tuple(f"j{i}" for i in range(n)))]
    for i in range(n):
        job = f"j{i}"
        out += [
            JobChanged(job, "running"),
            StepStarted(job, "echo hi", 0, "local", 0),
            StepOutput(job, "echo hi", "hi"),
            StepFinished(job, "echo hi", "completed", 0, 0.003, f"{run_dir}/logs/{job}/01-echo_hi.log", None, 0, outputs={}),
            JobChanged(job, "completed"),
        ]
    out.append(RunFinished("completed", 0, 1.0, ()))
    return out


def time_store(n: int, tmp: Path) -> float:
    stream = events(n, str(tmp))
    db = tmp / f"runs-{n}-{time.monotonic_ns()}.db"
    store = RunStore(db)
    run = store.new_run(workflow="bench", file="bench.yaml", argv=[], inputs_masked={}, secret_paths=[])
    t0 = time.perf_counter()
    store.run_started(run)
    rec = StoreRecorder(store, run)
    for e in stream:
        rec.emit(e)
    elapsed = time.perf_counter() - t0
    assert store.get_run(run).status == "completed"
    assert len(store.steps(run)) == n
    store.close()
    return elapsed


def time_jsonl(n: int, tmp: Path) -> float:
    from workflow_runner.ui.console import RunRecorder

    stream = events(n, str(tmp))
    d = tmp / f"jsonl-{n}-{time.monotonic_ns()}"
    d.mkdir()
    t0 = time.perf_counter()
    rec = RunRecorder(d)
    for e in stream:
        rec.emit(e)
    return time.perf_counter() - t0


def spread(n: int, seconds: float, tmp: Path, record: bool) -> float:
    """CPU seconds of a run whose events arrive over ``seconds`` on an asyncio loop (timer flushes included)."""
    import asyncio

    stream = events(n, str(tmp))
    per_job = seconds / n

    async def go() -> float:
        c0 = time.process_time()
        store = None
        if record:
            store = RunStore(tmp / f"spread-{n}-{time.monotonic_ns()}.db")
            run = store.new_run(workflow="bench", file="bench.yaml", argv=[], inputs_masked={}, secret_paths=[])
            store.set_run_dir(run, str(tmp))
            store.run_started(run)
            emit = StoreRecorder(store, run).emit
        else:
            emit = lambda e: None  # noqa: E731
        emit(stream[0])
        for i in range(n):
            for e in stream[1 + 5 * i : 6 + 5 * i]:
                emit(e)
            await asyncio.sleep(per_job)
        emit(stream[-1])
        if store is not None:
            store.close()
        return time.process_time() - c0

    return asyncio.run(go())


def setup_wall(tmp: Path, fresh: bool) -> float:
    """Wall seconds to open runs.db (creating it when ``fresh``), create and start a run, and close."""
    db = tmp / (f"setup-{time.monotonic_ns()}.db" if fresh else "setup-shared.db")
    t0 = time.perf_counter()
    store = RunStore(db)
    run = store.new_run(workflow="bench", file="bench.yaml", argv=["wfrun", "bench.yaml"], inputs_masked={}, secret_paths=[])
    store.set_run_dir(run, str(tmp))
    store.run_started(run)
    store.run_finished(run, "completed", 0)
    store.close()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wfrun-bench-store-"))
    print(f"# median of {args.repeat}; sqlite {__import__('sqlite3').sqlite_version}, python {sys.version.split()[0]}")
    print(f"{'jobs':>7} {'store s':>9} {'µs/job':>8} {'jsonl s':>9} {'µs/job':>8}")
    for n in (200, 1000, 10000):
        s = statistics.median(time_store(n, tmp) for _ in range(args.repeat))
        j = statistics.median(time_jsonl(n, tmp) for _ in range(args.repeat))
        print(f"{n:>7} {s:>9.4f} {s / n * 1e6:>8.1f} {j:>9.4f} {j / n * 1e6:>8.1f}")
    fresh = statistics.median(setup_wall(tmp, True) for _ in range(args.repeat))
    again = statistics.median(setup_wall(tmp, False) for _ in range(args.repeat))
    print(f"open + new_run + started + finished + close (wall): {fresh * 1000:.1f} ms on a new runs.db, {again * 1000:.1f} ms on an existing one")
    print("# 200 jobs spread over 0.75 s on an asyncio loop (like `wfrun` of 200 `echo hi` jobs):")
    base = statistics.median(spread(200, 0.75, tmp, False) for _ in range(args.repeat))
    with_store = statistics.median(spread(200, 0.75, tmp, True) for _ in range(args.repeat))
    print(f"CPU without store {base:.4f} s, with store {with_store:.4f} s: store adds {with_store - base:.4f} s"
          f" ({(with_store - base) / 0.75 * 100:.1f}% of a 0.75 s run), open/new_run/close included")


if __name__ == "__main__":
    main()
