"""Per-step cost of the SSH target against the test sshd (tests/infra/sshd.sh start).

Medians over --reps repetitions of:
  (a) asyncssh floor: one connection, N sequential ``conn.run('true')``;
  (b) wfrun: N sequential one-line steps through ``SSHTarget.run`` (one pooled connection,
      a step's usual env, cwd and $OUTPUTS);
  (c) a new ``ssh`` process per step (M steps, per-step cost);
  (d) N steps with P in parallel through ``SSHTarget.run``: failures and wall time.
Prints per-step ms, wfrun's overhead (b)-(a) and the ratio (c)/(b).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import asyncssh

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workflow_runner.targets.base import StepCommand  # noqa: E402
from workflow_runner.targets.ssh import SSHPool  # noqa: E402

STATE = Path("/var/lib/wfrun-test/ssh")


def read_env() -> dict[str, str]:
    return dict(line.split("=", 1) for line in (STATE / "env").read_text().splitlines() if "=" in line)


def command(i: int) -> StepCommand:
    run_dir = "/tmp/wfrun-bench-ssh"
    outputs = f"{run_dir}/step{i % 10}.outputs"
    env = {"OUTPUTS": outputs, "PW_JOB_ID": "bench", "PW_STEP": f"s{i}", "PW_USER": "wfrun", "GREETING": "hi"}
    return StepCommand(script="true", env=env, cwd=run_dir, outputs_file=outputs)


async def asyncssh_floor(env: dict[str, str], n: int) -> float:
    async with asyncssh.connect(
        env["WFRUN_TEST_SSH_HOST"], int(env["WFRUN_TEST_SSH_PORT"]), username=env["WFRUN_TEST_SSH_USER"],
        client_keys=[env["WFRUN_TEST_SSH_KEY"]], known_hosts=env["WFRUN_TEST_SSH_KNOWN_HOSTS"], config=None,
    ) as conn:
        await conn.run("true")  # warm up
        start = time.perf_counter()
        for _ in range(n):
            await conn.run("true", stdin=asyncssh.DEVNULL)
        return (time.perf_counter() - start) / n


def pool(env: dict[str, str]) -> SSHPool:
    return SSHPool(known_hosts=env["WFRUN_TEST_SSH_KNOWN_HOSTS"], client_keys=[env["WFRUN_TEST_SSH_KEY"]],
                   config_paths=[])


def spec(env: dict[str, str]) -> str:
    return f"{env['WFRUN_TEST_SSH_USER']}@{env['WFRUN_TEST_SSH_HOST']}:{env['WFRUN_TEST_SSH_PORT']}"


async def wfrun_sequential(env: dict[str, str], n: int) -> float:
    p = pool(env)
    try:
        target = p.target(spec(env))
        await target.run(command(0), lambda _: None)  # connect, probe, create the run dir
        start = time.perf_counter()
        for i in range(n):
            result = await target.run(command(i), lambda _: None)
            assert result.exit_code == 0, result
        return (time.perf_counter() - start) / n
    finally:
        await p.aclose()


async def wfrun_parallel(env: dict[str, str], n: int, width: int) -> tuple[float, int, dict]:
    p = pool(env)
    try:
        target = p.target(spec(env))
        sem = asyncio.Semaphore(width)

        async def one(i: int) -> bool:
            async with sem:
                try:
                    return (await target.run(command(i), lambda _: None)).exit_code == 0
                except Exception:  # noqa: BLE001 - counted as a failure
                    return False

        start = time.perf_counter()
        ok = await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - start, ok.count(False), dict(target.stats.extra, retries=target.stats.retries)
    finally:
        await p.aclose()


def ssh_process(env: dict[str, str], m: int) -> float:
    argv = ["ssh", "-F", "/dev/null", "-i", env["WFRUN_TEST_SSH_KEY"], "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={env['WFRUN_TEST_SSH_KNOWN_HOSTS']}", "-o", "BatchMode=yes",
            "-p", env["WFRUN_TEST_SSH_PORT"], f"{env['WFRUN_TEST_SSH_USER']}@{env['WFRUN_TEST_SSH_HOST']}", "true"]
    start = time.perf_counter()
    for _ in range(m):
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
    return (time.perf_counter() - start) / m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=500, help="sequential steps per repetition (default 500)")
    parser.add_argument("-m", type=int, default=20, help="steps with a new ssh process each (default 20)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions; medians are reported (default 5)")
    parser.add_argument("--parallel", type=int, default=200, help="steps of the parallel run (default 200)")
    parser.add_argument("--width", type=int, default=8, help="steps in flight in the parallel run (default 8)")
    args = parser.parse_args()
    env = read_env()

    floor, wfrun, proc, walls = [], [], [], []
    for rep in range(args.reps):
        floor.append(asyncio.run(asyncssh_floor(env, args.n)))
        wfrun.append(asyncio.run(wfrun_sequential(env, args.n)))
        proc.append(ssh_process(env, args.m))
        wall, failures, extra = asyncio.run(wfrun_parallel(env, args.parallel, args.width))
        walls.append((wall, failures, extra))
        print(f"rep {rep + 1}: floor {floor[-1] * 1e3:.2f} ms, wfrun {wfrun[-1] * 1e3:.2f} ms, "
              f"ssh process {proc[-1] * 1e3:.1f} ms, parallel {wall:.2f} s ({failures} failures)", file=sys.stderr)

    a, b, c = (statistics.median(x) * 1e3 for x in (floor, wfrun, proc))
    wall = statistics.median(w for w, _, _ in walls)
    failures = sum(f for _, f, _ in walls)
    print(f"(a) asyncssh floor, {args.n} sequential conn.run('true'):  {a:6.2f} ms/step")
    print(f"(b) wfrun SSHTarget.run, {args.n} sequential steps:         {b:6.2f} ms/step")
    print(f"(c) new ssh process per step ({args.m} steps):              {c:6.1f} ms/step")
    print(f"wfrun overhead (b)-(a):                                  {b - a:6.2f} ms/step  (target <= 5)")
    print(f"ratio (c)/(b):                                           {c / b:6.1f}x      (target >= 20)")
    print(f"(d) {args.parallel} steps, {args.width} in parallel: median wall {wall:.2f} s "
          f"({wall / args.parallel * 1e3:.2f} ms/step), failures {failures} over {args.reps} reps, "
          f"last run stats {walls[-1][2]}")


if __name__ == "__main__":
    main()
