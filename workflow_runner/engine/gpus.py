"""Which GPUs this machine offers to local jobs, by id, and what a job that holds some of them sees.

A GPU is not a number in a counter: two jobs that each hold "one GPU" must not both
see ``CUDA_VISIBLE_DEVICES=0,1`` and both run on GPU 0. So the pool hands out ids,
and every local step process gets the visibility variables of exactly the ids its
job holds — and none of them when its job asked for no GPU (a job that asked for no
GPU must not grab all of them).

Where the ids come from (``detect``): ``CUDA_VISIBLE_DEVICES`` if set; else
``ROCR_VISIBLE_DEVICES``/``HIP_VISIBLE_DEVICES`` (ROCm); else ``nvidia-smi -L``;
else the ROCm kernel driver's topology in ``/sys/class/kfd``. ``--gpus`` overrides
it: ``--gpus 0,1,3`` names ids, ``--gpus 3,`` names the single id 3, ``--gpus N``
offers N (the first N detected ids, or ``0..N-1`` when fewer were detected).
When no GPU was found and ``--gpus`` was not given, wfrun leaves the variables alone.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import Mapping, Sequence

from workflow_runner.errors import WorkflowError
from workflow_runner.records import ReadOnly, frozen

_ID = r"^[A-Za-z0-9][A-Za-z0-9_:.-]*$"
"""A device id: an index (3) or a UUID (GPU-8f…, MIG-…); never shell text (compiled by ``re`` on first use)."""

CUDA, ROCM = "cuda", "rocm"


@frozen
class Gpus(ReadOnly):
    """The GPUs this machine offers jobs, and whether wfrun manages their visibility variables."""

    ids: tuple[str, ...] = ()
    vendor: str = CUDA
    managed: bool = False
    """Whether wfrun sets the visibility variables of local steps (GPUs found, or ``--gpus`` given)."""


def _ids(text: str) -> list[str]:
    return [d.strip() for d in text.split(",") if d.strip() and d.strip() != "-1"]


def detect(environ: Mapping[str, str] | None = None) -> Gpus:
    env = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in env and "ROCR_VISIBLE_DEVICES" not in env and "HIP_VISIBLE_DEVICES" not in env:
        return Gpus(tuple(_ids(env["CUDA_VISIBLE_DEVICES"])), CUDA, True)
    if "ROCR_VISIBLE_DEVICES" in env or "HIP_VISIBLE_DEVICES" in env:
        return Gpus(tuple(_rocm_ids(env)), ROCM, True)
    count = _nvidia_count()
    if count:
        return Gpus(tuple(str(i) for i in range(count)), CUDA, True)
    count = _kfd_count()
    if count:
        return Gpus(tuple(str(i) for i in range(count)), ROCM, True)
    return Gpus()


def _rocm_ids(env: Mapping[str, str]) -> list[str]:
    """ROCR_VISIBLE_DEVICES is applied first; HIP_VISIBLE_DEVICES (or CUDA_VISIBLE_DEVICES) indexes what it left."""
    rocr = _ids(env["ROCR_VISIBLE_DEVICES"]) if "ROCR_VISIBLE_DEVICES" in env else None
    hip_text = env.get("HIP_VISIBLE_DEVICES", env.get("CUDA_VISIBLE_DEVICES"))
    hip = _ids(hip_text) if hip_text is not None else None
    if rocr is None:
        return hip or []
    if hip is None:
        return rocr
    return [rocr[int(h)] for h in hip if h.isdigit() and int(h) < len(rocr)]


def _on_path(name: str) -> bool:
    """Whether an executable ``name`` is on PATH (what ``shutil.which`` answers; shutil, with its bz2 and
    lzma, would be imported by every run just for this)."""
    return any(os.access(os.path.join(folder, name), os.X_OK) and not os.path.isdir(os.path.join(folder, name))
               for folder in os.get_exec_path() if folder)


def _nvidia_count() -> int:
    if not _on_path("nvidia-smi"):
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def _kfd_count() -> int:
    """GPU agents of the ROCm driver: topology nodes with SIMD units (CPU nodes have none)."""
    if not os.path.isdir("/sys/class/kfd"):  # no ROCm driver (most machines): no glob to load
        return 0
    from glob import glob

    count = 0
    for path in sorted(glob("/sys/class/kfd/kfd/topology/nodes/*/properties")):
        try:
            with open(path) as f:
                if any(line.split()[:1] == ["simd_count"] and line.split()[1] != "0" for line in f if line.strip()):
                    count += 1
        except (OSError, IndexError):
            continue
    return count


def from_option(text: str | None, found: Gpus) -> Gpus:
    """``--gpus``: a count (``2``) or ids (``0,1,3``; one id alone as ``3,``); None keeps what was detected."""
    if text is None:
        return found
    value = str(text).strip()
    if value.isdigit():
        n = int(value)
        ids = found.ids[:n] if n <= len(found.ids) else tuple(str(i) for i in range(n))
        return Gpus(ids, found.vendor, True)
    ids = [d.strip() for d in value.split(",") if d.strip()]
    if not ids:
        raise WorkflowError(f"--gpus: expected a number of GPUs or a comma-separated list of GPU ids, got '{value}'")
    for d in ids:
        if not re.match(_ID, d):
            raise WorkflowError(f"--gpus: '{d}' is not a GPU id (use a count like 2, or ids like 0,1,3)")
    if len(set(ids)) != len(ids):
        raise WorkflowError(f"--gpus: '{value}' names a GPU twice")
    return Gpus(tuple(ids), found.vendor, True)


def visibility(gpus: Gpus, held: Sequence[str]) -> dict[str, str]:
    """The variables a local step process gets: exactly the ids its job holds (none: no GPU at all).

    CUDA: ``CUDA_VISIBLE_DEVICES`` = the ids ("" hides every GPU). ROCm:
    ``ROCR_VISIBLE_DEVICES`` = the ids (``-1`` for none), and HIP_VISIBLE_DEVICES and
    CUDA_VISIBLE_DEVICES (which HIP also reads, after ROCR) = ``0..k-1``: all that ROCR
    left, so a value inherited from the machine cannot point elsewhere.
    """
    if not gpus.managed:
        return {}
    if gpus.vendor == ROCM:
        within = ",".join(str(i) for i in range(len(held))) if held else "-1"
        return {"ROCR_VISIBLE_DEVICES": ",".join(held) if held else "-1", "HIP_VISIBLE_DEVICES": within,
                "CUDA_VISIBLE_DEVICES": within}
    return {"CUDA_VISIBLE_DEVICES": ",".join(held)}
