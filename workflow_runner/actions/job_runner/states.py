"""What the batch watcher knows of a job, and the scheduler states job_runner v4.0 tells apart.

Shared by the watcher (:mod:`.batch`) and the scheduler backends (:mod:`.slurm`, :mod:`.pbs`),
which decide from these how a job ended.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

SLURM_ACTIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING",
                "SIGNALING", "STAGE_OUT", "STOPPED", "REQUEUE_FED", "REQUEUE_HOLD", "SPECIAL_EXIT", "RESV_DEL_HOLD"}
SLURM_FAILURE = {"FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED"}
SLURM_GRACEFUL = {"TIMEOUT", "CANCELLED"}
"""States job_runner v4.0 reports as ended 'gracefully' (exit 0), with the state named."""
RELAUNCH_STATES = {"NODE_FAIL", "PREEMPTED", "BOOT_FAIL"}
"""Ends that are the machine's fault, not the script's: job_runner resubmits (max_relaunches)."""
NEVER_STARTS = {
    "PartitionConfig": "no node of its partition can give what it asks for (cpus_per_task, mem, gres)",
    "PartitionNodeLimit": "it asks for more nodes than its partition allows",
    "PartitionTimeLimit": "its time limit is over its partition's",
    "BadConstraints": "its constraints cannot be met",
    "InvalidAccount": "its account is not valid here",
    "InvalidQOS": "its QOS is not valid here",
    "DependencyNeverSatisfied": "a job it depends on can no longer end as required",
}
"""Slurm pending reasons that waiting does not clear (job_runner v4.0 waits for ever; wfrun says so once).
v4.0's own default ``cpus_per_task: 4`` on nodes of 2 CPUs is the common case: PartitionConfig."""


def never_starts(jobid: str, reason: str) -> str | None:
    """A warning for a job whose pending reason will not clear by waiting, else None."""
    why = NEVER_STARTS.get(reason)
    if why is None:
        return None
    return (f"warning: batch job {jobid} may never start: Slurm holds it as {reason}: {why}. "
            f"Cancel the run and change the job's request (with: slurm:), or ask the cluster's admins")


@dataclass
class Final:
    """How a batch job ended."""

    state: str
    exit_code: int | None
    node: str = ""
    tasks: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    """Array jobs: task id → (state, exit code)."""
    detail: str = ""
    """How the state was learnt when that is not obvious (PBS without a server exit status)."""


@dataclass
class Tracked:
    jobid: str
    exit_file: str
    array: bool
    future: asyncio.Future
    last_state: str = "PENDING"
    node: str = ""
    on_change: Any = None
    """Callable(str) told about state/reason changes, e.g. 'PENDING (PartitionConfig)'."""
    shown: str = ""
    running_since: float | None = None
    """Monotonic time the watcher first saw the job running (PBS: to tell a walltime kill from a qdel)."""
