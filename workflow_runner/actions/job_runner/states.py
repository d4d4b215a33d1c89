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
