"""Processes of a run: is the wfrun that owns it alive (pid + kernel start time, so a reused pid is told
apart), and which step processes a dead one left (found by the run token in their environment)."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path


def process_start(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), to tell a reused pid apart; None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:
        return int(data[data.rindex(b")") + 2 :].split()[19])
    except (ValueError, IndexError):
        return None


def pid_alive(pid: int, start: int | None = None) -> bool:
    """Is ``pid`` a live (non-zombie) process on this host — the same one that started at ``start``?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc (not Linux): kill(0) is all we know
    fields = data[data.rindex(b")") + 2 :].split()
    if fields[:1] in ([b"Z"], [b"X"]):
        return False
    if start is not None:
        try:
            return int(fields[19]) == start
        except (ValueError, IndexError):
            return True
    return True


def run_token(store_path: Path, run: int) -> str:
    """The ``WFRUN_RUN_TOKEN`` every step of run ``run`` of the store at ``store_path`` gets in its environment."""
    return hashlib.sha1(f"{store_path.resolve()}#{run}".encode()).hexdigest()[:16]


def kill_leftovers(token: str) -> int:
    """SIGKILL the process groups of local steps a killed wfrun left running (same user, this host)."""
    killed = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"WFRUN_RUN_TOKEN={token}".encode() in environ.split(b"\0"):
            try:
                pgid = os.getpgid(int(entry.name))
                if pgid not in killed and pgid != os.getpgid(0):
                    os.killpg(pgid, signal.SIGKILL)
                    killed.add(pgid)
            except (ProcessLookupError, PermissionError):
                continue
    return len(killed)
