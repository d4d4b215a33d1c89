"""The files an SSH connection reads (known_hosts, identity keys), checked before asyncssh reads them.

asyncssh reports a missing file as a bare ``OSError`` ("No such file or directory",
no name) and a known_hosts file that is not UTF-8 as a raw ``UnicodeDecodeError``;
either reached the user as an unhelpful one-liner. Here the error names the file,
says what it is for and how to give another one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")


def _read(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def known_hosts_problem(path: str | None, insecure: bool) -> str | None:
    """Why the known_hosts file the connection will use cannot be used, or None.

    ``None`` means asyncssh's default, ``~/.ssh/known_hosts``, which may be absent (then
    every host key is unknown, and the connection says so).
    """
    if insecure:
        return None
    given = path is not None
    target = Path(path).expanduser() if given else DEFAULT_KNOWN_HOSTS.expanduser()
    if not given and not target.exists():
        return None
    try:
        data = _read(target)
    except OSError as exc:
        return (f"cannot read the known_hosts file {target}: {exc.strerror or exc} (give an existing file with "
                "--known-hosts FILE, or 'ssh: known_hosts:' in the wfrun config)")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return (f"the known_hosts file {target} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
                "fix or replace that line (ssh-keyscan HOST prints a correct one)")
    return None


def identity_problem(paths: Iterable[object] | None) -> str | None:
    """Why one of the identity (private key) files cannot be read, or None. Key objects are not checked."""
    for item in paths or ():
        if not isinstance(item, (str, Path)):
            continue
        target = Path(item).expanduser()
        try:
            _read(target)
        except OSError as exc:
            return (f"cannot read the identity file {target}: {exc.strerror or exc} (give the private key with "
                    "--identity KEY, or 'ssh: identity_files:' in the wfrun config)")
    return None
