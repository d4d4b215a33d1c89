"""job_runner's ``with:`` (resolved against marketplace/job_runner/<version>.yaml) → a checked JobSpec.

Every value that ends up on a ``#SBATCH``/``#PBS`` line or a qsub command line
is validated here, so a partition like ``debug\\n#SBATCH --uid=0`` or
``debug; rm -rf ~`` is an input error before anything is written or submitted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from workflow_runner.actions.job_runner.interpreter import interpreter_argv
from workflow_runner.actions.job_runner.rundir_vars import rundir_problem
from workflow_runner.engine.context import as_text
from workflow_runner.engine.durations import clock, iso_seconds
from workflow_runner.errors import InputError, Location

SLURM_FIELDS = {
    # input name: (sbatch option, allowed characters)
    "account": ("--account", r"[A-Za-z0-9_.@+-]+"),
    "partition": ("--partition", r"[A-Za-z0-9_.,+-]+"),
    "qos": ("--qos", r"[A-Za-z0-9_.,+-]+"),
    "time": ("--time", r"[0-9]+(-[0-9]{1,2})?(:[0-9]{1,2}){0,2}|UNLIMITED|INFINITE"),
    "nodes": ("--nodes", r"[0-9]+(-[0-9]+)?"),
    "cpus_per_task": ("--cpus-per-task", r"[0-9]+"),
    "gres": ("--gres", r"[A-Za-z0-9_.,:=+-]+"),
    "mem": ("--mem", r"[0-9]+[KMGTkmgt]?[Bb]?"),
    "constraint": ("--constraint", r"[A-Za-z0-9_.,:&|!*()\[\]+-]+"),
    "array": ("--array", r"[0-9]+(-[0-9]+)?(:[0-9]+)?(,[0-9]+(-[0-9]+)?(:[0-9]+)?)*(%[0-9]+)?"),
}
PBS_FIELDS = {
    "account": ("-A", r"[A-Za-z0-9_.@+-]+"),
    "queue": ("-q", r"[A-Za-z0-9_.@+-]+"),
    "walltime": ("-l walltime=", r"[0-9]+(:[0-9]{1,2}){0,2}"),
    "select": ("-l select=", r"[A-Za-z0-9_.:=+-]+"),
}
_PREFIX = {"slurm": "#SBATCH", "pbs": "#PBS"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class JobSpec:
    version: str
    mode: str
    """ssh | slurm | pbs"""
    resource: dict[str, Any]
    shebang: str
    rundir: str
    script: str | None
    script_path: str | None
    inject_markers: bool
    poll_interval: float
    slurm: dict[str, str] = field(default_factory=dict)
    """sbatch option → value, only non-empty, validated."""
    pbs: dict[str, str] = field(default_factory=dict)
    directives: list[str] = field(default_factory=list)
    """Extra '#SBATCH …' / '#PBS …' lines, validated."""
    relaunches: int = 0
    """Resubmissions after NODE_FAIL/PREEMPTED/BOOT_FAIL (wfrun's max_relaunches input)."""
    interpreter: tuple[str, ...] = ("/bin/bash",)
    """What runs the user's script: the shebang as the kernel reads it (interpreter.py)."""


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("", "undefined", "none", "None"))


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)


def build_spec(version: str, values: dict[str, Any], *, where: Location | None) -> JobSpec:
    """``values`` are the resolved inputs of the action definition (defaults applied, ignored removed)."""
    resource = values.get("resource") or {}
    scheduler = _truthy(values.get("scheduler"))
    slurm_in = values.get("slurm") or {}
    pbs_in = values.get("pbs") or {}
    kind = str(resource.get("schedulerType") or "").lower()
    mode = "ssh"
    if scheduler:
        slurm_on = not _truthy(slurm_in.get("is_disabled", kind != "slurm"))
        pbs_on = not _truthy(pbs_in.get("is_disabled", kind != "pbs"))
        if slurm_on:
            mode = "slurm"
        elif pbs_on:
            mode = "pbs"
        else:
            raise InputError(
                "job_runner: scheduler is true but neither SLURM nor PBS is enabled "
                "(set resource.schedulerType to slurm or pbs, or scheduler: false for SSH mode)",
                location=where,
            )
    use_existing = _truthy(values.get("use_existing_script"))
    script_path = None if _empty(values.get("script_path")) else as_text(values.get("script_path"))
    if use_existing and not script_path:
        raise InputError("job_runner: use_existing_script is true but script_path is empty", location=where)
    shebang = as_text(values.get("shebang") or "#!/bin/bash").strip()
    try:
        interpreter = tuple(interpreter_argv(shebang))
    except ValueError as exc:
        raise InputError(f"job_runner: {exc}", location=where) from None
    rundir = as_text(values.get("rundir") or "${PWD}").strip()
    problem = rundir_problem(rundir)
    if problem:
        raise InputError(f"job_runner: {problem}", location=where)
    try:
        poll = float(values.get("poll_interval") or 15)
    except (TypeError, ValueError):
        raise InputError(f"job_runner: poll_interval must be a number, got {values.get('poll_interval')!r}", location=where) from None
    slurm = _fields("slurm", SLURM_FIELDS, slurm_in, where) if mode == "slurm" else {}
    pbs = _fields("pbs", PBS_FIELDS, pbs_in, where) if mode == "pbs" else {}
    group = slurm_in if mode == "slurm" else pbs_in if mode == "pbs" else {}
    directives = _directives(mode, group.get("scheduler_directives"), where) if mode != "ssh" else []
    return JobSpec(
        version=version,
        mode=mode,
        resource=dict(resource),
        shebang=shebang,
        rundir=rundir,
        script=None if use_existing else as_text(values.get("script") or ""),
        script_path=script_path if use_existing else None,
        inject_markers=_truthy(values.get("inject_markers", version != "v3.5")),
        poll_interval=max(0.2, poll),
        slurm=slurm,
        pbs=pbs,
        directives=directives,
        relaunches=_count(values.get("max_relaunches", 0), "max_relaunches", where),
        interpreter=interpreter,
    )


def _count(value: Any, name: str, where: Location | None) -> int:
    try:
        number = int(value or 0)
    except (TypeError, ValueError):
        raise InputError(f"job_runner: {name} must be a whole number, got {value!r}", location=where) from None
    if number < 0:
        raise InputError(f"job_runner: {name} must not be negative", location=where)
    return number


def _fields(group: str, table: dict[str, tuple[str, str]], given: dict[str, Any], where: Location | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, (option, pattern) in table.items():
        value = given.get(name)
        if _empty(value):
            continue
        text = as_text(value).strip()
        if option in ("--time", "-l walltime=") and text[:1] in ("P", "p"):
            text = _iso_clock(text, f"{group}.{name}", days=option == "--time", where=where)
        if not re.fullmatch(pattern, text):
            raise InputError(
                f"job_runner: {group}.{name} has an invalid value {text!r} "
                f"(it would be passed as {option}; newlines, ';', spaces and shell characters are not allowed)",
                location=where,
            )
        out[option] = text
    return out


def _iso_clock(text: str, what: str, *, days: bool, where: Location | None) -> str:
    """An ISO 8601 duration (``PT4H``, as torc writes it) as the scheduler's clock: SLURM ``D-HH:MM:SS``, PBS ``HH:MM:SS``."""
    try:
        return clock(iso_seconds(text), days=days)
    except ValueError as exc:
        raise InputError(f"job_runner: {what}: {exc}", location=where) from None


def _directives(mode: str, text: Any, where: Location | None) -> list[str]:
    """Extra directive lines: each non-empty line must be one '#SBATCH'/'#PBS' directive, nothing else."""
    if _empty(text):
        return []
    prefix = _PREFIX[mode]
    lines = []
    for raw in as_text(text).splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith(prefix + " "):
            raise InputError(
                f"job_runner: {mode}.scheduler_directives: every line must start with '{prefix} ', got {line!r}",
                location=where,
            )
        if _CONTROL.search(line):
            raise InputError(f"job_runner: {mode}.scheduler_directives: control characters in {line!r}", location=where)
        lines.append(line)
    return lines


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def with_env(value: Any, where: Location | None) -> dict[str, str]:
    """``with: {env: {NAME: value}}``, as real workflows pass it to job_runner.

    The platform's job_runner declares no ``env`` input and drops it; the workflow
    author plainly meant the script to see these variables, so wfrun adds them
    to the script's environment exactly like a step's own ``env:`` (values are
    data, never shell text).
    """
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise InputError("job_runner: with: env: expects a mapping of NAME: value", location=where)
    env: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
            raise InputError(f"job_runner: with: env: {name!r} is not an environment variable name", location=where)
        env[name] = as_text(item)
    return env
