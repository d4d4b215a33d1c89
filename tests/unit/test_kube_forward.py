"""sessions/kube.py against a recording stand-in for kubectl (there is no Kubernetes cluster here; issue 14).

The stand-in is an executable first on PATH: it records its argv, prints kubectl's Forwarding line
(with the port it was given, or one it "picked" for 0), starts a child (to prove the whole process
group goes) and sleeps; variants exit at once with kubectl's error, or exit once after opening
(a dropped forward) to exercise the reconnect.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from workflow_runner.backoff import Backoff
from workflow_runner.sessions.errors import SessionError
from workflow_runner.sessions.kube import KubectlForward

STAND_IN = r"""#!/bin/bash
# records argv (one per line, a blank line between runs), then behaves as MODE says
dir="$(dirname "$0")"
printf '%s\n' "$@" "" >> "$dir/argv"
n=$(grep -c '^port-forward$' "$dir/argv")
spec="$5"; local="${spec%%:*}"; remote="${spec##*:}"
[ "$local" = 0 ] && local=43117
case "$MODE" in
  fail) echo 'error: error upgrading connection: pods "web-0" not found' >&2; exit 1 ;;
  silent) echo $$ >> "$dir/pids"; exec sleep 1000 ;;
esac
sleep 1000 & echo $! >> "$dir/children"
echo $$ >> "$dir/pids"
echo "Forwarding from 127.0.0.1:$local -> $remote"
if [ "$MODE" = drop ] && [ "$n" = 1 ]; then exit 3; fi
exec sleep 1000
"""


@pytest.fixture
def kubectl(tmp_path, monkeypatch):
    d = tmp_path / "bin"
    d.mkdir()
    exe = d / "kubectl"
    exe.write_text(STAND_IN)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{d}:{os.environ['PATH']}")
    return d


def runs(d: Path) -> list[list[str]]:
    return [block.splitlines() for block in (d / "argv").read_text().split("\n\n") if block.strip()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def pids(d: Path, name: str) -> list[int]:
    path = d / name
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def test_forward_learns_the_port_and_close_leaves_no_process(kubectl):
    async def main():
        fwd = KubectlForward("jupyter", "pod", "web-0", 8888)
        port = await fwd.start()
        state = fwd.state
        await fwd.close()
        return port, state, fwd.state

    port, opened, closed = asyncio.run(main())
    assert port == 43117 and opened == "open" and closed == "closed"
    assert runs(kubectl) == [["port-forward", "-n", "jupyter", "pod/web-0", "0:8888", "--address", "127.0.0.1"]]
    for pid in pids(kubectl, "pids") + pids(kubectl, "children"):
        assert not alive(pid), f"process {pid} left after close()"


def test_a_given_local_port_is_passed(kubectl):
    async def main():
        fwd = KubectlForward("ns", "service", "api", 80, local_port=18080)
        port = await fwd.start()
        await fwd.close()
        return port

    assert asyncio.run(main()) == 18080
    assert runs(kubectl)[0][4] == "18080:80"


def test_kubectl_exiting_at_once_is_a_session_error_with_its_message(kubectl, monkeypatch):
    monkeypatch.setenv("MODE", "fail")

    async def main():
        fwd = KubectlForward("ns", "pod", "web-0", 8888)
        with pytest.raises(SessionError) as info:
            await fwd.start()
        return str(info.value), fwd.state

    message, state = asyncio.run(main())
    assert message == ("kubectl port-forward pod/web-0 -n ns exited with code 1: "
                       'error: error upgrading connection: pods "web-0" not found')
    assert state == "closed"


def test_no_forwarding_line_in_time_is_an_error_and_kills_kubectl(kubectl, monkeypatch):
    monkeypatch.setenv("MODE", "silent")

    async def main():
        fwd = KubectlForward("ns", "pod", "web-0", 8888, start_timeout=0.5)
        with pytest.raises(SessionError, match="printed no 'Forwarding from' line"):
            await fwd.start()

    asyncio.run(main())
    assert pids(kubectl, "pids") and not any(alive(pid) for pid in pids(kubectl, "pids"))


def test_kubectl_not_on_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))

    async def main():
        with pytest.raises(SessionError, match="needs kubectl, and 'kubectl' is not on PATH"):
            await KubectlForward("ns", "pod", "web-0", 8888).start()

    asyncio.run(main())


@pytest.mark.parametrize("kw, message", [
    ({"namespace": "--kubeconfig=/x"}, "namespace '--kubeconfig=/x' is not a Kubernetes name"),
    ({"name": "web;rm"}, "name 'web;rm' is not a Kubernetes name"),
    ({"resource_type": "secret"}, "resourceType 'secret'"),
    ({"remote_port": 70000}, "remotePort 70000 is not a port"),
])
def test_bad_targets_are_refused_before_kubectl_runs(kubectl, kw, message):
    args = {"namespace": "ns", "resource_type": "pod", "name": "web-0", "remote_port": 8888, **kw}

    async def main():
        with pytest.raises(SessionError, match=message):
            await KubectlForward(**args).start()

    asyncio.run(main())
    assert not (kubectl / "argv").exists()


def test_kubectl_exiting_while_open_is_restarted_on_the_same_port(kubectl, monkeypatch):
    monkeypatch.setenv("MODE", "drop")
    notes: list[str] = []

    async def main():
        fwd = KubectlForward("ns", "pod", "web-0", 8888, backoff=Backoff(0.05), on_note=notes.append)
        port = await fwd.start()
        seen = set()
        for _ in range(400):
            seen.add(fwd.state)
            if fwd.restarts >= 1 and fwd.state == "open":
                break
            await asyncio.sleep(0.025)
        state = fwd.state
        await fwd.close()
        return port, state, fwd.restarts

    port, state, restarts = asyncio.run(main())
    assert port == 43117 and state == "open" and restarts == 1
    second = runs(kubectl)[1]
    assert second[4] == "43117:8888"  # the learned port: the session's URL stays the same
    assert any("exited (code 3); reconnecting" in n for n in notes) and any("is back on 127.0.0.1:43117" in n for n in notes)
    for pid in pids(kubectl, "pids") + pids(kubectl, "children"):
        assert not alive(pid)
