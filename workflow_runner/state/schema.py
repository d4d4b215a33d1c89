"""The run store's tables and how a ``runs.db`` comes to exist at the newest schema.

Kept apart from :mod:`workflow_runner.state.store` so that the SQL that defines the file
(and its migrations, which must never change once published) is in one place.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow         TEXT    NOT NULL,
    file             TEXT    NOT NULL,
    run_dir          TEXT,
    status           TEXT    NOT NULL DEFAULT 'created',
    exit_code        INTEGER,
    pid              INTEGER,
    pid_start        INTEGER,
    hostname         TEXT,
    argv             TEXT    NOT NULL DEFAULT '[]',
    inputs           TEXT    NOT NULL DEFAULT '{}',
    secret_paths     TEXT    NOT NULL DEFAULT '[]',
    created          REAL    NOT NULL,
    started          REAL,
    finished         REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS jobs (
    run      INTEGER NOT NULL,
    key      TEXT    NOT NULL,
    status   TEXT    NOT NULL,
    reason   TEXT,
    started  REAL,
    finished REAL,
    outputs  TEXT,
    UNIQUE (run, key)
);
CREATE TABLE IF NOT EXISTS steps (
    run        INTEGER NOT NULL,
    job        TEXT    NOT NULL,
    step_index INTEGER NOT NULL,
    cleanup    INTEGER NOT NULL DEFAULT 0,
    name       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    exit_code  INTEGER,
    attempts   INTEGER NOT NULL DEFAULT 0,
    host       TEXT,
    started    REAL,
    finished   REAL,
    duration   REAL,
    log        TEXT,
    message    TEXT,
    outputs    TEXT,
    UNIQUE (run, job, step_index, cleanup, name)
);
CREATE TABLE IF NOT EXISTS attempts (
    run        INTEGER NOT NULL,
    job        TEXT    NOT NULL,
    step_index INTEGER NOT NULL,
    cleanup    INTEGER NOT NULL DEFAULT 0,
    name       TEXT    NOT NULL,
    attempt    INTEGER NOT NULL,
    host       TEXT,
    started    REAL,
    finished   REAL,
    status     TEXT    NOT NULL,
    exit_code  INTEGER,
    UNIQUE (run, job, step_index, cleanup, name, attempt)
);
CREATE TABLE IF NOT EXISTS batch_jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run          INTEGER NOT NULL,
    job          TEXT    NOT NULL,
    step_index   INTEGER NOT NULL,
    attempt      INTEGER NOT NULL DEFAULT 0,
    host         TEXT    NOT NULL,
    scheduler    TEXT    NOT NULL,
    job_name     TEXT    NOT NULL,
    rundir       TEXT    NOT NULL,
    jobid        TEXT,
    state        TEXT    NOT NULL,
    exit_code    INTEGER,
    intent_at    REAL    NOT NULL,
    submitted_at REAL,
    finished_at  REAL
);
CREATE INDEX IF NOT EXISTS batch_jobs_run ON batch_jobs (run, job, step_index, attempt);
"""

V2 = """
ALTER TABLE runs ADD COLUMN ssh TEXT NOT NULL DEFAULT '{}';
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET attempt = 1 WHERE started IS NOT NULL;
CREATE TABLE IF NOT EXISTS run_attempts (
    run       INTEGER NOT NULL,
    attempt   INTEGER NOT NULL,
    pid       INTEGER,
    hostname  TEXT,
    started   REAL    NOT NULL,
    finished  REAL,
    status    TEXT    NOT NULL,
    exit_code INTEGER,
    UNIQUE (run, attempt)
);
INSERT INTO run_attempts (run, attempt, pid, hostname, started, finished, status, exit_code)
    SELECT id, 1, pid, hostname, started, finished, status, exit_code FROM runs WHERE started IS NOT NULL;
CREATE TABLE attempts_v2 (
    run         INTEGER NOT NULL,
    run_attempt INTEGER NOT NULL DEFAULT 1,
    job         TEXT    NOT NULL,
    step_index  INTEGER NOT NULL,
    cleanup     INTEGER NOT NULL DEFAULT 0,
    name        TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    host        TEXT,
    started     REAL,
    finished    REAL,
    status      TEXT    NOT NULL,
    exit_code   INTEGER,
    UNIQUE (run, run_attempt, job, step_index, cleanup, name, attempt)
);
INSERT INTO attempts_v2 (run, run_attempt, job, step_index, cleanup, name, attempt, host, started, finished, status, exit_code)
    SELECT run, 1, job, step_index, cleanup, name, attempt, host, started, finished, status, exit_code FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_v2 RENAME TO attempts
"""
"""Version 2 keeps history across resumes: one ``run_attempts`` row per session of a run, step attempts
keyed by the run attempt they belong to (a resume no longer overwrites them), and the run's SSH options."""

V3 = """
CREATE TABLE IF NOT EXISTS sessions (
    run        INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    job        TEXT    NOT NULL,
    step       TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    local_port INTEGER NOT NULL,
    remote     TEXT    NOT NULL,
    via        TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    status     TEXT    NOT NULL DEFAULT '',
    redirect   INTEGER NOT NULL DEFAULT 1,
    message    TEXT,
    spec       TEXT    NOT NULL DEFAULT '{}',
    opened     REAL    NOT NULL,
    changed    REAL    NOT NULL,
    UNIQUE (run, name)
)
"""
"""Version 3 records interactive sessions (``parallelworks/update-session``): one row per run and session name,
its URL, the service's host:port, where the tunnel starts, its state, and what a resume needs to re-open it."""

MIGRATIONS: dict[int, str] = {1: SCHEMA, 2: V2, 3: V3}
"""Schema version -> the SQL that brings version-1 to it. Add 2, 3, ... here; never edit a published one."""


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring a database at schema ``version`` to :data:`SCHEMA_VERSION` (inside the caller's transaction)."""
    for target in range(version + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[target].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {target}")


def create(path: Path) -> None:
    """Make a new runs.db whole, then link it into place: a reader never sees a file without tables.

    (``wfrun status`` in another terminal, or a test polling the file, would otherwise
    read an empty database between its creation and the schema.) ``os.link`` fails if another
    process was first; its database is then used. Inputs and argv live here: mode 0600
    (SQLite gives -wal/-shm the same mode).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")
    try:
        os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            migrate(conn, 0)
            conn.execute("COMMIT")
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # no hard links on this file system: a rename, unless someone was first
            if not path.exists():
                os.rename(tmp, path)
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass


def use_wal(conn: sqlite3.Connection) -> None:
    """Switch a new database to WAL. The switch needs an exclusive lock and SQLite does not wait
    for it when two processes open a fresh runs.db at once, so retry for up to the busy timeout."""
    deadline = time.monotonic() + 5.0
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def open_database(path: Path) -> sqlite3.Connection:
    """A connection to ``path`` (created whole if missing) in WAL mode, ``synchronous=NORMAL``, 5 s busy timeout.

    The schema is not migrated here: that needs the store's write transaction (see ``RunStore``)."""
    if not path.exists():
        create(path)
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False, cached_statements=64)
    conn.execute("PRAGMA busy_timeout = 5000")
    use_wal(conn)
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn
