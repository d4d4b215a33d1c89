"""``wfrun rerun RUN --failed``: run a finished run's failed, canceled and skipped jobs again.

Decision: a re-run is a new *attempt of the same run* (GitHub Actions' "Re-run
failed jobs"), not a new run: it reuses resume's machinery (``wfrun resume``,
:func:`workflow_runner.launch.load_prior`). The run keeps its number, directory
and inputs; ``wfrun status`` lists each attempt. Jobs that completed carry over
with their outputs; every other job runs again *from its first step* (unlike
resume, which continues a job after its last completed step), and so do the
jobs that depend on them — they were skipped or canceled, never completed.
Batch jobs are not re-attached (the run had ended; for a run whose wfrun died
while batch jobs were still queued, ``wfrun resume`` re-attaches instead).
Password inputs are never stored: give them again (``--set``/``--inputs``).
"""

from __future__ import annotations

from typing import Any


def add_parser(sub: Any, run_options: Any) -> None:
    p = sub.add_parser("rerun", help="re-run a finished run's failed jobs", description=__doc__.split("\n\n")[0].strip("`")
                       + ". Completed jobs carry over (same run, next attempt); the others run again from their first step.")
    p.add_argument("run", metavar="RUN", help="run number (or 'last')")
    p.add_argument("--failed", action="store_true", required=True,
                   help="only the failed/canceled/skipped jobs and what depends on them (the only mode so far)")
    p.add_argument("--inputs", "-f", metavar="FILE", help="values for password inputs (never stored; '-' reads stdin)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE", help="a password input's value")
    run_options(p)
