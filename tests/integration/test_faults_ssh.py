"""SSH faults against the real test sshd: refused and dropped connections under retry:, and unreadable SSH files."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from helpers import run_cli as wfrun
from helpers import wfrun_env

from ssh_env import ssh_env  # noqa: F401  (fixture)


@pytest.fixture
def env(tmp_path):
    return wfrun_env(tmp_path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Relay:
    """A TCP relay from ``port`` to the real sshd that can refuse, accept, or drop its first connections."""

    def __init__(self, port: int, target: tuple[str, int], *, drop_first: int = 0) -> None:
        self.port, self.target, self.drop_first = port, target, drop_first
        self.accepted = 0
        self.server: socket.socket | None = None
        self.closed = False

    def listen(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self.server = server
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted <= self.drop_first:
                client.close()  # accepted, then dropped before the SSH handshake: a dropped connection
                continue
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.closed = True
        if self.server is not None:
            self.server.close()


def known_hosts_for(ssh_env, port: int, path: Path) -> Path:  # noqa: F811
    """The test known_hosts with its entries moved to ``port`` (the relay's)."""
    lines = Path(ssh_env.known_hosts).read_text().splitlines()
    path.write_text("".join(line.replace(f"]:{ssh_env.port} ", f"]:{port} ") + "\n" for line in lines))
    return path


def retry_workflow(path: Path, ssh_env, port: int, retries: int = 2, interval: int = 2) -> Path:  # noqa: F811
    path.write_text(f"""
jobs:
  r:
    ssh: {{remoteHost: "{ssh_env.user}@{ssh_env.host}:{port}"}}
    steps:
      - name: remote
        run: echo "on $(hostname) as $(whoami)"
        retry: {{max-retries: {retries}, interval: {interval}s}}
""")
    return path


def test_retry_covers_a_refused_connection(ssh_env, tmp_path, env):  # noqa: F811
    port = free_port()
    relay = Relay(port, (ssh_env.host, ssh_env.port))
    # Nothing listens for the first attempt (≈ 1 s after the start): connection refused; the
    # second comes after the 6 s interval, when the relay has long been listening.
    timer = threading.Timer(3.0, relay.listen)
    timer.start()
    try:
        wf = retry_workflow(tmp_path / "w.yaml", ssh_env, port, interval=6)
        proc = wfrun(env, "run", wf, "--no-live", "--identity", ssh_env.key,
                     "--known-hosts", known_hosts_for(ssh_env, port, tmp_path / "kh"))
    finally:
        timer.cancel()
        relay.close()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"as {ssh_env.user}" in proc.stdout
    log = next((Path(env["WFRUN_HOME"]) / "jobs" / "w" / "00001" / "logs" / "r").glob("*.log")).read_text()
    assert "retry 1/2 after:" in log and "Connection refused" in log


def test_retry_covers_a_dropped_connection(ssh_env, tmp_path, env):  # noqa: F811
    port = free_port()
    relay = Relay(port, (ssh_env.host, ssh_env.port), drop_first=1)
    relay.listen()
    try:
        wf = retry_workflow(tmp_path / "w.yaml", ssh_env, port)
        proc = wfrun(env, "run", wf, "--no-live", "--identity", ssh_env.key,
                     "--known-hosts", known_hosts_for(ssh_env, port, tmp_path / "kh"))
    finally:
        relay.close()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert relay.accepted >= 2
    log = next((Path(env["WFRUN_HOME"]) / "jobs" / "w" / "00001" / "logs" / "r").glob("*.log")).read_text()
    assert "retry 1/2 after:" in log


def test_all_attempts_refused_fails_after_the_retries(ssh_env, tmp_path, env):  # noqa: F811
    port = free_port()  # nothing ever listens here
    wf = retry_workflow(tmp_path / "w.yaml", ssh_env, port, retries=1)
    began = time.monotonic()
    proc = wfrun(env, "run", wf, "--no-live", "--identity", ssh_env.key,
                 "--known-hosts", known_hosts_for(ssh_env, port, tmp_path / "kh"))
    assert proc.returncode == 1
    assert "Connection refused" in proc.stdout
    assert time.monotonic() - began >= 2  # the retry interval was waited: a second attempt was made
    log = next((Path(env["WFRUN_HOME"]) / "jobs" / "w" / "00001" / "logs" / "r").glob("*.log")).read_text()
    assert "retry 1/1 after:" in log


def test_a_rejected_host_key_is_not_retried(ssh_env, tmp_path, env):  # noqa: F811
    kh = tmp_path / "kh"
    kh.write_text("")  # trusts nothing
    wf = retry_workflow(tmp_path / "w.yaml", ssh_env, ssh_env.port)
    proc = wfrun(env, "run", wf, "--no-live", "--identity", ssh_env.key, "--known-hosts", kh)
    assert proc.returncode == 1
    assert "host key not verifiable" in proc.stdout
    log = next((Path(env["WFRUN_HOME"]) / "jobs" / "w" / "00001" / "logs" / "r").glob("*.log")).read_text()
    assert "retry" not in log


@pytest.mark.parametrize("which", ["known_hosts", "identity"])
def test_a_missing_ssh_file_is_named(ssh_env, tmp_path, env, which):  # noqa: F811
    missing = tmp_path / f"no-such-{which}"
    wf = retry_workflow(tmp_path / "w.yaml", ssh_env, ssh_env.port, retries=0)
    kh = missing if which == "known_hosts" else ssh_env.known_hosts
    key = missing if which == "identity" else ssh_env.key
    proc = wfrun(env, "run", wf, "--no-live", "--identity", key, "--known-hosts", kh)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert f"cannot read the {which.replace('identity', 'identity file').replace('known_hosts', 'known_hosts file')} {missing}: No such file or directory" in proc.stdout


def test_a_non_utf8_known_hosts_is_named_with_its_line(ssh_env, tmp_path, env):  # noqa: F811
    kh = tmp_path / "kh"
    kh.write_bytes(Path(ssh_env.known_hosts).read_bytes() + b"# caf\xe9 \xff\xfe\n")
    wf = retry_workflow(tmp_path / "w.yaml", ssh_env, ssh_env.port, retries=0)
    proc = wfrun(env, "run", wf, "--no-live", "--identity", ssh_env.key, "--known-hosts", kh)
    assert proc.returncode == 1
    assert "codec" not in proc.stdout + proc.stderr
    line = len(Path(ssh_env.known_hosts).read_bytes().splitlines()) + 1
    assert f"the known_hosts file {kh} is not UTF-8 text (byte 0xe9 on line {line})" in proc.stdout
