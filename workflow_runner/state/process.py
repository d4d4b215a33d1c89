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
    """SIGKILL the process groups of local steps a killed wfrun left running (same user, this host).

    Every run ends with this walk over /proc, so it reads raw bytes and splits an
    environment only when the token occurs in it: a few microseconds per process.
    """
    killed = set()
    needle = f"WFRUN_RUN_TOKEN={token}".encode()
    try:
        pids = os.listdir("/proc")
    except OSError:
        return 0
    for name in pids:
        if not name.isdigit():
            continue
        environ = _read_all(f"/proc/{name}/environ")
        if environ is None or needle not in environ or needle not in environ.split(b"\0"):
            continue
        try:
            pgid = os.getpgid(int(name))
            if pgid not in killed and pgid != os.getpgid(0):
                os.killpg(pgid, signal.SIGKILL)
                killed.add(pgid)
        except (ProcessLookupError, PermissionError):
            continue
    return len(killed)


def _read_all(path: str) -> bytes | None:
    """The whole file, or None when it cannot be read (a process that ended, or another user's)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)
