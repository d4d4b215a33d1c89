"""``wfrun serve`` under load: listing 10,000 runs, and 50 clients following one busy run.

1. A run store with 10,000 runs: ``GET /api/runs`` (a page of 50, a status filter,
   a workflow filter, a deep page) against a real ``wfrun serve`` — p50/p95 over
   200 requests each — next to the CLI on the same store (``wfrun runs --json
   -n 50``, a whole process, and the same listing in-process).
2. One run whose step writes 1,000 lines/s for ``--seconds`` seconds, followed by
   50 concurrent SSE clients: every client must receive every line, in order;
   the server's CPU time over the run (from /proc) divided by the wall time is
   its share of one core.

    python bench/bench_serve.py [--runs 10000] [--clients 50] [--seconds 10]

Targets (issue 15): list p95 < 100 ms; the server below 50 % of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent

TALKER = """\
name: talker
'on':
  execute:
    inputs:
      seconds: {type: number, default: 10}
jobs:
  talk:
    steps:
      - name: lines
        run: |
          python3 - <<'PY'
          import sys, time
          n = int(${{ inputs.seconds }} * 1000)
          start = time.monotonic()
          for i in range(n):
              print(f"line {i}")
              if i % 50 == 49:
                  sys.stdout.flush()
                  delay = start + (i + 1) / 1000 - time.monotonic()
                  if delay > 0:
                      time.sleep(delay)
          PY
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill_store(home: Path, n: int, workflow_file: Path) -> None:
    """``n`` finished runs (a tenth failed, two workflows) written through the store's own schema."""
    from workflow_runner.state.store import RunStore

    store = RunStore(home / "runs.db")
    run = store.new_run(workflow="talker", file=str(workflow_file), argv=["run", str(workflow_file)], inputs_masked={},
                        secret_paths=[])
    store.run_finished(run, "completed", 0)
    now = time.time()
    rows = [("talker" if i % 2 else "other", str(workflow_file), "failed" if i % 10 == 0 else "completed",
             1 if i % 10 == 0 else 0, json.dumps(["run", str(workflow_file)]), json.dumps({"seconds": i}), now - i,
             now - i, now - i + 1) for i in range(n - 1)]
    with store.conn:
        store.conn.executemany("INSERT INTO runs (workflow, file, status, exit_code, argv, inputs, created, started,"
                               " finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    store.close()


def start_server(root: Path, port: int, env: dict) -> subprocess.Popen:
    log = open(root.parent / "serve.log", "w")  # its request log: a pipe nobody reads would fill and block it
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", "serve", str(root), "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"wfrun serve did not start: {(root.parent / 'serve.log').read_text()}")


def percentiles(samples: list[float]) -> str:
    samples = sorted(samples)
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] * 1000  # noqa: E731
    return f"p50 {p(0.50):6.1f} ms  p95 {p(0.95):6.1f} ms  max {samples[-1] * 1000:6.1f} ms"


def bench_list(base: str, auth: dict, env: dict, home: Path, repeat: int) -> dict[str, float]:
    results = {}
    with httpx.Client(base_url=base, headers=auth) as client:
        for name, params in (("page of 50", {}), ("status=failed", {"status": "failed"}),
                             ("workflow=talker", {"workflow": "talker"}), ("deep page", {"before": 500})):
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                r = client.get("/api/runs", params=params)
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200 and len(r.json()["runs"]) == 50, r.text[:200]
            print(f"  GET /api/runs {name:16s} {percentiles(times)}")
            results[name] = sorted(times)[int(0.95 * len(times))]
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "workflow_runner", "runs", "--json", "-n", "50"], env=env, check=True,
                       capture_output=True)
        times.append(time.perf_counter() - t0)
    print(f"  CLI wfrun runs --json -n 50     {percentiles(times)}  (a whole process)")
    from workflow_runner.commands.runs import show_runs
    from workflow_runner.state.store import RunStore
    import io

    store = RunStore(home / "runs.db")
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        show_runs(store, limit=50, as_json=True, out=io.StringIO())
        times.append(time.perf_counter() - t0)
    store.close()
    print(f"  CLI show_runs in-process        {percentiles(times)}")
    return results


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def follow(base: str, auth: dict, run: int, expected: int) -> tuple[list[int], float]:
    """The numbers of the 'line N' outputs this client saw, in arrival order; and the time to the end event."""
    seen: list[int] = []
    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, headers=auth, timeout=None) as client:
        async with client.stream("GET", f"/api/runs/{run}/events") as stream:
            event = None
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    if event == "end":
                        break
                    if '"StepOutput"' in line:
                        seen.append(int(json.loads(line[6:])["line"].split()[1]))
    return seen, time.perf_counter() - t0


async def bench_follow(base: str, auth: dict, server_pid: int, clients: int, seconds: float) -> tuple[bool, float]:
    async with httpx.AsyncClient(base_url=base, headers=auth, timeout=120) as c:
        r = await c.post("/api/runs", json={"workflow": "talker.yaml", "inputs": {"seconds": seconds}})
        assert r.status_code == 201, r.text
        run = r.json()["run"]
    cpu0, wall0 = cpu_seconds(server_pid), time.perf_counter()
    results = await asyncio.gather(*(follow(base, auth, run, int(seconds * 1000)) for _ in range(clients)))
    cpu, wall = cpu_seconds(server_pid) - cpu0, time.perf_counter() - wall0
    expected = list(range(int(seconds * 1000)))
    complete = all(seen == expected for seen, _ in results)
    short = [len(seen) for seen, _ in results if seen != expected]
    print(f"  {clients} clients x {len(expected)} lines over {wall:.1f}s: every client got every line in order: "
          f"{complete}" + (f" (short: {short[:5]})" if short else ""))
    print(f"  server CPU {cpu:.2f}s over {wall:.1f}s = {100 * cpu / wall:.1f}% of one core")
    return complete, cpu / wall


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        tmpdir = Path(tmp)
        root, home = tmpdir / "flows", tmpdir / "home"
        root.mkdir()
        (root / "talker.yaml").write_text(TALKER)
        env = {**os.environ, "WFRUN_HOME": str(home), "WFRUN_CONFIG": str(tmpdir / "none"),
               "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        os.environ["WFRUN_HOME"] = str(home)
        fill_store(home, args.runs, root / "talker.yaml")
        from workflow_runner.serve.settings import load_or_create_token

        auth = {"Authorization": f"Bearer {load_or_create_token(home)}"}
        port = free_port()
        server = start_server(root, port, env)
        base = f"http://127.0.0.1:{port}"
        try:
            print(f"listing with {args.runs} runs in the store ({args.repeat} requests each):")
            p95 = bench_list(base, auth, env, home, args.repeat)
            print(f"following one run writing 1,000 lines/s:")
            complete, share = asyncio.run(bench_follow(base, auth, server.pid, args.clients, args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=30)
    ok = max(p95.values()) < 0.100 and complete and share < 0.5
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
