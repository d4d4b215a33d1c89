"""Parse what a step wrote to ``$OUTPUTS``: ``key=value`` lines and ``key<<DELIM`` blocks."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from workflow_runner.errors import WorkflowError
from workflow_runner.targets.base import StepCommand


def parse_outputs(text: str) -> dict[str, str]:
    """Later keys win. Lines without ``=`` (and blank lines) are ignored, as the platform does.

    >>> parse_outputs("a=1\\nmsg<<EOF\\nline 1\\nline 2\\nEOF\\na=2\\n")
    {'a': '2', 'msg': 'line 1\\nline 2'}
    """
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        i += 1
        eq = line.find("=")
        heredoc = line.find("<<")
        if heredoc > 0 and (eq < 0 or heredoc < eq):
            key, delim = line[:heredoc].strip(), line[heredoc + 2 :].strip()
            body: list[str] = []
            while i < len(lines) and lines[i].rstrip("\r") != delim:
                body.append(lines[i].rstrip("\r"))
                i += 1
            i += 1  # the delimiter line
            if key:
                out[key] = "\n".join(body)
            continue
        if eq > 0:
            key = line[:eq].strip()
            if key:
                out[key] = line[eq + 1 :]
    return out


def scrub_outputs_file(path: str, mask: Callable[[str], str]) -> None:
    """Rewrite a local ``$OUTPUTS`` file with the run's secrets masked, once wfrun has read it.

    A step may write a password to ``$OUTPUTS``; wfrun keeps the clear value in
    memory (a later step's ``needs.<job>.outputs`` gets it) but no plain secret
    stays on disk. Bytes that are not UTF-8 survive the round trip untouched.
    Best effort: a file that is gone or unwritable is left as it is.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return
    text = data.decode("utf-8", "surrogateescape")
    hidden = mask(text)
    if hidden == text:
        return
    try:
        with open(path, "wb") as f:
            f.write(hidden.encode("utf-8", "surrogateescape"))
    except OSError:
        return


async def scrub_remote_outputs(target: Any, path: str, text: str, mask: Callable[[str], str], cwd: str, grace: float,
                               hurry: asyncio.Event | None) -> None:
    """:func:`scrub_outputs_file` for a ``$OUTPUTS`` file on an SSH host, whose ``text`` wfrun has read.

    Rewritten there with the masked text, which travels like a step's ``env:`` (never on
    a command line), only when the file held a secret; best effort like the local one.
    """
    hidden = mask(text)
    if hidden == text:
        return
    command = StepCommand(script='printf "%s" "$WFRUN_MASKED" > "$WFRUN_FILE"', env={"WFRUN_MASKED": hidden, "WFRUN_FILE": path},
                          cwd=cwd, outputs_file=path + ".scrub", grace=grace, hurry=hurry)
    try:
        await target.run(command, lambda line: None)
    except (OSError, WorkflowError):
        return
