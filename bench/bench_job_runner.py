"""job_runner against the real test Slurm: how kind wfrun is to the scheduler.

1. N concurrent job_runner SLURM steps in one run (default 100): every
   scheduler command wfrun issues is logged by a PATH shim; we report status
   queries (squeue + sacct) per poll interval in total — the reference v4.0
   issues one squeue per job per interval, i.e. N — and how long after a job's
   real end (sacct End) wfrun noticed it, against poll_interval + 1 s.
2. Cancel of a run with M queued/running jobs (default 50): time from SIGINT
   until the queue is empty, and the number of scancel calls.

Needs the cluster from tests/infra/slurm.sh.   python bench/bench_job_runner.py [--jobs 100] [--cancel 50]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

COMMANDS = ["sbatch", "squeue", "sacct", "scancel", "qsub", "qstat", "qdel"]


def make_shims(folder: Path, log: Path) -> None:
    folder.mkdir()
    for name in COMMANDS:
        real = shutil.which(name)
        if not real:
            continue
        shim = folder / name
        shim.write_text(f'#!/bin/sh\necho "$(date +%s.%N) {name} $*" >> {log}\nexec {real} "$@"\n')
        shim.chmod(0o755)


def workflow(n: int, script: str, poll: float) -> str:
    lines = ["jobs:"]
    for i in range(n):
        lines += [
            f"  j{i}:", "    steps:", "      - uses: marketplace/job_runner/v4.0", "        with:",
            "          resource: {ip: '', schedulerType: slurm}", f"          rundir: ${{PWD}}/j{i}",
            "          scheduler: true", f"          poll_interval: {poll}",
            "          slurm: {partition: debug, time: '00:10:00', cpus_per_task: 1, mem: 100M}",
            f"          script: {json.dumps(script)}",
        ]
    return "\n".join(lines) + "\n"


def sacct_ends(ids: list[str]) -> dict[str, float]:
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-j", ",".join(ids), "-o", "JobID,End"], capture_output=True, text=True).stdout
    ends = {}
    for line in out.splitlines():
        jobid, _, end = line.partition("|")
        try:
            ends[jobid] = datetime.fromisoformat(end).timestamp()
        except ValueError:
            pass
    return ends


def run_many(tmp: Path, n: int, poll: float) -> None:
    log = tmp / "calls.log"
    make_shims(tmp / "shims", log)
    wf = tmp / "many.yaml"
    wf.write_text(workflow(n, "sleep 0.5", poll))
    env = {**os.environ, "PATH": f"{tmp / 'shims'}:{os.environ['PATH']}", "WFRUN_HOME": str(tmp / "home"),
           "WFRUN_CONFIG": str(tmp / "none")}
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "workflow_runner", str(wf), "--quiet", "-j", "8"], env=env,
                          capture_output=True, text=True)
    wall = time.time() - t0
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:])
        raise SystemExit("the run failed")
    calls = [line.split() for line in log.read_text().splitlines()]
    counts = {name: sum(1 for c in calls if c[1] == name) for name in COMMANDS}
    status = sorted(float(c[0]) for c in calls if c[1] in ("squeue", "sacct"))
    first_submit = min(float(c[0]) for c in calls if c[1] == "sbatch")
    intervals = max(1.0, (status[-1] - first_submit) / poll)
    per_interval = counts["squeue"] / intervals + counts["sacct"] / intervals
    # completion latency: wfrun's StepFinished time minus the job's End in sacct
    events = [json.loads(line) for line in next((tmp / "home").glob("jobs/*/*/events.jsonl")).read_text().splitlines()]
    finished = {e["job"]: e["time"] for e in events if e["event"] == "StepFinished"}
    jobid_by_job = {e["job"]: e["line"].split()[-1] for e in events
                    if e["event"] == "StepOutput" and "SLURM job submitted:" in e["line"]}
    ends = sacct_ends(list(jobid_by_job.values()))
    latency = [finished[j] - ends[i] for j, i in jobid_by_job.items() if i in ends and j in finished]
    print(f"{n} concurrent job_runner SLURM steps, poll_interval {poll:g}s: wall {wall:.1f}s")
    print("  scheduler commands: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    print(f"  status queries per poll interval (squeue+sacct, all jobs together): {per_interval:.2f}  "
          f"(reference v4.0: {n} squeue per interval; target <= 2)")
    if latency:
        print(f"  end noticed after the job's sacct End: median {statistics.median(latency):.2f}s, "
              f"max {max(latency):.2f}s (target <= poll_interval + 1 = {poll + 1:g}s; sacct End has 1 s resolution)")


def run_cancel(tmp: Path, m: int) -> None:
    log = tmp / "cancel-calls.log"
    make_shims(tmp / "shims2", log)
    wf = tmp / "cancel.yaml"
    wf.write_text(workflow(m, "sleep 600", 2))
    env = {**os.environ, "PATH": f"{tmp / 'shims2'}:{os.environ['PATH']}", "WFRUN_HOME": str(tmp / "home2"),
           "WFRUN_CONFIG": str(tmp / "none")}
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), "--quiet", "-j", "8", "--grace", "2"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if log.exists() and sum(1 for line in log.read_text().splitlines() if " sbatch " in line) >= m:
            break
        time.sleep(0.2)
    time.sleep(1.0)
    queued = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout.split()
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    empty_at = None
    while time.time() - t0 < 60:
        if not subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout.split():
            empty_at = time.time() - t0
            break
        time.sleep(0.1)
    proc.communicate(timeout=120)
    scancels = [line for line in log.read_text().splitlines() if " scancel " in line]
    ids_per_call = [len(line.split()) - 2 for line in scancels]
    print(f"cancel of a run with {len(queued)} queued/running SLURM jobs: queue empty after "
          f"{empty_at:.2f}s (target < 5 s), scancel calls: {len(scancels)} ({ids_per_call} ids), wfrun exit {proc.returncode}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=100)
    p.add_argument("--poll", type=float, default=2.0)
    p.add_argument("--cancel", type=int, default=50)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wfrun-bench-jr-"))
    try:
        run_many(tmp, args.jobs, args.poll)
        run_cancel(tmp, args.cancel)
    finally:
        subprocess.run(["scancel", "-u", os.environ.get("USER", "root")], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
