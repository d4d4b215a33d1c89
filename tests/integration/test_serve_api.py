"""``wfrun serve``: the HTTP API against the real app (httpx through ASGI) and real background runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from serve_env import free_port, make_served, start_server


@pytest.fixture
def served(tmp_path, monkeypatch):
    s = make_served(tmp_path, monkeypatch)
    with s.client:
        yield s


def test_health_needs_no_token(served):
    r = served.client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_workflows_lists_only_workflow_files(served):
    ids = [w["id"] for w in served.get("/api/workflows").json()]
    assert ids == ["chatty.yaml", "hello.yaml", "sub/flaky.yaml"]


def test_workflow_tree_has_defaults_and_hidden(served):
    tree = served.get("/api/workflows/hello.yaml").json()
    assert tree["values"] == {"who": "world", "count": 2, "pw": None, "advanced": False, "extra": "x"}
    assert tree["hidden"] == ["extra"]
    assert tree["definitions"]["count"]["max"] == 5
    assert tree["valid"] is True


def test_resolve_reevaluates_partial_values_with_field_errors(served):
    r = served.post("/api/workflows/resolve", json={"workflow": "hello.yaml",
                                                     "inputs": {"advanced": True, "count": 9, "bogus": 1}})
    assert r.status_code == 200
    tree = r.json()
    assert tree["hidden"] == []  # advanced=true un-hides 'extra', as `wfrun inputs` would
    fields = {e["input"]: e["message"] for e in tree["errors"]}
    assert set(fields) == {"count", "bogus"}
    assert "at most 5" in fields["count"] and "unknown input" in fields["bogus"]
    assert tree["valid"] is False


def test_resolve_matches_the_cli(served):
    values = {"who": "ada", "advanced": True}
    api = served.post("/api/workflows/resolve", json={"workflow": "hello.yaml", "inputs": values}).json()["values"]
    (served.root / "v.json").write_text(json.dumps(values))
    cli = subprocess.run([sys.executable, "-m", "workflow_runner", "inputs", str(served.root / "hello.yaml"),
                          "--inputs", str(served.root / "v.json")], capture_output=True, text=True, check=True)
    assert api == json.loads(cli.stdout)


def test_start_run_then_status_matches_cli_json(served):
    r = served.post("/api/runs", json={"workflow": "hello.yaml", "inputs": {"who": "api", "pw": "hunter2-secret"}})
    assert r.status_code == 201, r.text
    run = r.json()["run"]
    detail = served.wait_final(run)
    assert detail["status"] == "completed"
    cli = subprocess.run([sys.executable, "-m", "workflow_runner", "status", str(run), "--json"],
                         capture_output=True, text=True, check=True)
    api = served.get(f"/api/runs/{run}").json()
    assert api == json.loads(cli.stdout)
    log = served.get(f"/api/runs/{run}/log", params={"job": "greet", "step": "say"}).json()
    assert log["data"] == "hello api x2 pw=***\n" and log["complete"] is True
    # the password never reached a command line: argv of the run and of its processes
    assert "hunter2-secret" not in json.dumps(api)


def test_start_run_with_invalid_inputs_names_the_field(served):
    r = served.post("/api/runs", json={"workflow": "hello.yaml", "inputs": {"count": "many"}})
    assert r.status_code == 422
    errors = r.json()["detail"]["errors"]
    assert [e["input"] for e in errors] == ["count"]
    assert served.get("/api/runs").json()["runs"] == []  # nothing was started


def test_unknown_workflow_and_run_are_404_with_reason(served):
    r = served.post("/api/runs", json={"workflow": "nope.yaml", "inputs": {}})
    assert r.status_code == 404 and "nope.yaml" in r.json()["detail"]
    r = served.post("/api/runs", json={"workflow": "notes.yaml", "inputs": {}})
    assert r.status_code == 404 and "not a workflow" in r.json()["detail"]
    r = served.get("/api/runs/999")
    assert r.status_code == 404 and "run 999 not found" in r.json()["detail"]


def test_runs_from_the_terminal_appear_with_filters_and_pages(served):
    hello, chatty = served.root / "hello.yaml", served.root / "chatty.yaml"
    for wf in (hello, chatty, hello, hello):
        subprocess.run([sys.executable, "-m", "workflow_runner", "run", str(wf), "-q"], check=True, capture_output=True)
    runs = served.get("/api/runs").json()
    assert [r["id"] for r in runs["runs"]] == [4, 3, 2, 1] and runs["next"] is None
    only = served.get("/api/runs", params={"workflow": "hello", "limit": 2}).json()
    assert [r["id"] for r in only["runs"]] == [4, 3] and only["next"] == 3
    rest = served.get("/api/runs", params={"workflow": "hello", "limit": 2, "before": only["next"]}).json()
    assert [r["id"] for r in rest["runs"]] == [1] and rest["next"] is None
    assert served.get("/api/runs", params={"status": "failed"}).json()["runs"] == []
    r = served.get("/api/runs", params={"status": "bogus"})
    assert r.status_code == 400 and "bogus" in r.json()["detail"]


def sse(served, run: int, headers: dict | None = None) -> tuple[list[dict], list[int], dict | None]:
    """(events, their ids, the end event's data) of one event stream, read until it ends."""
    events, ids, event = [], [], None
    with served.client.stream("GET", f"/api/runs/{run}/events", headers={**served.auth, **(headers or {})}) as stream:
        for raw in stream.iter_lines():
            if raw.startswith("id: "):
                ids.append(int(raw[4:]))
            elif raw.startswith("event: "):
                event = raw[7:]
            elif raw.startswith("data: "):
                if event == "end":
                    return events, ids, json.loads(raw[6:])
                events.append(json.loads(raw[6:]))
    return events, ids, None


def test_events_stream_every_line_and_resume_with_last_event_id(served):
    r = served.post("/api/runs", json={"workflow": "chatty.yaml", "inputs": {"lines": 30, "pause": 0.02}})
    run = r.json()["run"]
    lines, ids, end = sse(served, run)
    assert end == {"status": "completed"}
    output = [e["line"] for e in lines if e["event"] == "StepOutput"]
    assert output == [f"line {i}" for i in range(30)]
    assert lines[-1]["event"] == "RunFinished"
    # resume from the middle: exactly the events after it, none repeated
    middle = len(ids) // 2
    again, _, end = sse(served, run, {"Last-Event-ID": str(ids[middle])})
    assert again == lines[middle + 1:] and end == {"status": "completed"}
    bad = served.get(f"/api/runs/{run}/events", headers={"Last-Event-ID": str(ids[0] - 1)})
    assert bad.status_code == 400 and "not the end of an event line" in bad.json()["detail"]


def test_log_in_chunks_from_an_offset(served, tmp_path):
    r = served.post("/api/runs", json={"workflow": "chatty.yaml", "inputs": {"lines": 500, "pause": 0}})
    run = r.json()["run"]
    served.wait_final(run)
    whole, offset, calls = "", 0, 0
    while True:
        chunk = served.get(f"/api/runs/{run}/log", params={"job": "talk", "step": "1", "offset": offset,
                                                            "limit": 1000}).json()
        whole += chunk["data"]
        calls += 1
        assert chunk["data"].endswith("\n") or chunk["data"] == ""  # cut at whole lines
        if chunk["complete"]:
            break
        offset = chunk["next_offset"]
    assert whole == "".join(f"line {i}\n" for i in range(500))
    assert calls >= len(whole) // 1000
    past = served.get(f"/api/runs/{run}/log", params={"job": "talk", "step": "1", "offset": 10**9})
    assert past.status_code == 416 and "past the end" in past.json()["detail"]
    nostep = served.get(f"/api/runs/{run}/log", params={"job": "talk", "step": "9"})
    assert nostep.status_code == 404 and "has no step '9'" in nostep.json()["detail"]


def test_cancel_a_running_run(served):
    run = served.post("/api/runs", json={"workflow": "chatty.yaml", "inputs": {"lines": 1000, "pause": 0.1}}).json()["run"]
    deadline = time.monotonic() + 30
    while served.get(f"/api/runs/{run}").json()["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    r = served.post(f"/api/runs/{run}/cancel")
    assert r.status_code == 200 and r.json()["cancel_requested"] is True
    assert served.wait_final(run)["status"] == "canceled"


def test_rerun_failed_runs_only_what_did_not_complete(served, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    run = served.post("/api/runs", json={"workflow": "sub/flaky.yaml",
                                         "inputs": {"dir": str(work), "pw": "s3cret-pass"}}).json()["run"]
    assert served.wait_final(run)["status"] == "failed"
    missing = served.post(f"/api/runs/{run}/rerun-failed", json={"inputs": {}})
    assert missing.status_code == 422 and missing.json()["detail"]["errors"][0]["input"] == "pw"
    relaunch = served.get(f"/api/runs/{run}/relaunch").json()
    assert relaunch == {"run": run, "workflow": "sub/flaky.yaml", "file": str(served.root / "sub" / "flaky.yaml"),
                        "inputs": {"dir": str(work)}, "passwords": ["pw"]}
    r = served.post(f"/api/runs/{run}/rerun-failed", json={"inputs": {"pw": "s3cret-pass"}})
    assert r.status_code == 200, r.text
    assert r.json()["attempt"] == 2
    detail = served.wait_final(run)
    assert detail["status"] == "completed"
    assert (work / "independent.count").read_text() == "once\n"  # completed job carried over
    assert (work / "before.count").read_text() == "before\nbefore\n"  # the failed job ran again from its start
    assert (work / "after.count").read_text() == "after\n"  # its dependant ran
    assert [a["status"] for a in detail["attempts"]] == ["failed", "completed"]
    again = served.post(f"/api/runs/{run}/rerun-failed", json={"inputs": {}})
    assert again.status_code == 409 and "nothing failed" in again.json()["detail"]


def test_kill_9_of_the_server_stops_no_run_and_a_restart_shows_it(tmp_path, monkeypatch):
    s = make_served(tmp_path, monkeypatch)
    port = free_port()
    server = start_server(s.root, port)
    try:
        r = httpx.post(f"http://127.0.0.1:{port}/api/runs", headers=s.auth,
                       json={"workflow": "chatty.yaml", "inputs": {"lines": 30, "pause": 0.1}}, timeout=60)
        assert r.status_code == 201, r.text
        run = r.json()["run"]
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    deadline = time.monotonic() + 60
    status = subprocess.run([sys.executable, "-m", "workflow_runner", "status", str(run), "--json"],
                            capture_output=True, text=True, check=True)
    while json.loads(status.stdout)["status"] != "completed" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = subprocess.run([sys.executable, "-m", "workflow_runner", "status", str(run), "--json"],
                                capture_output=True, text=True, check=True)
    assert json.loads(status.stdout)["status"] == "completed"
    server = start_server(s.root, port)
    try:
        data = httpx.get(f"http://127.0.0.1:{port}/api/runs/{run}", headers=s.auth).json()
        assert data["status"] == "completed" and data["exit_code"] == 0
        log = httpx.get(f"http://127.0.0.1:{port}/api/runs/{run}/log", headers=s.auth,
                        params={"job": "talk", "step": "1"}).json()
        assert log["data"] == "".join(f"line {i}\n" for i in range(30))
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_open_event_streams_do_not_hold_shutdown(tmp_path, monkeypatch):
    s = make_served(tmp_path, monkeypatch)
    port = free_port()
    server = start_server(s.root, port)
    r = httpx.post(f"http://127.0.0.1:{port}/api/runs", headers=s.auth,
                   json={"workflow": "chatty.yaml", "inputs": {"lines": 600, "pause": 0.1}}, timeout=60)
    run = r.json()["run"]
    import threading

    got: list[str] = []

    def follow() -> None:
        try:
            with httpx.stream("GET", f"http://127.0.0.1:{port}/api/runs/{run}/events", headers=s.auth, timeout=60) as st:
                for line in st.iter_lines():
                    got.append(line)
        except httpx.HTTPError:
            pass

    readers = [threading.Thread(target=follow) for _ in range(3)]
    for t in readers:
        t.start()
    deadline = time.monotonic() + 30
    while not any(line.startswith("data: ") for line in got) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any(line.startswith("data: ") for line in got)
    started = time.monotonic()
    server.terminate()
    server.wait(timeout=30)
    assert time.monotonic() - started < 5  # the streams ended; the graceful timeout (3 s) was not even needed
    for t in readers:
        t.join(timeout=10)
    status = subprocess.run([sys.executable, "-m", "workflow_runner", "status", str(run), "--json"],
                            capture_output=True, text=True, check=True)
    assert json.loads(status.stdout)["status"] == "running"  # the run goes on without the server
    subprocess.run([sys.executable, "-m", "workflow_runner", "cancel", str(run)], capture_output=True, check=True)


def test_an_edited_workflow_shows_its_new_inputs(served):
    assert served.get("/api/workflows/hello.yaml").json()["values"]["who"] == "world"
    path = served.root / "hello.yaml"
    path.write_text(path.read_text().replace("default: world", "default: everyone"))
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert served.get("/api/workflows/hello.yaml").json()["values"]["who"] == "everyone"


def test_a_big_log_is_served_in_bounded_chunks(served):
    (served.root / "big.yaml").write_text("""\
jobs:
  big:
    steps:
      - name: spew
        run: head -c 12000000 /dev/zero | tr '\\0' 'x' | fold -w 99
""")
    run = served.post("/api/runs", json={"workflow": "big.yaml", "inputs": {}}).json()["run"]
    assert served.wait_final(run)["status"] == "completed"
    offset, sizes, total = 0, [], 0
    while True:
        chunk = served.get(f"/api/runs/{run}/log", params={"job": "big", "step": "spew", "offset": offset}).json()
        data = chunk["data"]
        sizes.append(len(data))
        assert set(data) <= {"x", "\n"} and (not data or data.endswith("\n"))
        total += len(data)
        offset = chunk["next_offset"]
        if chunk["complete"]:
            break
    assert total == chunk["size"] == 12000000 + 12000000 // 99 + 1
    assert max(sizes) <= 1 << 20 and len(sizes) >= 12
