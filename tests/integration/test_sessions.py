"""Interactive sessions against the real test sshd: ``parallelworks/update-session`` forwards a local port to a
``python3 -m http.server`` a step started on the SSH host; the link comes from ``wfrun status --json``.

Each run is started with ``--detach`` (as a user would, to keep the tunnel while working): the background wfrun
holds the tunnel; the test fetches a real file through it, cancels, and checks that nothing is left.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from helpers import run_cli, wait_for, wfrun_env
from ssh_env import SSHEnv, ssh_env, user_processes  # noqa: F401  (fixture)

pytestmark = pytest.mark.ssh

SERVE_STEP = """\
      - name: start server
        id: start
        run: |
          PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
          mkdir -p www && echo "{marker} $PORT" > www/hello.txt
          setsid -f python3 -m http.server $PORT --bind {bind} --directory www > server.log 2>&1
          for i in $(seq 100); do
            python3 -c "import socket; socket.create_connection(('$(hostname)' if '{bind}' == '0.0.0.0' else '127.0.0.1', $PORT), 1)" 2>/dev/null && break
            sleep 0.1
          done
          pgrep -f "http.server $PORT" > server.pid
          echo "PORT=$PORT" >> $OUTPUTS
          echo "HOSTNAME=$(hostname)" >> $OUTPUTS
"""


def session_workflow(host: str, marker: str, *, jump: str | None = None, names: tuple[str, ...] = ("web",),
                     keep_alive_local: bool = False, node: bool = False) -> str:
    """One SSH job: start a web server, open a session per name; held open by a sleep (on SSH, whose cleanup
    stops the server — or, ``keep_alive_local``, in a local job, so the SSH connection carries only the tunnel)."""
    ssh = f'{{remoteHost: "{host}"' + (f', jumpNodeHost: "{jump}"' if jump else "") + "}"
    remote_host = "\n          remoteHost: ${{ steps.start.outputs.HOSTNAME }}" if node else ""
    serve = SERVE_STEP.format(marker=marker, bind="0.0.0.0" if node else "127.0.0.1")
    opens = "".join(f"""
      - name: open {name}
        uses: parallelworks/update-session
        with:
          name: ${{{{ sessions.{name} }}}}
          remotePort: ${{{{ steps.start.outputs.PORT }}}}{remote_host}
          slug: hello.txt
          status: running
""" for name in names)
    hold = """
      - name: hold
        run: sleep 600
        cleanup: kill $(cat server.pid)
""" if not keep_alive_local else """
  hold:
    steps:
      - run: sleep 600
"""
    sessions = "".join(f"  {name}:\n    redirect: true\n" for name in names)
    return f"sessions:\n{sessions}jobs:\n  serve:\n    ssh: {ssh}\n    steps:\n{serve}{opens}{hold}"


def start(env: dict, ssh: SSHEnv, wf: Path, *args: str) -> int:
    proc = run_cli(env, "run", wf, "--detach", *args, "--identity", ssh.key, "--known-hosts", ssh.known_hosts)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return int(re.search(r"run (\d+) started", proc.stdout).group(1))


def status(env: dict, run: int) -> dict:
    proc = run_cli(env, "status", run, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def open_sessions(env: dict, run: int, count: int = 1, timeout: float = 60) -> list[dict]:
    found: list[dict] = []

    def ready() -> bool:
        nonlocal found
        data = status(env, run)
        assert data["status"] in ("created", "running"), (data["status"], data["jobs"])
        found = [s for s in data["sessions"] if s["state"] == "open"]
        return len(found) >= count

    wait_for(ready, timeout, f"{count} open session(s) of run {run}")
    return found


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read().decode()


def port_closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def cancel(env: dict, run: int) -> None:
    proc = run_cli(env, "cancel", run)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def events(env: dict, run: int) -> list[dict]:
    run_dir = Path(status(env, run)["run_dir"])
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("jump,node", [(False, False), (True, False), (False, True)],
                         ids=["direct", "jump-host", "node-through-login-host"])
def test_link_in_status_serves_a_real_file_and_cancel_leaves_nothing(ssh_env, write, tmp_path, jump, node):  # noqa: F811
    """``node``: the service listens on a host name the step reported (as a batch job's compute node does), which
    the SSH host reaches (the login host of a cluster)."""
    marker = f"hello-{tmp_path.name}"
    wf = write("session.yaml", session_workflow(ssh_env.spec, marker, jump=ssh_env.spec if jump else None, node=node))
    env = wfrun_env(tmp_path)
    run = start(env, ssh_env, wf)
    try:
        session = open_sessions(env, run)[0]
        port = session["local_port"]
        assert session["url"] == f"http://127.0.0.1:{port}/hello.txt"
        assert session["name"] == "web" and session["status"] == "running"
        assert re.fullmatch((re.escape(socket.gethostname()) if node else "localhost") + r":\d+", session["remote"]), session
        assert session["via"] == ssh_env.spec + (f" via {ssh_env.spec}" if jump else "")
        remote_port = int(session["remote"].split(":")[1])
        assert fetch(session["url"]).strip() == f"{marker} {remote_port}"
        assert user_processes(ssh_env.user, f"http.server {remote_port}"), "the service runs on the SSH host"
        listed = json.loads(run_cli(env, "sessions", "--json").stdout)
        assert [(s["run"], s["url"]) for s in listed] == [(run, session["url"])]
        assert "⇄ session web: open http://127.0.0.1:" in (Path(status(env, run)["run_dir"]) / "wfrun.out").read_text()
    finally:
        cancel(env, run)
    assert status(env, run)["status"] == "canceled"
    assert port_closed(port), "the local port still accepts connections after wfrun cancel"
    wait_for(lambda: not user_processes(ssh_env.user, f"http.server {remote_port}"), 10, "the server to be gone")
    assert status(env, run)["sessions"][0]["state"] == "closed"
    assert json.loads(run_cli(env, "sessions", "--json").stdout) == []
    states = [e["state"] for e in events(env, run) if e["event"] == "SessionChanged"]
    assert states == ["open", "closed"]


def sshd_serving(remote_port: int) -> int:
    """The server-side sshd process that holds a forwarded connection to ``remote_port`` (it serves the tunnel's
    SSH connection)."""
    out = subprocess.run(["ss", "-tnpH", "dst", f"127.0.0.1:{remote_port}"], capture_output=True, text=True).stdout
    pids = {int(p) for p in re.findall(r'"sshd[^"]*",pid=(\d+)', out)}
    assert len(pids) == 1, out
    return pids.pop()


@pytest.mark.slow
def test_tunnel_survives_its_ssh_connection_closed_by_the_server(ssh_env, write, tmp_path):  # noqa: F811
    marker = f"drop-{tmp_path.name}"
    wf = write("drop.yaml", session_workflow(ssh_env.spec, marker, keep_alive_local=True))
    env = wfrun_env(tmp_path)
    run = start(env, ssh_env, wf)
    try:
        session = open_sessions(env, run)[0]
        remote_port = int(session["remote"].split(":")[1])
        assert fetch(session["url"]).strip() == f"{marker} {remote_port}"
        held = socket.create_connection(("127.0.0.1", session["local_port"]), timeout=5)  # a forwarded connection
        wait_for(lambda: "sshd" in subprocess.run(["ss", "-tnpH", "dst", f"127.0.0.1:{remote_port}"],
                                                  capture_output=True, text=True).stdout, 10, "the forwarded connection")
        victim = sshd_serving(remote_port)
        subprocess.run(["kill", "-TERM", str(victim)], check=True)  # the server closes the tunnel's connection
        held.settimeout(10)
        assert held.recv(100) == b"", "a connection of the dropped SSH connection must end, not hang"
        held.close()

        def said_reconnected() -> bool:
            changes = [e for e in events(env, run) if e["event"] == "SessionChanged"]
            return any(e["state"] == "reconnecting" for e in changes) and changes[-1]["state"] == "open"

        wait_for(said_reconnected, 60, "the session to say it reconnected")
        again = status(env, run)["sessions"][0]
        assert again["url"] == session["url"] and again["state"] == "open"
        assert "reconnected" in (again["message"] or "")
        assert fetch(session["url"]).strip() == f"{marker} {remote_port}"  # same link, new connection
        assert victim not in {sshd_serving_or_none(remote_port)}
        out = (Path(status(env, run)["run_dir"]) / "wfrun.out").read_text()
        assert "reconnecting" in out and "reconnected" in out
    finally:
        cancel(env, run)
    assert port_closed(session["local_port"])
    wait_for(lambda: not user_processes(ssh_env.user, f"http.server {remote_port}"), 10, "the server to be gone")


def sshd_serving_or_none(remote_port: int) -> int | None:
    out = subprocess.run(["ss", "-tnpH", "dst", f"127.0.0.1:{remote_port}"], capture_output=True, text=True).stdout
    found = re.findall(r'"sshd[^"]*",pid=(\d+)', out)
    return int(found[0]) if found else None


@pytest.mark.slow
def test_two_sessions_in_a_run_and_two_runs_at_once_get_distinct_ports(ssh_env, write, tmp_path):  # noqa: F811
    wf = write("two.yaml", session_workflow(ssh_env.spec, "two", names=("alpha", "beta")))
    env = wfrun_env(tmp_path)
    runs = [start(env, ssh_env, wf), start(env, ssh_env, wf)]
    try:
        sessions = {run: open_sessions(env, run, count=2) for run in runs}
        ports = [s["local_port"] for run in runs for s in sessions[run]]
        assert len(set(ports)) == 4, ports
        for run in runs:
            assert sorted(s["name"] for s in sessions[run]) == ["alpha", "beta"]
            for s in sessions[run]:
                assert fetch(s["url"]).startswith("two ")
        listed = json.loads(run_cli(env, "sessions", "--json").stdout)
        assert sorted(s["local_port"] for s in listed) == sorted(ports)
    finally:
        for run in runs:
            cancel(env, run)
    assert all(port_closed(p) for p in ports)


def test_service_not_listening_yet_is_refused_cleanly_and_the_tunnel_stays(ssh_env, write, tmp_path):  # noqa: F811
    """The session opens before its service listens: a client's connection is closed (no hang, no crash), and once
    the service is up the same link serves it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        remote_port = probe.getsockname()[1]
    wf = write("early.yaml", f"""
sessions:
  early: {{redirect: false}}
jobs:
  serve:
    ssh: {{remoteHost: "{ssh_env.spec}"}}
    steps:
      - uses: parallelworks/update-session
        with: {{name: "${{{{ sessions.early }}}}", remotePort: {remote_port}}}
  hold:
    steps:
      - run: sleep 600
""")
    env = wfrun_env(tmp_path)
    run = start(env, ssh_env, wf)
    server = None
    try:
        session = open_sessions(env, run)[0]
        assert session["redirect"] is False
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", session["local_port"]), timeout=5) as client:
                client.settimeout(10)
                client.sendall(b"GET / HTTP/1.0\r\n\r\n")
                assert client.recv(100) == b""  # closed: nothing listens there yet
        (tmp_path / "www").mkdir()
        (tmp_path / "www" / "late.txt").write_text("late but here\n")
        server = subprocess.Popen(["python3", "-m", "http.server", str(remote_port), "--bind", "127.0.0.1",
                                   "--directory", str(tmp_path / "www")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: not port_closed(remote_port), 10, "the late service")
        assert fetch(f"http://127.0.0.1:{session['local_port']}/late.txt") == "late but here\n"
        assert status(env, run)["sessions"][0]["state"] == "open"
    finally:
        cancel(env, run)
        if server is not None:
            server.kill()
            server.wait()
    assert port_closed(session["local_port"])


@pytest.mark.slow
def test_resume_reopens_the_session_of_a_step_it_carries_over(ssh_env, write, tmp_path):  # noqa: F811
    """kill -9 of the wfrun that held the tunnel closes it; ``wfrun resume`` opens it again on the same link
    (the update-session step completed before and is not run again)."""
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "back.txt").write_text("back again\n")
    server = subprocess.Popen(["python3", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory",
                               str(tmp_path / "www")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    resumed = None
    try:
        remote_port = int(re.search(r"port (\d+)", server.stdout.readline()).group(1))
        wf = write("resume.yaml", f"""
sessions:
  back: {{redirect: true}}
jobs:
  serve:
    ssh: {{remoteHost: "{ssh_env.spec}"}}
    steps:
      - uses: parallelworks/update-session
        with: {{name: "${{{{ sessions.back }}}}", remotePort: {remote_port}, slug: back.txt}}
  hold:
    needs: [serve]
    steps:
      - run: sleep 600
""")
        env = wfrun_env(tmp_path)
        run = start(env, ssh_env, wf)
        session = open_sessions(env, run)[0]
        assert fetch(session["url"]) == "back again\n"
        wait_for(lambda: status(env, run)["jobs"][-1]["status"] == "running", 30, "the hold job")
        subprocess.run(["kill", "-KILL", str(status(env, run)["pid"])], check=True)
        wait_for(lambda: port_closed(session["local_port"]), 10, "the killed wfrun's port to close")
        assert status(env, run)["sessions"][0]["state"] == "closed"  # its process is gone
        killed_at = time.time()
        resumed = subprocess.Popen([sys.executable, "-m", "workflow_runner", "resume", str(run)], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: status(env, run)["status"] == "running", 30, "the resume to start")
        wait_for(lambda: status(env, run)["sessions"][0]["changed"] > killed_at, 30, "the session to be re-opened")
        again = open_sessions(env, run)[0]
        assert again["url"] == session["url"], "the same link after the resume"
        assert fetch(again["url"]) == "back again\n"
        cancel(env, run)
        out = resumed.communicate(timeout=60)[0]
        assert "⇄ session back: open " + session["url"] in out, out
        assert port_closed(session["local_port"])
    finally:
        server.kill()
        server.wait()
        if resumed is not None and resumed.poll() is None:
            resumed.kill()


@pytest.mark.parametrize("where", ["local", "ssh"])
def test_the_session_example_as_the_readme_shows_it(ssh_env, tmp_path, where):  # noqa: F811
    """examples/session.yaml: run --detach, the link from ``wfrun sessions``, a page through it, cancel, nothing left."""
    example = Path(__file__).resolve().parents[2] / "examples" / "session.yaml"
    env = wfrun_env(tmp_path)
    args = ["--set", f"host={ssh_env.spec}"] if where == "ssh" else []
    run = start(env, ssh_env, example, *args)
    try:
        session = open_sessions(env, run)[0]
        table = run_cli(env, "sessions").stdout
        assert session["url"] in table and "open (running)" in table, table
        assert fetch(session["url"]).startswith(f"Hello from {socket.gethostname()}, run {run}")
        remote_port = int(session["remote"].split(":")[1])
    finally:
        cancel(env, run)
    out = (Path(status(env, run)["run_dir"]) / "wfrun.out").read_text()
    assert "web service stopped" in out and "⇄ session files closed" in out, out
    assert port_closed(session["local_port"])
    owner = ssh_env.user if where == "ssh" else "root"
    assert not user_processes(owner, f"http.server {remote_port}")


LOCAL = """
sessions:
  web: {{redirect: true}}
jobs:
  serve:
    steps:
{serve}      - name: open
        uses: parallelworks/update-session
        with: {{name: "${{{{ sessions.web }}}}", remotePort: "${{{{ steps.start.outputs.PORT }}}}", slug: hello.txt}}
      - name: hold
        run: {hold}
        cleanup: kill $(cat server.pid) && echo "cleanup stopped the server"
  watcher:
    steps:
      - run: sleep 600
        early-cancel: any-job-failed
"""


def test_failure_and_ctrl_c_close_the_session_after_the_cleanups(write, tmp_path):
    """The run's end closes the tunnel whatever the outcome — a failed step (whose failure early-cancels the
    watcher job), Ctrl-C — after the cleanups ran."""
    env = wfrun_env(tmp_path)
    failing = write("fails.yaml", LOCAL.format(serve=SERVE_STEP.format(marker="f", bind="127.0.0.1"), hold="sleep 1; exit 3"))
    done = run_cli(env, "run", failing, "--no-live")
    assert done.returncode == 1, done.stdout + done.stderr
    data = status(env, 1)
    assert {j["key"]: j["status"] for j in data["jobs"]} == {"serve": "failed", "watcher": "canceled"}
    session = data["sessions"][0]
    assert session["state"] == "closed" and port_closed(session["local_port"])
    out = done.stdout
    assert out.index("cleanup stopped the server") < out.index("⇄ session web closed") < out.index("Run failed")

    held = write("held.yaml", LOCAL.format(serve=SERVE_STEP.format(marker="c", bind="127.0.0.1"), hold="sleep 600"))
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", "run", str(held), "--no-live"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:
            if "⇄ session web: open " in line:
                url = line.split("open ", 1)[1].split()[0]
                break
        assert fetch(url).startswith("c ")
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, rest
    assert "cleanup stopped the server" in rest and "⇄ session web closed" in rest
    assert port_closed(int(url.split(":")[2].split("/")[0]))
    assert status(env, 2)["sessions"][0]["state"] == "closed"


def test_a_second_update_of_the_same_session_keeps_its_link(write, tmp_path):
    """``update-session`` twice with one name: the tunnel moves to the new service, the link stays the same."""
    two = SERVE_STEP.format(marker="first", bind="127.0.0.1") + SERVE_STEP.format(marker="second", bind="127.0.0.1") \
        .replace("id: start", "id: again").replace("www", "www2")
    wf = write("update.yaml", f"""
sessions:
  web: {{redirect: true}}
jobs:
  serve:
    steps:
{two}      - id: first
        uses: parallelworks/update-session
        with: {{name: "${{{{ sessions.web }}}}", remotePort: "${{{{ steps.start.outputs.PORT }}}}", slug: hello.txt}}
      - run: curl -sf "${{{{ steps.first.outputs.url }}}}" > first.txt
      - id: second
        uses: parallelworks/update-session
        with: {{name: "${{{{ sessions.web }}}}", remotePort: "${{{{ steps.again.outputs.PORT }}}}", slug: hello.txt}}
      - run: |
          test "${{{{ steps.first.outputs.url }}}}" = "${{{{ steps.second.outputs.url }}}}"
          echo "first: $(cat first.txt)"; echo "second: $(curl -sf '${{{{ steps.second.outputs.url }}}}')"
""")
    env = wfrun_env(tmp_path)
    done = run_cli(env, "run", wf, "--no-live")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"first: first \d+", done.stdout) and re.search(r"second: second \d+", done.stdout), done.stdout
    [session] = status(env, 1)["sessions"]
    assert session["state"] == "closed" and session["step"] == "second"
    assert [e["state"] for e in events(env, 1) if e["event"] == "SessionChanged"] == ["open", "closed", "open", "closed"]
