"""Where a step runs: its target, the job directory there, its working directory and ``$OUTPUTS`` path.

Functions over a running job (engine/job.py's JobRun, typed ``Any`` here so this module
does not import the job runtime back).
"""

from __future__ import annotations

from typing import Any

from workflow_runner.engine.context import as_text, evaluate, expand_path
from workflow_runner.engine.stepcall import Placement
from workflow_runner.model import Step
from workflow_runner.state.rundir import safe_name


def pw_env(job: Any, place: Placement) -> dict[str, str]:
    """The ``PW_*`` variables every step of the job sees."""
    eng = job.engine
    return {
        "PW_JOB_ID": eng.run_id,
        "PW_JOB_DIR": place.job_dir,
        "PW_PARENT_JOB_DIR": place.parent_dir,
        "PW_USER": eng.shared.options.user,
        "PW_WORKFLOW_NAME": eng.workflow.name,
        "PW_MATRIX_INDEX": str(job.instance.index),
        "WFRUN_RUN_TOKEN": eng.shared.run_token,
    }


async def place_step(job: Any, step: Step, env: dict[str, str]) -> Placement:
    """Connect to the step's host (its ``ssh:`` or the job's) and work out its directories there."""
    eng = job.engine
    ssh = step.ssh or job.job.ssh
    ctx = job.context(env)
    host = as_text(evaluate(ssh.remote_host, ctx)) if ssh else ""
    jump = as_text(evaluate(ssh.jump_host, ctx)) if ssh and ssh.jump_host is not None else None
    target = eng.shared.targets.get(host, jump)
    home = await target.home()
    parent_run = eng.parent_run_dir or eng.run_dir
    local = target is eng.shared.targets.local
    if local:
        job_dir, parent = str(eng.run_dir.root), str(parent_run.root)
    else:
        job_dir, parent = eng.run_dir.remote_root(home), parent_run.remote_root(home)
    wd = step.working_directory if step.working_directory is not None else job.job.working_directory
    cwd = job_dir
    if wd is not None:
        raw = as_text(evaluate(wd, ctx)).strip()
        if raw:
            expand_env = {**env, **pw_env(job, Placement(target, job_dir, parent, job_dir, local)), "PWD": job_dir, "HOME": home}
            cwd = expand_path(raw, expand_env, home)
            if not cwd.startswith("/"):
                cwd = f"{job_dir}/{cwd}"
    return Placement(target, job_dir, parent, cwd, local)


def outputs_path(job: Any, step: Step, place: Placement, attempt: int) -> str:
    """The ``$OUTPUTS`` file of one attempt: in the run directory here, under the job directory there."""
    if place.local:
        return str(job.engine.run_dir.step_file("outputs", job.key, step.index, step.key, f".{attempt}"))
    return f"{place.job_dir}/outputs/{safe_name(job.key)}/{step.index + 1:02d}-{safe_name(step.key)}.{attempt}"
