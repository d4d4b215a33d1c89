"""Scale: generated workflows of trivial local steps, 1,000 → 10,000 jobs.

Reports whole-process wall time, per-job overhead (wall minus the same number
of bare `bash -c 'echo hi'` spawns with the same parallelism, divided by jobs)
and peak RSS, so the curve shows whether per-job cost stays flat. The run store
is on (it always is); bench/bench_store.py measures its cost alone.

    python bench/bench_scale.py [--sizes 1000 2000 5000 10000] [-j 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen  # noqa: E402


def child_run(argv: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one child process, measured with wait4."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000, 10000])
    p.add_argument("-j", type=int, default=2)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wfrun-scale-"))
    env = {**os.environ, "WFRUN_HOME": str(tmp / "home"), "WFRUN_CONFIG": str(tmp / "none")}
    print(f"{'jobs':>6} {'wfrun s':>8} {'bare s':>7} {'overhead/job ms':>16} {'peak RSS MB':>12}")
    for n in args.sizes:
        wf = tmp / f"w{n}.yaml"
        wf.write_text(gen.independent(n))
        wall, rss = child_run([sys.executable, "-m", "workflow_runner", "run", str(wf), "-j", str(args.j), "--quiet"], env)
        bare, _ = child_run([sys.executable, str(HERE / "baseline_asyncio.py"), "independent", str(n), str(args.j)])
        print(f"{n:>6} {wall:>8.2f} {bare:>7.2f} {(wall - bare) / n * 1000:>16.3f} {rss:>12.0f}")


if __name__ == "__main__":
    main()
