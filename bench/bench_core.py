"""Core engine benchmark: wfrun vs a bare asyncio loop (and GNU make) in the same run.

Shapes (issue 2): 200 independent jobs of one `run: echo hi` step, and a chain
of 50, with 2 in parallel. Whole-process wall time, median of --repeat runs,
each tool alternating so machine noise hits all of them alike. Also times
`wfrun validate` of a 10,000-job generated workflow and its peak RSS.

    python bench/bench_core.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen  # noqa: E402


def timed(argv: list[str], env: dict | None = None, cwd: str | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    return time.perf_counter() - t0


def makefile(shape: str, n: int) -> str:
    lines = ["all: " + " ".join(f"j{i}" for i in range(n))]
    for i in range(n):
        dep = f"j{i - 1}" if shape == "chain" and i else ""
        lines += [f"j{i}: {dep}", "\t@echo hi"]
    return "\n".join(lines) + "\n.PHONY: all " + " ".join(f"j{i}" for i in range(n)) + "\n"


def peak_rss_of(argv: list[str], env: dict) -> tuple[float, float]:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - t0
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wfrun-bench-"))
    env = {**os.environ, "WFRUN_HOME": str(tmp / "home"), "WFRUN_CONFIG": str(tmp / "none.yaml")}
    py = sys.executable
    print(f"# median of {args.repeat} runs, whole-process wall time, 2 in parallel")
    for shape, n in (("independent", 200), ("chain", 50)):
        wf = tmp / f"{shape}.yaml"
        wf.write_text(getattr(gen, shape)(n))
        (tmp / f"{shape}.mk").write_text(makefile(shape, n))
        times: dict[str, list[float]] = {"wfrun": [], "asyncio": [], "make -j2": []}
        timed([py, "-m", "workflow_runner", "validate", str(wf)], env)  # warm caches
        for _ in range(args.repeat):
            times["asyncio"].append(timed([py, str(HERE / "baseline_asyncio.py"), shape, str(n), "2"]))
            times["wfrun"].append(timed([py, "-m", "workflow_runner", "run", str(wf), "-j", "2", "--quiet"], env))
            if shutil.which("make"):
                times["make -j2"].append(timed(["make", "-s", "-j2", "-f", str(tmp / f"{shape}.mk")]))
        med = {k: statistics.median(v) for k, v in times.items() if v}
        ratio = med["wfrun"] / med["asyncio"]
        print(f"{shape:12} n={n:<4} wfrun {med['wfrun']:.3f}s  asyncio {med['asyncio']:.3f}s  "
              f"make {med.get('make -j2', float('nan')):.3f}s  ratio wfrun/asyncio {ratio:.2f} (target <= 2.5)")
    big = tmp / "layered10k.yaml"
    big.write_text(gen.layered(10000))
    walls, warm = [], []
    rss = 0.0
    for i in range(max(3, args.repeat // 2)):
        cold_env = {**env, "WFRUN_HOME": str(tmp / f"cold{i}")}  # no remembered schema check: the full work
        wall, rss = peak_rss_of([py, "-m", "workflow_runner", "validate", str(big)], cold_env)
        walls.append(wall)
        warm.append(peak_rss_of([py, "-m", "workflow_runner", "validate", str(big)], cold_env)[0])
    print(f"validate 10,000 jobs: median {statistics.median(walls):.2f}s first time, {statistics.median(warm):.2f}s "
          f"unchanged file (target < 2 s), peak RSS {rss:.0f} MB (target < 300 MB)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
