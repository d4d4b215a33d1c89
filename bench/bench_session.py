"""A session's tunnel (``parallelworks/update-session`` over SSH) against ``ssh -L`` on the same loopback sshd
(tests/infra/sshd.sh start), in the same run.

A ``python3 -m http.server`` on 127.0.0.1 serves a 200 MB file and a small one. Two forwards reach it through
the test sshd: wfrun's (``sessions/ssh.py``'s SSHTunnel over a pooled connection of ``SSHPool``, as a run uses
it, in a thread with its own event loop), OpenSSH's ``ssh -N -L``, and for reference asyncssh's own
``forward_local_port`` on the same connection (the floor of any asyncssh-based forward). The same client (``curl`` for the
download, one Python process for the small requests, a new TCP connection per request as a browser's first
request) goes through each, in turn (each rep starts with the next one), ``--reps`` times. Medians:

  throughput: MB/s for the 200 MB download (target: wfrun >= 50 % of ssh -L);
  latency:    ms per small request (target: wfrun <= ssh -L + 1 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workflow_runner.sessions.ssh import SSHTunnel  # noqa: E402
from workflow_runner.targets.ssh import SSHPool  # noqa: E402

STATE = Path("/var/lib/wfrun-test/ssh")
SMALL_CLIENT = r"""
import http.client, statistics, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
times = []
for _ in range(n):
    t = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/small.txt")
    body = c.getresponse().read()
    c.close()
    times.append(time.perf_counter() - t)
    assert body == b"ok\n", body
print(statistics.median(times) * 1000)
"""


def read_env() -> dict[str, str]:
    return dict(line.split("=", 1) for line in (STATE / "env").read_text().splitlines() if "=" in line)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class WfrunTunnel:
    """The SSHTunnel of a session, on a thread running its own event loop (the run's wfrun process, in effect)."""

    def __init__(self, env: dict[str, str], service_port: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        spec = f"{env['WFRUN_TEST_SSH_USER']}@{env['WFRUN_TEST_SSH_HOST']}:{env['WFRUN_TEST_SSH_PORT']}"

        async def start() -> tuple[int, int]:
            self.pool = SSHPool(known_hosts=env["WFRUN_TEST_SSH_KNOWN_HOSTS"], client_keys=[env["WFRUN_TEST_SSH_KEY"]],
                                config_paths=[])
            target = self.pool.target(spec)
            self.tunnel = SSHTunnel(target.tunnel_connection, "127.0.0.1", service_port)
            port = await self.tunnel.start()
            # asyncssh's own forward on the same connection: the floor wfrun's listener is measured against
            self.raw = await (await target.tunnel_connection()).forward_local_port("127.0.0.1", 0, "127.0.0.1",
                                                                                   service_port)
            return port, self.raw.get_port()

        self.port, self.raw_port = asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)

    def close(self) -> None:
        async def stop() -> None:
            self.raw.close()
            await self.tunnel.close()
            await self.pool.aclose()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def ssh_forward(env: dict[str, str], service_port: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([
        "ssh", "-N", "-F", "/dev/null", "-L", f"127.0.0.1:{port}:127.0.0.1:{service_port}",
        "-i", env["WFRUN_TEST_SSH_KEY"], "-o", f"UserKnownHostsFile={env['WFRUN_TEST_SSH_KNOWN_HOSTS']}",
        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes",
        "-p", env["WFRUN_TEST_SSH_PORT"], f"{env['WFRUN_TEST_SSH_USER']}@{env['WFRUN_TEST_SSH_HOST']}",
    ])
    wait_port(port)
    return proc, port


def download(port: int, size: int) -> float:
    """MB/s of one download of big.bin through ``port``."""
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download} %{time_total}",
                          f"http://127.0.0.1:{port}/big.bin"], capture_output=True, text=True, check=True).stdout
    got, seconds = out.split()
    assert int(got) == size, (got, size)
    return size / float(seconds) / 1e6


def small(port: int, count: int) -> float:
    out = subprocess.run([sys.executable, "-c", SMALL_CLIENT, str(port), str(count)], capture_output=True, text=True,
                         check=True).stdout
    return float(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=200, help="size of the download (default 200 MB)")
    parser.add_argument("--reps", type=int, default=5, help="downloads per forward (default 5)")
    parser.add_argument("--requests", type=int, default=300, help="small requests per forward and rep (default 300)")
    args = parser.parse_args()
    env = read_env()
    with tempfile.TemporaryDirectory() as www:
        size = args.mb * 1_000_000
        with open(os.path.join(www, "big.bin"), "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(size // len(block)):
                f.write(block)
            f.write(block[: size % len(block)])
        Path(www, "small.txt").write_text("ok\n")
        service_port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "http.server", str(service_port), "--bind", "127.0.0.1",
                                   "--directory", www], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ssh_proc = None
        wfrun_tunnel = None
        try:
            wait_port(service_port)
            wfrun_tunnel = WfrunTunnel(env, service_port)
            ssh_proc, ssh_port = ssh_forward(env, service_port)
            ports = {"wfrun": wfrun_tunnel.port, "asyncssh forward_local_port": wfrun_tunnel.raw_port, "ssh -L": ssh_port}
            rates: dict[str, list[float]] = {k: [] for k in ports}
            latency: dict[str, list[float]] = {k: [] for k in ports}
            for port in ports.values():  # warm each
                small(port, 20)
            order = list(ports.items())
            for rep in range(args.reps):
                for name, port in order[rep % len(order):] + order[:rep % len(order)]:  # no forward always first
                    rates[name].append(download(port, size))
                    latency[name].append(small(port, args.requests))
        finally:
            if wfrun_tunnel is not None:
                wfrun_tunnel.close()
            if ssh_proc is not None:
                ssh_proc.terminate()
                ssh_proc.wait()
            server.terminate()
            server.wait()
    med = {k: statistics.median(v) for k, v in rates.items()}
    lat = {k: statistics.median(v) for k, v in latency.items()}
    print(f"download of {args.mb} MB, median of {args.reps} (MB/s): "
          + ", ".join(f"{k} {v:.1f} (all: {', '.join(f'{x:.0f}' for x in rates[k])})" for k, v in med.items()))
    ratio = med["wfrun"] / med["ssh -L"]
    print(f"  wfrun / ssh -L = {ratio:.0%}  (target >= 50 %) {'OK' if ratio >= 0.5 else 'MISSED'}")
    print(f"small request, median of {args.reps} medians of {args.requests} (ms): "
          + ", ".join(f"{k} {v:.3f}" for k, v in lat.items()))
    added = lat["wfrun"] - lat["ssh -L"]
    print(f"  added by wfrun: {added:+.3f} ms  (target <= 1 ms) {'OK' if added <= 1.0 else 'MISSED'};"
          f" over asyncssh's own forward: {lat['wfrun'] - lat['asyncssh forward_local_port']:+.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
