"""End to end, whole processes: wfrun running N sequential `true` steps on one SSH host
against a bare asyncssh script (its own process) that connects and runs N commands.

Needs the test sshd (``bash tests/infra/sshd.sh start``). Both sides are timed from
process start to process exit, so start-up, connecting and closing count for both.
Each repetition runs both tools alternately (machine noise hits both alike); medians
are reported. Two workflow sizes (N and --small) give, besides the whole-process cost
per step, the marginal cost of one more step: (T(N) - T(small)) / (N - small).

    python bench/bench_e2e_ssh.py [-n 200] [--small 20] [--reps 5]

Issue 12's target: wfrun adds at most 4 ms per remote step over the bare script.
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

STATE = Path("/var/lib/wfrun-test/ssh")

BARE = '''
import asyncio, sys
import asyncssh

async def main(host, port, user, key, known_hosts, n):
    async with asyncssh.connect(host, int(port), username=user, client_keys=[key],
                                known_hosts=known_hosts, config=None) as conn:
        for _ in range(int(n)):
            r = await conn.run("true", stdin=asyncssh.DEVNULL)
            assert r.exit_status == 0, r

asyncio.run(main(*sys.argv[1:]))
'''


def bytecode_env(tmp: Path, inherit: bool) -> dict[str, str]:
    """The children's environment. By default bytecode is cached (under ``tmp``, not in the tree) as an
    installed wfrun has it, even when the caller sets PYTHONDONTWRITEBYTECODE (then every process would
    compile wfrun's ~60 modules again, about 0.25 s here, which no installed copy pays)."""
    env = dict(os.environ)
    if not inherit:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return env


def read_env() -> dict[str, str]:
    return dict(line.split("=", 1) for line in (STATE / "env").read_text().splitlines() if "=" in line)


def workflow(spec: str, n: int) -> str:
    """One job on the SSH host with ``n`` sequential one-word steps."""
    out = ["jobs:", "  remote:", f'    ssh: {{remoteHost: "{spec}"}}', "    steps:"]
    out += ["      - run: 'true'"] * n
    return "\n".join(out) + "\n"


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]}… exited {proc.returncode}: {proc.stderr[-2000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200, help="sequential steps (default 200)")
    parser.add_argument("--small", type=int, default=20, help="steps of the small run for the marginal cost (default 20)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions; medians are reported (default 5)")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE as inherited (every process compiles wfrun's modules again)")
    args = parser.parse_args()
    e = read_env()
    spec = f"{e['WFRUN_TEST_SSH_USER']}@{e['WFRUN_TEST_SSH_HOST']}:{e['WFRUN_TEST_SSH_PORT']}"
    tmp = Path(tempfile.mkdtemp(prefix="wfrun-bench-e2e-ssh-"))
    base = bytecode_env(tmp, args.no_bytecode_cache)
    env = {**base, "WFRUN_HOME": str(tmp / "home"), "WFRUN_CONFIG": str(tmp / "none.yaml")}
    py = sys.executable
    bare_py = tmp / "bare_asyncssh.py"
    bare_py.write_text(BARE)
    sizes = sorted({args.n, args.small})
    files = {}
    for n in sizes:
        files[n] = tmp / f"ssh{n}.yaml"
        files[n].write_text(workflow(spec, n))

    def wfrun(n: int) -> list[str]:
        return [py, "-m", "workflow_runner", "run", str(files[n]), "--quiet", "--identity", e["WFRUN_TEST_SSH_KEY"],
                "--known-hosts", e["WFRUN_TEST_SSH_KNOWN_HOSTS"]]

    def bare(n: int) -> list[str]:
        return [py, str(bare_py), e["WFRUN_TEST_SSH_HOST"], e["WFRUN_TEST_SSH_PORT"], e["WFRUN_TEST_SSH_USER"],
                e["WFRUN_TEST_SSH_KEY"], e["WFRUN_TEST_SSH_KNOWN_HOSTS"], str(n)]

    timed(wfrun(sizes[0]), env)  # warm caches (schema check, bytecode)
    timed(bare(sizes[0]), base)
    times: dict[tuple[str, int], list[float]] = {}
    for rep in range(args.reps):
        for n in sizes:
            times.setdefault(("bare", n), []).append(timed(bare(n), base))
            times.setdefault(("wfrun", n), []).append(timed(wfrun(n), env))
        print(f"rep {rep + 1}: " + ", ".join(f"{tool} n={n} {v[-1]:.2f}s" for (tool, n), v in times.items()),
              file=sys.stderr)
    med = {k: statistics.median(v) for k, v in times.items()}
    n, s = args.n, args.small
    print(f"# whole process, median of {args.reps}; load average {os.getloadavg()[0]:.2f}; "
          f"bytecode cache {'off' if args.no_bytecode_cache else 'on'}")
    w, b = med[("wfrun", n)], med[("bare", n)]
    print(f"wfrun  {n} sequential remote steps: {w:6.2f} s  = {w / n * 1e3:6.2f} ms/step")
    print(f"bare asyncssh {n} commands:          {b:6.2f} s  = {b / n * 1e3:6.2f} ms/step")
    print(f"added by wfrun (whole process):      {(w - b) / n * 1e3:6.2f} ms/step  (target <= 4)")
    if s != n:
        wm = (w - med[("wfrun", s)]) / (n - s) * 1e3
        bm = (b - med[("bare", s)]) / (n - s) * 1e3
        print(f"marginal step ({s}->{n}): wfrun {wm:.2f} ms, bare {bm:.2f} ms, added {wm - bm:.2f} ms/step")
        print(f"fixed cost (start-up, connect, exit): wfrun {(w - wm * n / 1e3):.2f} s, bare {(b - bm * n / 1e3):.2f} s")
    subprocess.run(["rm", "-rf", str(tmp)], check=False)


if __name__ == "__main__":
    main()
