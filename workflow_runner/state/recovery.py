"""Run numbers that never reuse a run directory, even after ``runs.db`` was lost.

The run store hands out run numbers, and the number names the run directory
(``jobs/<workflow>/<NNNNN>``). A deleted, replaced or restored-from-backup
``runs.db`` starts counting again from a lower number; without this check a new
run would write into an old run's directory: two runs in one ``events.jsonl``, an
overwritten ``run.json``, old logs appended to. Before a run gets its number, wfrun
looks whether the directory that number would name exists (one stat); only then is
the store's counter raised above every run directory that exists (run numbers are
shared by all workflows; listing them all at every start cost time in proportion to
the history). The directory itself is then created exclusively.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from workflow_runner.errors import WorkflowError
from workflow_runner.state.rundir import RunDir, safe_name


def highest_run_dir(home: Path) -> int:
    """The largest run number with a directory under ``home/jobs`` (0 when there is none)."""
    highest = 0
    try:
        workflows = list((home / "jobs").iterdir())
    except OSError:
        return 0
    for folder in workflows:
        try:
            numbers = [int(p.name) for p in folder.iterdir() if p.name.isdigit()]
        except OSError:
            continue
        highest = max([highest, *numbers])
    return highest


def numbering_behind(next_number: int, workflow: str, home: Path) -> bool:
    """Whether the run directory the store's next number would name for ``workflow`` already exists."""
    return (home / "jobs" / safe_name(workflow) / f"{next_number:05d}").exists()


def continue_numbering(store_path: Path, home: Path) -> int | None:
    """Raise the store's run counter above the run directories; the number it was raised to, if it was behind.

    Uses a connection of its own (one short write transaction on the same file), so the
    store's own connection and its queued writes are not involved.
    """
    floor = highest_run_dir(home)
    if floor == 0:
        return None
    conn = sqlite3.connect(store_path, timeout=5.0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            known = conn.execute("SELECT MAX(id) FROM runs").fetchone()[0] or 0
            seq_row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'runs'").fetchone()
            seq = seq_row[0] if seq_row else 0
            if max(known, seq) >= floor:
                conn.execute("COMMIT")
                return None
            if seq_row:
                conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'runs'", (floor,))
            else:
                conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('runs', ?)", (floor,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    print(f"wfrun: warning: the run store {store_path} knows no run above {max(known, seq)}, but run directories "
          f"up to {floor} exist under {home / 'jobs'} (was runs.db deleted or replaced?); new runs are numbered "
          f"from {floor + 1} and the old directories are left untouched", file=sys.stderr)
    return floor


def claim_run_dir(workflow: str, number: int, home: Path) -> RunDir:
    """Create the directory of new run ``number``; one that already exists belongs to another run: refuse."""
    base = home / "jobs" / safe_name(workflow)
    base.mkdir(parents=True, exist_ok=True)
    root = base / f"{number:05d}"
    try:
        root.mkdir()
    except FileExistsError:
        raise WorkflowError(f"run directory {root} already exists, but the run store {home / 'runs.db'} just gave "
                            f"out run number {number}: the store does not match the run directories; move one "
                            "of them aside") from None
    return RunDir(root, number, workflow)
