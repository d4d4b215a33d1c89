"""The run store's sessions (schema v3): the v2 → v3 migration keeps old runs, and SessionChanged events become the
``sessions`` of ``wfrun status --json`` (closed once the run is over, whatever was recorded last)."""

from __future__ import annotations

import sqlite3

from workflow_runner.engine.events import SessionChanged
from workflow_runner.engine.record import StoreRecorder
from workflow_runner.state.queries import status_data
from workflow_runner.state.schema import MIGRATIONS
from workflow_runner.state.store import SCHEMA_VERSION, RunStore


def test_a_version_2_store_gains_the_sessions_table_and_keeps_its_runs(tmp_path):
    path = tmp_path / "runs.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for version in (1, 2):
        for statement in MIGRATIONS[version].split(";"):
            if statement.strip():
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO runs (workflow, file, status, created) VALUES ('old', '/x.yaml', 'completed', 1.0)")
    conn.close()
    with RunStore(path) as store:
        assert SCHEMA_VERSION == 3
        assert store.get_run(1).workflow == "old"
        assert store.sessions(1) == []
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 3


def event(state: str, message: str | None = None) -> SessionChanged:
    return SessionChanged("serve", "open", "web", "http://127.0.0.1:4242/lab", 4242, "localhost:8888", "u@h:22",
                          state, message, "running", True, {"remote_port": 8888, "host": "u@h:22"})


def test_session_events_are_the_sessions_of_status_json(tmp_path):
    with RunStore(tmp_path / "runs.db") as store:
        run = store.new_run(workflow="w", file="/w.yaml", argv=[], inputs_masked={}, secret_paths=[])
        store.run_started(run)
        recorder = StoreRecorder(store, run)
        recorder.emit(event("open"))
        recorder.emit(event("reconnecting", "the SSH connection to u@h:22 was lost; reconnecting"))
        [row] = store.open_sessions()
        assert (row.run, row.name, row.state, row.spec["remote_port"]) == (run, "web", "reconnecting", 8888)
        data = status_data(store, store.get_run(run))
        assert data["sessions"] == [{
            "name": "web", "url": "http://127.0.0.1:4242/lab", "remote": "localhost:8888", "local_port": 4242,
            "via": "u@h:22", "state": "reconnecting", "status": "running", "redirect": True, "job": "serve",
            "step": "open", "message": "the SSH connection to u@h:22 was lost; reconnecting",
            "opened": row.opened, "changed": row.changed}]
        store.run_finished(run, "failed", 1)  # its wfrun ended without closing it (killed): closed all the same
        assert status_data(store, store.get_run(run))["sessions"][0]["state"] == "closed"


def test_a_secret_in_a_session_link_is_masked_like_everywhere_else():
    from workflow_runner.engine.events import masked

    secret = "s3cr3t-token"
    e = SessionChanged("j", "s", "lab", f"http://127.0.0.1:1/lab?token={secret}", 1, "localhost:8888", "local", "open",
                       None, "", True, {"slug": f"lab?token={secret}", "remote_port": 8888})
    out = masked(e, lambda text: text.replace(secret, "***"))
    assert secret not in repr(out) and out.url.endswith("token=***") and out.spec["remote_port"] == 8888


def test_masking_keeps_what_a_resume_connects_to():
    """An org value of 4+ characters that is also the user name must not turn the host into ***@login."""
    from workflow_runner.engine.events import masked

    e = SessionChanged("j", "s", "alice-lab", "http://127.0.0.1:1/alice", 1, "node-alice:8888", "alice@login", "open",
                       None, "alice is up", True, {"name": "alice-lab", "host": "alice@login", "jump": "alice@gw",
                                                   "remote_host": "node-alice", "slug": "alice", "status": "alice"})
    out = masked(e, lambda text: text.replace("alice", "***"))
    assert out.spec["host"] == "alice@login" and out.spec["jump"] == "alice@gw"
    assert out.spec["name"] == "alice-lab" and out.spec["remote_host"] == "node-alice"
    assert out.spec["slug"] == "***" and out.spec["status"] == "***" and out.status == "*** is up"
    assert out.url.endswith("/***")
