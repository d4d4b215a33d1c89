"""Cancelling a job_runner step: the batch job (one scancel/qdel per host), then the v4.0 clean-up handler.

The handler is the user's ``cancel.sh`` in the run directory (services a session started,
containers, …), then the marker files go.
"""

from __future__ import annotations

import asyncio
from typing import Any

from workflow_runner.actions.job_runner.batch import BatchWatcher, look_up, run_command
from workflow_runner.engine.stepcall import BatchLedger, StepLog
from workflow_runner.errors import TargetError

PREPARE_GRACE = 30.0
"""Canceled while sbatch/qsub runs: how long it may go on to report the job id it submitted."""


async def cancel_submit(
    submitting: asyncio.Task, watcher: BatchWatcher, target: Any, backend: Any, name: str, rundir: str,
    log: StepLog, hurry: asyncio.Event | None, store: BatchLedger | None, batch_id: int | None,
) -> None:
    """Canceled while sbatch/qsub may be running: cancel whatever it submitted.

    The prepare command gets up to PREPARE_GRACE seconds (less after a second Ctrl-C)
    to report the job id. If it does not, it is killed and the job is looked up by its
    unique name. The store row ends CANCELLED once nothing of it is left in the queue;
    when that is unknown (the look-up failed) the row stays open, so a resume finds the
    job by name instead of submitting a second one.
    """
    if not submitting.done():
        log.note(f"canceled while submitting; waiting up to {PREPARE_GRACE:g}s for {backend.submit_name} "
                 f"to report the job id so it can be canceled")
        waits = {submitting} | ({asyncio.ensure_future(hurry.wait())} if hurry is not None else set())
        try:
            await asyncio.wait(waits, timeout=PREPARE_GRACE, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits - {submitting}:
                waiter.cancel()
    jobid: str | None = None
    if submitting.done() and not submitting.cancelled() and submitting.exception() is None:
        jobid = jobid_in(submitting.result()[1])
    if jobid is None:
        if not submitting.done():
            log.note(f"{backend.submit_name} did not finish; stopping it")
            submitting.cancel()  # the target kills its process group
            await asyncio.wait({submitting})
        try:
            jobid = await look_up(target, backend, name)
        except Exception as exc:  # noqa: BLE001 — TargetError included
            log.note(f"could not look up batch job {name} ({exc}); if it was submitted it may still be "
                     f"queued: find it by that name and cancel it by hand")
            return
        if jobid is None:
            log.note(f"no batch job named {name} was submitted")
            if store is not None and batch_id is not None:
                store.batch_finished(batch_id, "CANCELLED", None)
            return
        log.note(f"found batch job {jobid} ({name}), submitted as the step was canceled")
    short_id = jobid.split(".")[0]
    if store is not None and batch_id is not None:
        store.batch_submitted(batch_id, short_id)
    if await cancel_batch(watcher, short_id, target, rundir, log) and store is not None and batch_id is not None:
        store.batch_finished(batch_id, "CANCELLED", None)


async def cancel_batch(watcher: BatchWatcher, jobid: str, target: Any, rundir: str, log: StepLog) -> bool:
    """Cancel the job, then the v4.0 clean-up handler; whether the scheduler took the cancel."""
    log.note(f"canceling batch job {jobid}")
    try:
        canceled = await watcher.cancel(jobid)
    except Exception as exc:  # noqa: BLE001
        log.note(f"cancel of {jobid} failed: {exc}")
        canceled = False
    await after_cancel(target, rundir, log)
    return canceled


async def after_cancel(target: Any, rundir: str, log: StepLog) -> None:
    """v4.0 cleanup handler: the user's cancel.sh, then the marker files go."""
    script = (
        "if [ -f cancel.sh ]; then echo \"$(date) Running cancel.sh\"; export PATH=\"$PATH:$HOME/pw\"; bash cancel.sh || true; fi\n"
        "rm -f jobid CANCEL_STREAMING job.started HOSTNAME\n"
        "touch job.ended\n"
    )
    try:
        code, lines = await run_command(target, script, rundir, timeout=60)
        for line in lines:
            log.line(line)
    except (Exception, TargetError) as exc:  # noqa: BLE001
        log.note(f"cancel handler failed: {exc}")


def jobid_in(lines: list[str]) -> str | None:
    """The job id the prepare-and-submit command reported (``@@wfrun-jobid ID``), if any."""
    return next((l.split()[1] for l in lines if l.startswith("@@wfrun-jobid ") and len(l.split()) > 1), None)
