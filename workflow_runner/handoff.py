"""How ``wfrun run --detach`` hands its arguments to the background process: on stdin, not on its command line.

Any user of the machine can read a process's command line (``ps``, ``/proc/PID/cmdline``)
for as long as it runs, and a detached run may run for days. So the parent starts
``python -m workflow_runner.detached RUN`` — the run number is all ``ps`` shows —
and writes the real argument list (``--set pw=…`` included) as JSON to the
child's stdin, which the child then points at ``/dev/null`` like before.

The child's entry point is :mod:`workflow_runner.detached` (it imports ``cli``); this module
imports nothing of wfrun's upper layers, so ``launch`` can use it without an import cycle.
"""

from __future__ import annotations

import json
import os
import sys


def read_argv() -> list[str]:
    """The argument list the parent wrote on stdin; stdin is ``/dev/null`` afterwards.

    When the parent read ``--inputs -`` (``wfrun serve`` starts runs that way),
    that text comes along and is what ``--inputs -`` reads here.
    """
    data = sys.stdin.buffer.read()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    message = json.loads(data.decode("utf-8", "surrogateescape")) if data else None
    argv = message.get("argv") if isinstance(message, dict) else None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise SystemExit("wfrun: the detached run's arguments are missing on stdin (start it with wfrun run --detach)")
    if isinstance(message.get("stdin"), str):
        from workflow_runner.inputs import provide_stdin

        provide_stdin(message["stdin"])
    return argv


def handoff(argv: list[str], stdin: str | None = None) -> bytes:
    """What :func:`read_argv` reads: ``argv`` (and ``stdin``) as JSON (lone surrogates from undecodable arguments survive)."""
    return json.dumps({"argv": argv, "stdin": stdin}).encode("utf-8", "surrogateescape")
