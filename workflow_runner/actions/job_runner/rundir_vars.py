"""``rundir: /scratch/$USER/run`` expanded as the remote shell would — on the remote side, running nothing.

The platform's job_runner writes ``cd ${{ inputs.rundir }}`` into a script, so
the remote shell expands ``$USER``, ``${SCRATCH}`` and a leading ``~`` there — as
the *remote* user. wfrun never puts an input into shell text, so it expands
them itself: the workflow's variables (``env:``, ``PW_*``, ``PWD`` = the job
directory, ``HOME`` of the remote user) first, then every other name read from
the remote environment by one small command (values come back hex-encoded, so
any byte survives).

Only plain ``$NAME``, ``${NAME}`` and a leading ``~``/``~/`` are expanded. A
command substitution (``$(…)``, backticks) is never run: it is an input error,
as is any other ``$`` form (``${X:-d}``, ``$1``) — a directory literally named
``$(whoami)`` is always a mistake. A variable that is unset on the host is an
error too, where the shell would silently expand it to nothing
(``$SCRATCHDIR/run`` would become ``/run``) — except ``USER`` and ``LOGNAME``,
which are ``id -un`` on the host when unset (cron, containers), so the seed's
``/scratch/$USER/…`` works there too.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from workflow_runner.engine.context import expand_path
from workflow_runner.errors import InputError, Location

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
VARIABLE = re.compile(rf"\$(?:\{{({NAME})\}}|({NAME}))")


def rundir_problem(text: str) -> str | None:
    """Why ``text`` cannot be a rundir (a command substitution or another ``$`` form), or None."""
    if "`" in text or "$(" in text:
        return (f"rundir {text!r} contains a command substitution; wfrun never runs it "
                f"(only $NAME, ${{NAME}} and a leading ~ are expanded)")
    rest = VARIABLE.sub("", text)
    if "$" in rest:
        return f"rundir {text!r}: only $NAME, ${{NAME}} and a leading ~ are expanded (got another '$' form)"
    return None


def names_in(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1) or m.group(2) for m in VARIABLE.finditer(text)))


def remote_query(names: list[str]) -> str:
    """Shell text printing ``NAME=<hex of its value>`` for each name set on the host (names are validated)."""
    listed = " ".join(n for n in names if re.fullmatch(NAME, n))
    return (f"for n in {listed}; do v=; if [ -n \"${{!n+x}}\" ]; then v=${{!n}}; "
            "elif [ \"$n\" = USER ] || [ \"$n\" = LOGNAME ]; then v=$(id -un) || continue; else continue; fi; "
            "printf '%s=' \"$n\"; printf '%s' \"$v\" | od -An -v -tx1 | tr -d ' \\n'; echo; done")


def parse_remote(lines: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in lines:
        name, sep, hexed = line.strip().partition("=")
        if sep and re.fullmatch(NAME, name):
            try:
                values[name] = bytes.fromhex(hexed).decode("utf-8", "surrogateescape")
            except ValueError:
                continue
    return values


async def expand_rundir(text: str, known: Mapping[str, str], home: str, run: Any, host: str, where: Location | None) -> str:
    """``text`` with its variables expanded; ``run(script) -> (code, lines)`` runs a command on the host."""
    problem = rundir_problem(text)
    if problem:
        raise InputError(f"job_runner: {problem}", location=where)
    wanted = [n for n in names_in(text) if n not in known]
    remote: dict[str, str] = {}
    if wanted:
        code, lines = await run(remote_query(wanted))
        if code != 0:
            raise InputError(f"job_runner: rundir {text!r}: could not read ${wanted[0]} on {host} (exit code {code})",
                             location=where)
        remote = parse_remote(lines)
    missing = [n for n in wanted if n not in remote]
    if missing:
        raise InputError(f"job_runner: rundir {text!r}: ${missing[0]} is not set on {host}", location=where)
    return expand_path(text, {**remote, **known}, home)
