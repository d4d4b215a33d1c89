"""Renders what job_runner writes on the resource: ``prepare`` (one command) → ``run-template.sh`` + ``run.sh``.

``run-template.sh`` is the user's script, byte for byte (``script`` or a copy of
``script_path``). ``run.sh`` is wfrun's bash wrapper: directives, markers, the
workflow's environment for batch jobs (jobenv.py), the start count, signal
forwarding, and the exit-code file; it runs the user's script under its
shebang's interpreter (interpreter.py). Every input value is shell-quoted (the
``q`` filter) or checked (spec.py) before it is placed in either text.
"""

from __future__ import annotations

import secrets as _secrets
import shlex
from functools import cache
from typing import Any, Mapping

from workflow_runner.actions.job_runner.batch import BACKENDS
from workflow_runner.actions.job_runner.jobenv import ATTEMPT_VAR, attempt_file, env_file, write_env_command
from workflow_runner.actions.job_runner.spec import JobSpec
from workflow_runner.bundled import job_runner_templates


@cache
def _env() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(job_runner_templates())), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False, autoescape=False,
    )
    env.filters["q"] = shlex.quote
    env.filters["chomp"] = lambda text: text[:-1] if text.endswith("\n") else text
    env.filters["oneline"] = oneline
    return env


def oneline(text: str) -> str:
    """For a comment line: no line break (or other control character) may end the comment and start a command."""
    return "".join(" " if ord(c) < 32 or ord(c) == 127 or c in "\u2028\u2029\x85" else c for c in str(text))


def render_scripts(
    spec: JobSpec, *, rundir: str, out_file: str, exit_file: str, job_name: str, label: str,
    signal: tuple[str, int] | None = None, job_env: Mapping[str, str] | None = None,
) -> tuple[str, str | None]:
    """(prepare-and-submit command, submit command line or None for SSH mode).

    ``job_env``: what a batch job must see (jobenv.job_environment); SSH mode gets its
    environment from the command that runs ``run.sh`` instead.
    """
    env = _env()
    backend = BACKENDS[spec.mode]() if spec.mode in BACKENDS else None
    directives = backend.directives(spec) if backend else []
    env_path = env_file(rundir, job_name) if backend else ""
    job_script = env.get_template("job.sh.j2").render(
        spec=spec, directives=directives, mode=spec.mode, label=label, rundir=rundir, exit_file=exit_file,
        env_file=env_path, attempt_file=attempt_file(rundir, job_name) if backend else "", attempt_var=ATTEMPT_VAR)
    delim = "WFRUN_EOF_" + _secrets.token_hex(6)
    while delim in job_script or (spec.script and delim in spec.script):
        delim = "WFRUN_EOF_" + _secrets.token_hex(6)
    submit = backend.submit(spec, job_name, rundir, out_file, signal) if backend else None
    prepare = env.get_template("prepare.sh.j2").render(
        spec=spec, rundir=rundir, exit_file=exit_file, out_file=out_file, job_script=job_script, delim=delim,
        submit=submit, submit_name=backend.submit_name if backend else "", env_file=env_path,
        write_env=write_env_command(env_path, job_env or {}) if backend else "")
    return prepare, submit
