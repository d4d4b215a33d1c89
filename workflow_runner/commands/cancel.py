"""``wfrun cancel RUN``: flag a run canceled, signal its wfrun, wait; clean up after a wfrun that died."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import TextIO

from workflow_runner.commands.lookup import resolve_run
from workflow_runner.errors import WorkflowError
from workflow_runner.state.rows import RunRow
from workflow_runner.state.store import RunStore


def cancel_run(store: RunStore, run: int | str, *, wait: float = 60.0, out: TextIO | None = None, poll: float = 0.2) -> int:
    """Flag the run canceled in the store, SIGTERM its wfrun if it lives on this host, wait until it is final."""
    out = out or sys.stdout
    row = resolve_run(store, run)
    row = store.refresh_liveness(row.id) or row
    if row.final:
        out.write(f"run {row.id} already finished: {row.status}" + (f" (exit {row.exit_code})" if row.exit_code is not None else "") + "\n")
        return stop_leftovers_of_dead_run(store, row, out) if row.status == "interrupted" else 0
    store.request_cancel(row.id)
    if row.hostname == store.hostname and row.pid:
        if row.pid == os.getpid():
            raise WorkflowError(f"run {row.id} belongs to this very process (pid {row.pid})")
        try:
            os.kill(row.pid, signal.SIGTERM)
        except ProcessLookupError:
            out.write(f"run {row.id}: cancel requested; its wfrun (pid {row.pid}) has already exited\n")
        except PermissionError:
            raise WorkflowError(f"run {row.id}: cannot signal its wfrun (pid {row.pid}): permission denied") from None
        else:
            out.write(f"run {row.id}: cancel requested; sent SIGTERM to its wfrun (pid {row.pid})\n")
    else:
        out.write(f"run {row.id}: cancel requested in the run store; its wfrun runs on {row.hostname or 'another host'}"
                  f" (pid {row.pid}) and stops when it next checks the store\n")
    out.flush()
    if wait <= 0:
        return 0
    deadline = time.monotonic() + wait
    while True:
        current = store.refresh_liveness(row.id) or row
        if current.final:
            code = f" (exit {current.exit_code})" if current.exit_code is not None else ""
            note = ": its wfrun exited without recording an outcome" if current.status == "interrupted" else ""
            out.write(f"run {row.id} {current.status}{code}{note}\n")
            return stop_leftovers_of_dead_run(store, current, out) if current.status == "interrupted" else 0
        if time.monotonic() >= deadline:
            out.write(f"run {row.id} is still {current.status} after {wait:g}s (cleanups may still be running;"
                      f" see 'wfrun status {row.id}')\n")
            return 1
        time.sleep(poll)


def stop_leftovers_of_dead_run(store: RunStore, row: RunRow, out: TextIO) -> int:
    """A run whose wfrun died (kill -9, crash) leaves its steps' processes and batch jobs: stop them all.

    Local step processes are found by the run token in their environment, as ``wfrun resume``
    finds them (only on the host that ran the run); batch jobs from the store's records.
    """
    from workflow_runner.actions.job_runner.recovery import cancel_leftover_batch_jobs
    from workflow_runner.state.process import kill_leftovers, run_token

    if row.hostname == store.hostname:
        killed = kill_leftovers(run_token(store.path, row.id))
        if killed:
            out.write(f"run {row.id}: its wfrun is gone; stopped {killed} process group(s) its steps left running\n")
            out.flush()
    else:
        out.write(f"run {row.id}: ran on {row.hostname or 'another host'}; its local step processes there cannot "
                  "be reached from here\n")
    return cancel_leftover_batch_jobs(store, row, out)
