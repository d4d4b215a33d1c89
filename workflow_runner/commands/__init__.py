"""``wfrun runs``, ``wfrun status RUN``, ``wfrun logs RUN [JOB[/STEP]] [-f]``, ``wfrun cancel RUN``, ``wfrun sessions``, and the
other subcommands that live outside ``cli.py`` (each module offers ``add_parser(s)(subparsers)``).

runs/status/logs/cancel read (and, for cancel, flag) the run store ``$WFRUN_HOME/runs.db``, so they
work from any terminal while a run goes on. RUN is a run number or ``last``.

This module is argparse only: ``wfrun``'s start-up builds every sub-parser, and must not pay for
the run store (sqlite3, asyncio) to do it. Each handler imports its command module when it runs.

Wiring in ``cli.py``::

    from workflow_runner import commands
    commands.add_parsers(sub)                    # in build_parser()
    if args.command in commands.NAMES:           # in main(), inside the try
        return commands.main(args)
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

NAMES = ("runs", "status", "logs", "cancel", "sessions")


def _runs(a: argparse.Namespace, store: Any, out: TextIO) -> int:
    from workflow_runner.commands.runs import show_runs

    return show_runs(store, limit=a.limit, as_json=a.json, out=out)


def _status(a: argparse.Namespace, store: Any, out: TextIO) -> int:
    from workflow_runner.commands.status import show_status

    return show_status(store, a.run, as_json=a.json, out=out)


def _logs(a: argparse.Namespace, store: Any, out: TextIO) -> int:
    from workflow_runner.commands.logs import show_logs

    return show_logs(store, a.run, a.select, follow=a.follow, out=out)


def _cancel(a: argparse.Namespace, store: Any, out: TextIO) -> int:
    from workflow_runner.commands.cancel import cancel_run

    return cancel_run(store, a.run, wait=a.wait, out=out)


def _sessions(a: argparse.Namespace, store: Any, out: TextIO) -> int:
    from workflow_runner.commands.sessions import show_sessions

    return show_sessions(store, as_json=a.json, out=out)


def add_parsers(sub: Any) -> None:
    """Register runs, status, logs and cancel on an ``add_subparsers()`` object."""
    p = sub.add_parser("runs", help="list recent runs", description="List recent runs, newest first.")
    p.add_argument("--limit", "-n", type=int, default=20, metavar="N", help="show the N newest runs (default 20; 0 = all)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(runs_handler=_runs)

    p = sub.add_parser("status", help="show a run's jobs and steps",
                       description="Show a run's jobs and steps: status, attempts, exit codes, durations, hosts, batch jobs, logs.")
    p.add_argument("run", metavar="RUN", help="run number (see 'wfrun runs'), or 'last'")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(runs_handler=_status)

    p = sub.add_parser("logs", help="print step logs", description=(
        "Print the logs of a run's steps, in order. JOB alone selects all its steps; STEP is a step name or its "
        "1-based number (a step's cleanup log comes with it). With several logs, lines are prefixed by [job/step]."))
    p.add_argument("run", metavar="RUN", help="run number (see 'wfrun runs'), or 'last'")
    p.add_argument("select", nargs="?", metavar="JOB[/STEP]", help="only this job, or this step of it")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new lines until the run ends")
    p.set_defaults(runs_handler=_logs)

    p = sub.add_parser("cancel", help="cancel a running run", description=(
        "Cancel a run started by another wfrun: mark it in the run store and send its wfrun SIGTERM "
        "(it cancels like Ctrl-C: steps stop, cleanups run), then wait until it has finished."))
    p.add_argument("run", metavar="RUN", help="run number (see 'wfrun runs'), or 'last'")
    p.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                   help="wait this long for the run to finish (default 60; 0 = do not wait)")
    p.set_defaults(runs_handler=_cancel)

    p = sub.add_parser("sessions", help="list the open sessions of live runs", description=(
        "List the interactive sessions (parallelworks/update-session) that live runs hold open: "
        "their links, the service each forwards to, and where the tunnel starts."))
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(runs_handler=_sessions)


def main(args: argparse.Namespace, *, store: Any = None, out: TextIO | None = None) -> int:
    """Run the subcommand ``args`` was parsed for (by a parser built with :func:`add_parsers`); ``store``: a RunStore."""
    from workflow_runner.state.store import RunStore

    own = store is None
    store = store or RunStore()
    try:
        return args.runs_handler(args, store, out or sys.stdout)
    finally:
        if own:
            store.close()
