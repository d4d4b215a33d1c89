"""Cancelling a job_runner step: the batch job (one scancel/qdel per host), then the v4.0 clean-up handler.

The handler is the user's ``cancel.sh`` in the run directory (services a session started,
containers, …), then the marker files go.
"""

from __future__ import annotations

import asyncio
import shlex
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
    """Cancel the job and run the v4.0 clean-up handler; whether the scheduler took the cancel.

    As v4.0: the user's ``cancel.sh`` runs on the job's compute node first, while the job
    still holds it (clusters often let a user onto a node only then), and the job is
    cancelled after. When no node is known or it cannot be reached, ``cancel.sh`` runs on
    the login host after the cancel instead (:func:`cancel_on_node`).
    """
    log.note(f"canceling batch job {jobid}")
    handled = await cancel_on_node(target, rundir, watcher.node_of(jobid), log)
    try:
        canceled = await watcher.cancel(jobid)
    except Exception as exc:  # noqa: BLE001
        log.note(f"cancel of {jobid} failed: {exc}")
        canceled = False
    await after_cancel(target, rundir, log, run_cancel_sh=not handled)
    return canceled


NODE_SSH = "ssh -n -o BatchMode=yes -o ConnectTimeout=10"
"""The hop from the login host to the node, as v4.0 makes it: the login host's own ssh and its
configuration (keys, known_hosts, host-based auth of the cluster); never a prompt."""
NODE_TIMEOUT = 90.0


def node_script(rundir: str, scheduler_node: str) -> str:
    """Run on the login host in the run directory: ``cancel.sh`` on the job's compute node.

    The node is the one the job wrote to its ``HOSTNAME`` marker (``hostname`` on the node),
    else the one the scheduler reported. ``@@wfrun-node`` lines tell :func:`cancel_on_node`
    what happened. ssh exits 255 when it cannot connect; 254 means the run directory is
    not on the node (no shared file system): both fall back to the login host.
    """
    q = shlex.quote
    remote = (f"cd {q(rundir)} 2>/dev/null || exit 254; export PATH=\"$PATH:$HOME/pw\"; "
              "bash cancel.sh; c=$?; [ $c -lt 254 ] || c=253; exit $c")
    return f"""[ -f cancel.sh ] || {{ echo "@@wfrun-node no-script"; exit 0; }}
node=$(head -n 1 HOSTNAME 2>/dev/null | tr -d '[:space:]')
[ -n "$node" ] || node={q(scheduler_node)}
[ -n "$node" ] || {{ echo "@@wfrun-node none"; exit 0; }}
case "$node" in -*|*[!A-Za-z0-9._-]*) echo "@@wfrun-node invalid"; exit 0;; esac
if [ "$node" = "$(hostname)" ] || [ "$node" = "$(hostname -s 2>/dev/null)" ] || [ "$node" = "$(hostname -f 2>/dev/null)" ]; then
  echo "@@wfrun-node self $node"
  export PATH="$PATH:$HOME/pw"
  bash cancel.sh
  echo "@@wfrun-node exit $?"
  exit 0
fi
echo "@@wfrun-node ssh $node"
{{ err=$({NODE_SSH} -- "$node" {q(remote)} 2>&1 1>&3); rc=$?; }} 3>&1
if [ $rc -eq 255 ] || [ $rc -eq 254 ]; then
  printf '@@wfrun-node unreachable %s %s\\n' "$rc" "$(printf '%s\\n' "$err" | grep -v '^$' | tail -n 1)"
  exit 0
fi
[ -z "$err" ] || printf '%s\\n' "$err"
echo "@@wfrun-node exit $rc"
"""


async def cancel_on_node(target: Any, rundir: str, scheduler_node: str, log: StepLog) -> bool:
    """``cancel.sh`` on the compute node; True when nothing is left for the login host to run.

    False (the login host runs it after the cancel, with a warning saying why) when the job
    named no node (it never started), the name is not a host name, ssh from the login host
    cannot reach the node, or the run directory is not there.
    """
    try:
        _code, lines = await run_command(target, node_script(rundir, scheduler_node), rundir, timeout=NODE_TIMEOUT)
    except TimeoutError:
        log.note(f"cancel.sh on the compute node did not finish within {NODE_TIMEOUT:g}s; not running it again")
        return True
    except (Exception, TargetError) as exc:  # noqa: BLE001
        log.note(f"could not run cancel.sh on the compute node ({exc}); running it on {target.name}")
        return False
    node, done = "", True
    for line in lines:
        if not line.startswith("@@wfrun-node "):
            log.line(line)
            continue
        word, _, rest = line[len("@@wfrun-node "):].partition(" ")
        if word in ("self", "ssh"):
            node = rest
            where = " (the login host itself)" if word == "self" else f" (ssh from {target.name})"
            log.note(f"running cancel.sh on compute node {node}{where}")
        elif word == "exit" and rest not in ("0", ""):
            log.note(f"cancel.sh on {node} exited with code {rest}")
        elif word == "none":
            log.note(f"the job named no compute node (it had not started); running cancel.sh on {target.name}")
            done = False
        elif word == "invalid":
            log.note(f"warning: the job's HOSTNAME marker is not a host name; running cancel.sh on {target.name} instead")
            done = False
        elif word == "unreachable":
            code, _, why = rest.partition(" ")
            reason = "the run directory is not on it" if code == "254" else (why.strip() or "ssh failed")
            log.note(f"warning: cannot reach compute node {node} from {target.name} ({reason}); "
                     f"running cancel.sh on the login host {target.name} instead")
            done = False
    return done


async def after_cancel(target: Any, rundir: str, log: StepLog, run_cancel_sh: bool = True) -> None:
    """The rest of v4.0's cleanup handler: the user's cancel.sh here (unless it ran on the node), then the markers go."""
    script = (
        ("if [ -f cancel.sh ]; then echo \"$(date) Running cancel.sh\"; export PATH=\"$PATH:$HOME/pw\"; bash cancel.sh || true; fi\n"
         if run_cancel_sh else "")
        + "rm -f jobid CANCEL_STREAMING job.started HOSTNAME\n"
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
