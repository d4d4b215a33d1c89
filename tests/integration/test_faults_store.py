"""The run store and the run directory under faults: lost, damaged, full, read-only, deleted or replaced mid-run.

Real wfrun processes; a full disk is a small tmpfs (the tests run as root), unmounted afterwards.
Every error must be one line (no traceback) that says what to do, and nothing already recorded may be lost.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from helpers import run_cli as wfrun
from helpers import wfrun_env

RUN_COMMANDS = (("runs",), ("status", "1"), ("logs", "1"), ("cancel", "1"), ("resume", "1"))


@pytest.fixture
def env(tmp_path):
    return wfrun_env(tmp_path)


def one_line_error(proc: subprocess.CompletedProcess, *expected: str) -> str:
    """The single error line of a failed command, which must contain every ``expected`` text."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def workflow(tmp_path: Path, body: str = "      - run: echo hello", name: str = "w") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"jobs:\n  a:\n    steps:\n{body}\n")
    return path


def runs_in_store(home: Path) -> list[tuple]:
    conn = sqlite3.connect(home / "runs.db")
    try:
        return conn.execute("SELECT id, status FROM runs ORDER BY id").fetchall()
    finally:
        conn.close()


def events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs, unmounted (lazily if something still holds it) at the end."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    yield mount
    if subprocess.run(["umount", str(mount)]).returncode != 0:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


# ------------------------------------------------------------------ numbering (item 2)


def test_a_lost_runs_db_never_reuses_a_run_directory(tmp_path, env):
    wf = workflow(tmp_path)
    other = workflow(tmp_path, name="other")
    home = Path(env["WFRUN_HOME"])
    assert wfrun(env, "run", wf, "-q").returncode == 0
    assert wfrun(env, "run", other, "-q").returncode == 0  # run numbers are shared by all workflows
    before = (home / "jobs" / "w" / "00001" / "events.jsonl").read_text()
    for leftover in home.glob("runs.db*"):
        leftover.unlink()
    proc = wfrun(env, "run", wf, "--no-live")
    assert proc.returncode == 0, proc.stderr
    assert "run 3 of w" in proc.stdout + proc.stderr
    assert "new runs are numbered from 3" in proc.stderr
    assert (home / "jobs" / "w" / "00001" / "events.jsonl").read_text() == before  # untouched
    assert [e["event"] for e in events(home / "jobs" / "w" / "00003")].count("RunStarted") == 1
    assert runs_in_store(home) == [(3, "completed")]
    assert wfrun(env, "run", wf, "-q").returncode == 0  # and the store counts on from there, without a warning
    assert runs_in_store(home) == [(3, "completed"), (4, "completed")]


# ------------------------------------------------------------------ damaged store (item 21)


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database\n" * 50)


def _header_only(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\0" + b"\0" * 84)


def _flipped_schema(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(120, 4000, 41):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_garbage, _header_only, _flipped_schema], ids=["garbage", "header-only", "bit-flips"])
def test_a_damaged_store_is_one_line_for_every_command_and_the_way_out_keeps_the_runs(tmp_path, env, damage):
    wf = workflow(tmp_path)
    home = Path(env["WFRUN_HOME"])
    assert wfrun(env, "run", wf, "-q").returncode == 0
    conn = sqlite3.connect(home / "runs.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for extra in home.glob("runs.db-*"):
        extra.unlink()
    damage(home / "runs.db")
    for command in RUN_COMMANDS + (("run", wf),):
        one_line_error(wfrun(env, *command), f"run store {home / 'runs.db'} is damaged", "move it aside")
    # The advice works: the damaged file moved aside, the next run starts a new store numbered after the old runs.
    (home / "runs.db").rename(home / "runs.db.broken")
    proc = wfrun(env, "run", wf, "--no-live")
    assert proc.returncode == 0, proc.stderr
    assert "run 2 of w" in proc.stdout + proc.stderr
    assert (home / "jobs" / "w" / "00001" / "run.json").is_file()


# ------------------------------------------------------------------ full disk (item 21)


def test_a_full_disk_gives_one_line_errors_and_loses_nothing_recorded(tmp_path, small_disk):
    env = {**os.environ, "WFRUN_HOME": str(small_disk / "home"), "WFRUN_CONFIG": str(tmp_path / "none")}
    wf = workflow(tmp_path)
    assert wfrun(env, "run", wf, "-q").returncode == 0
    assert wfrun(env, "run", wf, "-q").returncode == 0
    filler = fill(small_disk)
    for command in RUN_COMMANDS + (("run", wf),):
        one_line_error(wfrun(env, *command), "no space left", "free some space")
    filler.unlink()
    listing = wfrun(env, "runs")
    assert listing.returncode == 0, listing.stderr
    assert runs_in_store(small_disk / "home") == [(1, "completed"), (2, "completed")]


def test_a_disk_that_fills_during_a_run_ends_the_run_cleanly_and_keeps_its_record(tmp_path, small_disk):
    env = {**os.environ, "WFRUN_HOME": str(small_disk / "home"), "WFRUN_CONFIG": str(tmp_path / "none")}
    assert wfrun(env, "run", workflow(tmp_path), "-q").returncode == 0
    wf = workflow(tmp_path, name="fill", body="""\
      - run: echo before
      - run: |
          cat /dev/zero > "$PW_JOB_DIR/big" 2>/dev/null
          for i in $(seq 20); do echo "line $i while full"; done
      - run: rm "$PW_JOB_DIR/big"; echo after""")
    proc = wfrun(env, "run", wf, "--no-live")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "No space left on device" in proc.stderr and "the run goes on" in proc.stderr
    home = small_disk / "home"
    assert runs_in_store(home) == [(1, "completed"), (2, "completed")]
    run_dir = home / "jobs" / "fill" / "00002"
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    assert [e["event"] for e in events(run_dir)][-1] == "RunFinished"
    assert "after" in (run_dir / "logs" / "a" / "03-3.log").read_text()


# ------------------------------------------------------------------ store deleted or replaced mid-run (item 3)


@pytest.mark.parametrize("how,said", [
    ('rm -f "$WFRUN_HOME"/runs.db*', "was deleted during run 1"),
    ('cp "$WFRUN_HOME/runs.db" "$WFRUN_HOME/x" && mv "$WFRUN_HOME/x" "$WFRUN_HOME/runs.db"', "was replaced by another file"),
    ('echo garbage > "$WFRUN_HOME/runs.db"', "is damaged"),
])
def test_a_store_deleted_or_overwritten_mid_run_is_said_and_the_run_dir_keeps_the_record(tmp_path, env, how, said):
    wf = workflow(tmp_path, body=f"""\
      - run: {how}
      - run: sleep 1.5; echo done""")
    proc = wfrun(env, "run", wf, "--no-live")
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert said in proc.stderr
    run_dir = Path(env["WFRUN_HOME"]) / "jobs" / "w" / "00001"
    assert f"recorded only in its run directory {run_dir}" in proc.stderr
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "completed"
    assert [s["status"] for s in record["jobs"]["a"]["steps"]] == ["completed", "completed"]
    kinds = [e["event"] for e in events(run_dir)]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunFinished"


# ------------------------------------------------------------------ run directory deleted or replaced mid-run (item 22)


@pytest.mark.parametrize("how", ['rm -rf "$PW_JOB_DIR"', 'rm -rf "$PW_JOB_DIR" && mkdir "$PW_JOB_DIR"'],
                         ids=["deleted", "replaced"])
def test_a_run_directory_deleted_mid_run_is_said_and_the_run_finishes(tmp_path, env, how):
    wf = tmp_path / "w.yaml"
    wf.write_text(f"""
jobs:
  a:
    steps:
      - run: echo one; {how}
      - run: echo two; echo x=1 >> "$OUTPUTS"
  b:
    needs: [a]
    steps:
      - run: echo "three ${{{{ needs.a.outputs.x }}}}"
""")
    proc = wfrun(env, "run", wf, "--no-live")
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "internal error" not in proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = Path(env["WFRUN_HOME"]) / "jobs" / "w" / "00001"
    assert "vanished during the run" in proc.stderr
    assert "three 1" in proc.stdout
    assert runs_in_store(Path(env["WFRUN_HOME"])) == [(1, "completed")]
    status = wfrun(env, "status", "1")
    assert status.returncode == 0 and "completed" in status.stdout
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    kinds = [e["event"] for e in events(run_dir)]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunFinished"  # written back from the open file


# ------------------------------------------------------------------ home read-only or a file (item 21)


@pytest.fixture
def read_only_home(tmp_path):
    mount = tmp_path / "ro"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    yield mount
    if subprocess.run(["umount", str(mount)]).returncode != 0:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_read_only_or_file_home_is_one_line_for_every_command(tmp_path, read_only_home):
    wf = workflow(tmp_path)
    env = {**os.environ, "WFRUN_HOME": str(read_only_home / "home"), "WFRUN_CONFIG": str(tmp_path / "none")}
    assert wfrun(env, "run", wf, "-q").returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_home)], check=True)
    writing = RUN_COMMANDS + (("run", wf), ("fetch", wf))
    for command in writing:
        one_line_error(wfrun(env, *command), "is not writable", "point WFRUN_HOME at a writable directory")
    for command in (("validate", wf), ("inputs", wf), ("graph", wf), ("actions",)):
        assert wfrun(env, *command).returncode == 0
    as_file = {**env, "WFRUN_HOME": str(wf)}
    for command in writing + (("validate", wf), ("inputs", wf), ("graph", wf), ("actions",)):
        one_line_error(wfrun(as_file, *command), "is not a directory", "point WFRUN_HOME at a directory")


def test_after_a_lost_runs_db_a_number_whose_directory_is_free_is_used_without_a_scan(tmp_path, env):
    """Only the directory the next number would name is looked at: free, the run takes it (nothing is reused);
    taken, every run directory is listed and numbering continues above them."""
    wf = workflow(tmp_path)
    other = workflow(tmp_path, name="other")
    home = Path(env["WFRUN_HOME"])
    assert wfrun(env, "run", wf, "-q").returncode == 0  # w/00001
    assert wfrun(env, "run", other, "-q").returncode == 0  # other/00002
    for leftover in home.glob("runs.db*"):
        leftover.unlink()
    first = wfrun(env, "run", other, "--no-live")  # other/00001 is free
    assert first.returncode == 0 and "numbered from" not in first.stderr
    second = wfrun(env, "run", other, "--no-live")  # other/00002 is taken: continue above every directory
    assert second.returncode == 0 and "new runs are numbered from 3" in second.stderr
    assert sorted(p.name for p in (home / "jobs" / "other").iterdir()) == ["00001", "00002", "00003"]
    assert sorted(p.name for p in (home / "jobs" / "w").iterdir()) == ["00001"]
    assert runs_in_store(home) == [(1, "completed"), (3, "completed")]
