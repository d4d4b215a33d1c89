"""The bytes on a step's SSH channel: the bootstrap program and its control records.

No asyncssh here, so the protocol can be exercised under a local ``bash`` over pipes
(tests/unit/test_ssh_wire.py) without an sshd.

Everything that varies travels on the channel's stdin, so no secret of a step (an input
rendered into its script, an ``env:`` value) appears in a remote command line, which
every user of the host can read in ``ps``. The exec command (:func:`exec_command`) only
says how many bytes to read: ``LC_ALL=C IFS= read -r -N <n> s …; eval "$s"`` when the
remote login shell is bash (no extra process), else the same inside ``exec bash -c '…'``,
safe in any login shell (bash 3.2, which lacks ``read -N``, reads up to the NUL sent
after the bootstrap instead). The bootstrap (:func:`bootstrap`) exports
``StepCommand.env`` (``shlex.quote``\\d, so sshd's AcceptEnv plays no part), creates and
enters the working directory, keeps the script in a variable, then::

    exec 3>&2 2>&1 4<&0 </dev/null   # fd 3 = channel stderr = control records; fd 4 = the lifeline
    exec 2>/dev/null                 # the shell's job notices ("[1]+ Done") are not output
    set -m; bash -c <read fd 5, eval> bash 5<<<"$s" 2>&1 3>&- 4<&- & p=$!   # own process group, PGID = $!
    { read -u 4; kill -TERM -- -$p; sleep <grace>; kill -KILL -- -$p; } & w=$!; set +m
    printf '@@wfrun P <pgid>\\n' >&3
    wait $p; c=$?; kill -9 -- -$p -$w         # leftovers of the step die with it
    printf '@@wfrun X <code>\\n' >&3; printf '@@wfrun O\\n<$OUTPUTS bytes>' >&3

The script reaches its bash through a here-string (a pipe, or an unlinked 0600 temporary
file), never through argv; ``base.read_script`` reads it, closes fd 5 and evals it, so
the script sees what ``bash -c`` would show. wfrun never closes the channel's stdin while
the step runs: when wfrun dies (even by SIGKILL) or its connection drops, sshd closes that
pipe, the watcher's ``read`` returns, and the step's process group gets SIGTERM, then
SIGKILL — no orphan is left on the host.

Channel stdout carries the script's stdout and stderr, merged and in order; channel
stderr carries only the control records (anything else on it — e.g. a login shell's
complaint — is output). A script killed by signal N reports ``128+N`` (bash's ``$?``).
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass

from workflow_runner.targets.base import StepCommand, read_script

__all__ = ["MARK", "Record", "bootstrap", "exec_command", "parse_record", "encode_program"]

_READ = '{{ LC_ALL=C IFS= read -r -N {n} s || IFS= read -r -d "" s; }} 2>/dev/null; eval "$s"'
"""Exactly n bytes of stdin (bash 3.2, without ``-N``: up to the NUL that follows them).
The rest of stdin stays open as the step's lifeline."""
_WRAPPER = "exec bash -c '" + _READ + "'"  # any login shell other than bash
MARK = b"@@wfrun "
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def step_setup(command: StepCommand) -> tuple[list[str], str]:
    """What the per-channel bootstrap and the agent both do before a step: export its env,
    make and enter its cwd (``C`` on fd 3 if that fails), and the shell command line to exec
    (prefixed with ``env`` for names bash cannot export, so they still reach the script)."""
    q = shlex.quote
    lines = []
    env_ok = [f"{k}={q(v)}" for k, v in command.env.items() if _NAME.match(k)]
    env_odd = [q(f"{k}={v}") for k, v in command.env.items() if not _NAME.match(k)]
    if env_ok:
        lines.append("export " + " ".join(env_ok))
    fail = "{ printf '@@wfrun C\\n' >&3; exit 1; }"
    dirs = list(dict.fromkeys(d for d in (command.cwd, posixpath.dirname(command.outputs_file)) if d))
    exists = " && ".join(f"[ -d {q(d)} ]" for d in dirs)
    lines.append(f"{{ {exists}; }} || mkdir -p -- {' '.join(q(d) for d in dirs)} || {fail}")
    lines.append(f"cd -- {q(command.cwd)} || {fail}")
    shell = " ".join(q(a) for a in command.shell)
    if env_odd:
        shell = "env " + " ".join(env_odd) + " " + shell
    return lines, shell


def bootstrap(command: StepCommand) -> str:
    """The bash program that runs ``command`` remotely and reports on fd 3 (see module doc)."""
    q = shlex.quote
    setup, shell = step_setup(command)
    lines = ["exec 3>&2 2>&1 4<&0 </dev/null", *setup]
    lines.append(f"s={q(command.script)}")
    grace = max(1, int(command.grace + 0.999))
    lines += [
        "exec 2>/dev/null",  # the shell's job notices ("[1]+ Done …") are not step output
        "set -m",
        f'{shell} -c {q(read_script(5))} bash 5<<<"$s" 2>&1 3>&- 4<&- &',
        "p=$!",
        f'{{ read -r -u 4 x; kill -TERM -- "-$p"; sleep {grace}; kill -KILL -- "-$p"; }} </dev/null >/dev/null 2>&1 3>&- &',
        'w=$!; disown "$w"',
        "set +m",
        "printf '@@wfrun P %d\\n' \"$p\" >&3",
        'wait "$p" 2>/dev/null; c=$?',
        'kill -9 -- "-$p" "-$w" 2>/dev/null',
        "printf '@@wfrun X %d\\n' \"$c\" >&3",
        f"o={q(command.outputs_file)}",
        "if [ -f \"$o\" ]; then IFS= read -r -d '' x <\"$o\"; printf '@@wfrun O\\n%s' \"$x\" >&3; fi",
        'exit "$c"',
    ]
    return "\n".join(lines) + "\n"


def encode_program(program: str) -> bytes:
    """The program as stdin bytes (bash strings hold no NUL, so none is sent inside it)."""
    return program.encode("utf-8", "surrogateescape").replace(b"\0", b"")


def exec_command(encoded: bytes, *, login_shell_is_bash: bool) -> str:
    """The exec request that reads ``encoded`` (plus its trailing NUL) from stdin and runs it."""
    return (_READ if login_shell_is_bash else _WRAPPER).format(n=len(encoded))


@dataclass(frozen=True)
class Record:
    """One control line on fd 3: ``kind`` is ``P`` (pgid), ``X`` (exit code), ``C`` (cwd failed) or ``O``
    (outputs follow until the end of the stream); ``value`` is the rest of the line."""

    kind: str
    value: str


def parse_record(line: bytes) -> Record | None:
    """The control record in ``line``, or None when it is not one (then it is output)."""
    if not line.startswith(MARK):
        return None
    kind, _, value = line[len(MARK):].rstrip(b"\n").partition(b" ")
    return Record(kind.decode("ascii", "replace"), value.decode("utf-8", "replace"))


# --------------------------------------------------------------------------- the agent
# One persistent session per channel slot runs steps one after another, so a step costs one
# write and the replies — no channel open, no sshd session, no login shell per step.
#
# Loop: read a line on fd 4 (the channel's stdin); ``R`` is followed by a step body up to a
# NUL (bash strings hold no NUL), which is eval'd; any other line (a ``T``/``K`` sent just as
# a step ended) is ignored. EOF (wfrun died, the connection dropped) ends the agent.
AGENT = ("exec 3>&2 2>/dev/null 4<&0 </dev/null\n"
         "while IFS= read -r -u 4 l; do\n"
         "  case $l in R) LC_ALL=C IFS= read -r -d '' -u 4 b || exit 0; eval \"$b\";; esac\n"
         "done\n"
         "exit 0\n")


def agent_program() -> str:
    """The bash program of an agent session (sent on stdin like :func:`bootstrap`)."""
    return AGENT


def end_marker(nonce: str) -> bytes:
    """What the agent writes on stdout after a step's processes are gone: its output is complete."""
    return b"\x1e@@wfrun-end " + nonce.encode("ascii") + b"\n"


def request(command: StepCommand, nonce: str) -> bytes:
    """One step for an agent: ``R\\n`` + the step body + NUL.

    The body runs the script in its own process group (PGID = ``$p``), its exports inside
    the step's subshell so nothing reaches the next step; a watcher reads ``T``/``K`` lines
    on fd 4 (SIGTERM/SIGKILL to the group) and, at EOF — the lifeline — sends SIGTERM, waits
    ``grace`` and sends SIGKILL. The watcher is dead before the end record, so it never reads
    the next request. Replies on fd 3: ``C`` (cwd failed), ``X <code>``, ``O`` + outputs + NUL,
    ``E <nonce>``; on fd 1, :func:`end_marker`.
    """
    q = shlex.quote
    setup, shell = step_setup(command)
    inner = ["exec 2>&1", *setup]
    inner.append(f'exec 3>&- 4<&-; exec {shell} -c {q(read_script(5))} bash 5<<<"$t"')
    grace = max(1, int(command.grace + 0.999))
    body = "\n".join([
        f"t={q(command.script)}",
        "set -m",
        "( " + "\n".join(inner) + "\n) &",
        "p=$!; unset t",
        '{ while IFS= read -r -u 4 k; do case $k in T) kill -TERM -- "-$p";; K) kill -KILL -- "-$p";; esac; done;'
        f' kill -TERM -- "-$p"; sleep {grace}; kill -KILL -- "-$p"; }} </dev/null >/dev/null 2>&1 3>&- &',
        "w=$!",
        "set +m",
        'wait "$p"; c=$?',
        'kill -9 -- "-$p" "-$w"; wait "$w"',
        f"o={q(command.outputs_file)}",
        "printf '@@wfrun X %d\\n' \"$c\" >&3",
        "if [ -f \"$o\" ]; then IFS= read -r -d '' x <\"$o\"; printf '@@wfrun O\\n%s\\0' \"$x\" >&3; fi",
        f"printf '@@wfrun E %s\\n' {nonce} >&3",
        f"printf '\\036@@wfrun-end %s\\n' {nonce}",
    ])
    return b"R\n" + encode_program(body) + b"\0"
