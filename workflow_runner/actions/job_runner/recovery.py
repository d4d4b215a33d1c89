"""Cancel the batch jobs a dead wfrun left, from the run store's write-ahead records.

Used by ``wfrun cancel`` on an interrupted run. It lives with the job_runner because it
speaks its schedulers (:mod:`.batch`); the SSH options come from :mod:`workflow_runner.targets.sshopts`.
"""

from __future__ import annotations

import asyncio
from typing import Any, TextIO

from workflow_runner.errors import WorkflowError
from workflow_runner.state.rows import RunRow
from workflow_runner.state.store import RunStore


def cancel_leftover_batch_jobs(store: RunStore, row: RunRow, out: TextIO) -> int:
    """A run whose wfrun died cannot cancel its batch jobs: do it from the store's write-ahead records.

    Only this host's wfrun run store knows them; jobs on an SSH host are reached
    with the SSH options the run was started with (known_hosts, identity files),
    else those of the user config's ``ssh:``, else the defaults. 1 when some
    could not be cancelled (they are listed, for scancel/qdel by hand).
    """
    leftovers = [b for b in store.batch_jobs(row.id) if b.finished_at is None]
    if not leftovers:
        return 0
    out.write(f"run {row.id}: its wfrun is gone; cancelling the {len(leftovers)} batch job(s) it left\n")
    out.flush()
    ssh = _ssh_of(row)
    failed = asyncio.run(_cancel_batch_rows(store, leftovers, out, ssh))
    ended = {b.id for b in store.batch_jobs(row.id) if b.finished_at is not None}
    asyncio.run(_remove_env_files([b for b in leftovers if b.id in ended], out, ssh))
    return 1 if failed else 0


async def _remove_env_files(rows: list[Any], out: TextIO, ssh: Any) -> None:
    """The job's environment file (secrets included, jobenv.py) goes with the job, as when wfrun ends a step."""
    import shlex

    from workflow_runner.actions.job_runner.batch import run_command
    from workflow_runner.actions.job_runner.jobenv import env_file
    from workflow_runner.targets.select import Targets

    targets = Targets(ssh)
    hosts: dict[str, list[str]] = {}
    for b in rows:
        if b.rundir:
            hosts.setdefault(b.host, []).append(shlex.quote(env_file(b.rundir, b.job_name)))
    try:
        for host, files in hosts.items():
            name, _, jump = host.partition(" via ")
            try:
                code, _ = await run_command(targets.get("" if host == "local" else name, jump or None), "rm -f " + " ".join(files), "/", 30)
            except (WorkflowError, OSError, TimeoutError):
                code = 1
            if code != 0:
                out.write(f"  could not remove {' '.join(files)} on {host}: remove it by hand, it holds the job's environment\n")
    finally:
        await targets.aclose()


def _ssh_of(row: RunRow) -> Any:
    """The SSH options to reach a dead run's hosts: the ones it ran with, else the user config's ``ssh:``."""
    from workflow_runner.targets.sshopts import ssh_options
    from workflow_runner.targets.select import SSHOptions
    from workflow_runner.userconfig import load_user_config

    chosen = ssh_options({}, row.ssh or {}, load_user_config().ssh)
    return SSHOptions(known_hosts=chosen["known_hosts"], identity_files=chosen["identities"],
                      insecure_no_host_key_check=chosen["insecure_no_host_key_check"])


async def _cancel_batch_rows(store: RunStore, rows: list[Any], out: TextIO, ssh: Any = None) -> int:
    from workflow_runner.actions.job_runner.batch import BACKENDS, BatchWatcher, look_up
    from workflow_runner.targets.select import Targets

    targets = Targets(ssh) if ssh is not None else Targets()
    failed = 0
    groups: dict[tuple[str, str], list[Any]] = {}
    for b in rows:
        groups.setdefault((b.host, b.scheduler), []).append(b)
    try:
        for (host, scheduler), batch in groups.items():
            backend = BACKENDS[scheduler]()
            where = "" if host == "local" else f" on {host}"
            notes: list[str] = []
            try:
                name, _, jump = host.partition(" via ")  # SSHTarget.name of a step behind a jump host
                target = targets.get("" if host == "local" else name, jump or None)
                ids: dict[str, Any] = {}
                for b in batch:
                    jobid = b.jobid
                    if not jobid:  # intent recorded, id not: look it up by its unique name
                        jobid = await look_up(target, backend, b.job_name)
                    if jobid:
                        ids[jobid.split(".")[0]] = b
                    else:
                        store.batch_finished(b.id, "NEVER_SUBMITTED", None)
                # The watcher's cancel: one scancel/qdel for all, retried for the ones still active
                # (qdel fails for jobs that already ended; those count as done).
                watcher = BatchWatcher(target, backend, "/", 1.0, notes.append)
                results = await asyncio.gather(*(watcher.cancel(jobid) for jobid in ids))
                for (jobid, b), ok in zip(ids.items(), results):
                    if ok:
                        store.batch_finished(b.id, "CANCELLED", None)
                left = [jobid for (jobid, _), ok in zip(ids.items(), results) if not ok]
                if ids:
                    out.write(f"  {backend.cancel(sorted(ids))}{where}: "
                              + ("done" if not left else f"{len(left)} could not be cancelled: {notes[-1] if notes else ''}") + "\n")
                failed += len(left)
            except (WorkflowError, OSError, TimeoutError) as exc:
                failed += len(batch)
                listed = ", ".join(b.jobid or b.job_name for b in batch)
                out.write(f"  could not cancel {scheduler} job(s) {listed}{where}: {exc}\n")
    finally:
        await targets.aclose()
    return failed
