"""What a SLURM/PBS job sees: the environment a direct step gets, carried in a private file, never as shell text.

A batch job starts on a compute node from the scheduler's copy of the login
environment, so the workflow's, job's and step's ``env:``, ``with: env:`` and the
``PW_*`` variables a direct step has would be missing. wfrun writes them to
``wfrun.<job name>.env`` in the run directory:

- as NUL-separated ``NAME=value`` records, which the job's wrapper reads with
  ``read -r -d ''`` and hands to ``export "$record"``: nothing in a value is ever
  parsed, expanded or run, so quotes, ``$``, backticks, ``$(…)`` and newlines
  arrive byte for byte;
- with mode 0600 (the prepare command runs under ``umask 077``), so the values —
  secrets included — are never in the generated scripts' text and are readable
  only by the user. One file for all of them: a value built from a password
  (``user:${{ inputs.pw }}``) is as secret as the password, and a split between
  "secret" and "plain" would guess wrong;
- removed by wfrun when the step ends (completed, failed or canceled). It is not
  deleted by the job itself, because Slurm may start the same job again (a
  requeue after a node failure or preemption, ``scontrol requeue``) and that run
  needs the same environment.

Not shipped: ``OUTPUTS`` (the step's outputs file is wfrun's, on the submitting
side) and ``WFRUN_RUN_TOKEN`` (wfrun stops processes carrying its run's token when
the run ends or resumes; a batch job is the scheduler's to end, by scancel/qdel).

``WFRUN_BATCH_ATTEMPT`` is the job's start count for this step attempt: 1 on the
first start, then one more for every relaunch — a requeue by the scheduler (same
job id) or a resubmission by wfrun after NODE_FAIL/PREEMPTED/BOOT_FAIL
(``max_relaunches``). The wrapper counts starts in ``wfrun.<job name>.attempt``
(per array task), so an application can restart from its checkpoint when it is
greater than 1.
"""

from __future__ import annotations

import shlex
from typing import Mapping

ATTEMPT_VAR = "WFRUN_BATCH_ATTEMPT"
NOT_SHIPPED = frozenset({"OUTPUTS", "WFRUN_RUN_TOKEN"})


def job_environment(step_env: Mapping[str, str], with_env: Mapping[str, str]) -> dict[str, str]:
    """The variables a batch job gets: what a direct step of the same job sees, plus ``with: env:``."""
    merged = {**step_env, **with_env}
    return {name: str(value) for name, value in merged.items() if name not in NOT_SHIPPED}


def env_file(rundir: str, job_name: str) -> str:
    return f"{rundir}/wfrun.{job_name}.env"


def attempt_file(rundir: str, job_name: str) -> str:
    return f"{rundir}/wfrun.{job_name}.attempt"


def write_env_command(path: str, env: Mapping[str, str]) -> str:
    """Shell text that writes ``env`` to ``path`` as NUL-separated records (run under umask 077).

    The values are in this text (single-quoted, so inert); it reaches the host on the
    command's standard input, never on a command line or in a file of its own.
    """
    records = " ".join(shlex.quote(f"{name}={value}") for name, value in env.items())
    if not records:
        return f": > {shlex.quote(path)}"
    return f"printf '%s\\0' {records} > {shlex.quote(path)}"


def reset_attempts_command(path: str) -> str:
    """A new step attempt starts counting again (a relaunch by wfrun keeps the count)."""
    q = shlex.quote(path)
    return f"rm -f {q} {q}.*"
