"""Which command a ``wfrun`` command line means, before argparse sees it.

``wfrun FILE …`` is short for ``wfrun run FILE …``, so argparse alone cannot
tell a mistyped command (``wfrun vaildate x.yaml``) from a workflow file and
would say "unrecognized arguments" or "file not found"; options before the
file (``wfrun -j 2 wf.yaml``) would be "invalid choice".
"""

from __future__ import annotations

import os

from workflow_runner.errors import WorkflowError, did_you_mean

COMMANDS = ("run", "resume", "rerun", "validate", "inputs", "graph", "schema", "actions", "fetch", "runs", "status", "logs", "cancel",
            "sessions", "serve")
TOP_OPTIONS = ("-h", "--help", "--version")


def route(argv: list[str]) -> list[str]:
    """``wfrun FILE …`` and ``wfrun -j 2 FILE …`` mean ``wfrun run …``; a mistyped command is an error.

    A first word that is not a command, not an existing file and close to a
    command name (``vaildate``, ``statsu``) is a typo, not a missing workflow.
    """
    if not argv or argv[0] in COMMANDS or argv[0] in TOP_OPTIONS:
        return argv
    first = argv[0]
    if not first.startswith("-") and not os.path.lexists(first) and "/" not in first and not first.endswith((".yaml", ".yml")):
        hint = did_you_mean(first, COMMANDS)
        if hint:
            raise WorkflowError(f"unknown command '{first}'{hint}")
    return ["run", *argv]
