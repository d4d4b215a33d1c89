"""End to end, whole processes, local: wfrun against a bare asyncio script, plus start-up.

The DAG shapes are bench_core's (200 independent `echo hi` jobs at -j2, a 50-job chain)
and its floor is bench/baseline_asyncio.py (a bare asyncio loop in its own process doing
the same subprocess spawns); this script reuses both and reports the ratio against
issue 12's target (<= 1.5x). A second floor also creates the folders and log file wfrun
keeps for every step (baseline_asyncio.py DIR): on a disk where each costs 0.4-0.7 ms
that record is most of what a step adds. Start-up is measured two ways:

- time to the first job: from spawning ``wfrun run`` to the moment its only step runs
  (the step writes ``date +%s.%N``), against a bare ``python -c`` spawning the same step;
- ``python -X importtime``: the modules wfrun imports before its first job, heaviest
  first (cumulative microseconds), for ``wfrun run`` of a one-step workflow.

    python bench/bench_e2e_local.py [--repeat 7] [--top 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen  # noqa: E402
from bench_core import timed  # noqa: E402
from bench_e2e_ssh import bytecode_env  # noqa: E402

ONE_STEP = 'jobs:\n  first:\n    steps:\n      - run: date +%s.%N > "{stamp}"\n'
BARE_FIRST = ("import subprocess, sys; "
              "subprocess.run(['bash', '-c', 'date +%s.%N > \"$0\"', sys.argv[1]], check=True)")


def first_job_delay(argv: list[str], stamp: Path, env: dict[str, str] | None) -> float:
    """Seconds from spawning ``argv`` to its step's ``date`` (the same wall clock)."""
    stamp.unlink(missing_ok=True)
    t0 = time.time()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return float(stamp.read_text()) - t0


def import_profile(argv: list[str], env: dict[str, str], top: int) -> tuple[float, list[tuple[int, str]]]:
    """Total import time (s) and the ``top`` heaviest top-level-ish imports by cumulative time."""
    proc = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], env=env, capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cum, name = line[len("import time:"):].split("|")
        rows.append((int(cum), name[1:].rstrip()))  # keep the nesting indent: top level has none
    # Top-level entries (no indentation) sum to the whole import time.
    total = sum(cum for cum, name in rows if not name.startswith(" "))
    ours = sorted(((c, n.strip()) for c, n in rows if n.strip().split(".")[0] != "encodings"), reverse=True)
    seen, out = set(), []
    for cum, name in ours:
        if name not in seen:
            seen.add(name)
            out.append((cum, name))
    return total / 1e6, out[:top]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--top", type=int, default=15, help="imports listed in the start-up profile (default 15)")
    p.add_argument("--no-bytecode-cache", action="store_true",
                   help="keep PYTHONDONTWRITEBYTECODE as inherited (every process compiles wfrun's modules again)")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wfrun-bench-e2e-local-"))
    base = bytecode_env(tmp, args.no_bytecode_cache)
    env = {**base, "WFRUN_HOME": str(tmp / "home"), "WFRUN_CONFIG": str(tmp / "none.yaml")}
    py = sys.executable
    print(f"# whole process, median of {args.repeat}, 2 in parallel; load average {os.getloadavg()[0]:.2f}; "
          f"bytecode cache {'off' if args.no_bytecode_cache else 'on'}")
    for shape, n in (("independent", 200), ("chain", 50)):
        wf = tmp / f"{shape}.yaml"
        wf.write_text(getattr(gen, shape)(n))
        timed([py, "-m", "workflow_runner", "validate", str(wf)], env)  # warm caches
        times: dict[str, list[float]] = {"wfrun": [], "asyncio": [], "asyncio+files": []}
        for rep in range(args.repeat):
            times["asyncio"].append(timed([py, str(HERE / "baseline_asyncio.py"), shape, str(n), "2"], base))
            record = tmp / f"record-{shape}-{rep}"
            times["asyncio+files"].append(timed([py, str(HERE / "baseline_asyncio.py"), shape, str(n), "2",
                                                 str(record)], base))
            times["wfrun"].append(timed([py, "-m", "workflow_runner", "run", str(wf), "-j", "2", "--quiet"], env))
        w, a, f = (statistics.median(times[k]) for k in ("wfrun", "asyncio", "asyncio+files"))
        print(f"{shape:12} n={n:<4} wfrun {w:.3f}s  asyncio {a:.3f}s  ratio {w / a:.2f} (target <= 1.5)  "
              f"range wfrun {min(times['wfrun']):.3f}-{max(times['wfrun']):.3f}s")
        print(f"{'':12} {'':6} asyncio keeping wfrun's per-step files (2 folders + 1 log) {f:.3f}s: "
              f"ratio {w / f:.2f}")

    stamp = tmp / "stamp"
    one = tmp / "one.yaml"
    one.write_text(ONE_STEP.format(stamp=stamp))
    run_one = [py, "-m", "workflow_runner", "run", str(one), "--quiet"]
    first_job_delay(run_one, stamp, env)  # warm
    wf_first, bare_first = [], []
    for _ in range(args.repeat):
        bare_first.append(first_job_delay([py, "-c", BARE_FIRST, str(stamp)], stamp, base))
        wf_first.append(first_job_delay(run_one, stamp, env))
    wf_s, bare_s = statistics.median(wf_first), statistics.median(bare_first)
    print(f"start-up: first step runs {wf_s * 1e3:.0f} ms after spawning wfrun "
          f"(bare python: {bare_s * 1e3:.0f} ms; added {(wf_s - bare_s) * 1e3:.0f} ms)")
    validate = statistics.median(timed([py, "-m", "workflow_runner", "validate", str(one)], env)
                                 for _ in range(args.repeat))
    print(f"start-up: wfrun validate of a one-step workflow {validate * 1e3:.0f} ms whole process")
    total, top = import_profile(run_one, env, args.top)
    print(f"start-up: imports of 'wfrun run' {total * 1e3:.0f} ms (python -X importtime, one run); heaviest:")
    for cum, name in top:
        print(f"  {cum / 1e3:7.1f} ms  {name}")
    subprocess.run(["rm", "-rf", str(tmp)], check=False)


if __name__ == "__main__":
    main()
