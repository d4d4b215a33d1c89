"""The pure parts of job_runner's job script: the shebang's interpreter, rundir variables, the env file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from workflow_runner.actions.job_runner.interpreter import interpreter_argv
from workflow_runner.actions.job_runner.jobenv import job_environment, write_env_command
from workflow_runner.actions.job_runner.rundir_vars import names_in, parse_remote, remote_query, rundir_problem
from workflow_runner.actions.job_runner.spec import build_spec
from workflow_runner.errors import InputError


@pytest.mark.parametrize("line, argv", [
    ("#!/bin/bash", ["/bin/bash"]),
    ("#! /usr/bin/env python3", ["/usr/bin/env", "python3"]),
    ("#!/usr/bin/env -S python3 -u", ["/usr/bin/env", "-S python3 -u"]),  # one argument, as execve passes it
    ("#!/bin/bash  -l  ", ["/bin/bash", "-l"]),
])
def test_shebang_is_read_like_the_kernel_reads_it(line, argv):
    assert interpreter_argv(line) == argv


@pytest.mark.parametrize("line", ["#!", "#!   ", "/bin/bash", "#!/bin/bash\n#SBATCH --uid=0", "#!/bin/sh\rx"])
def test_a_shebang_that_names_no_interpreter_is_an_input_error(line):
    with pytest.raises(InputError, match="shebang"):
        build_spec("v4.0", {"resource": {"ip": ""}, "shebang": line}, where=None)


def test_rundir_forms():
    assert rundir_problem("/scratch/$USER/${PW_JOB_ID}/run") is None
    assert "command substitution" in rundir_problem("/scratch/$(whoami)")
    assert "command substitution" in rundir_problem("/scratch/`whoami`")
    assert "another '$' form" in rundir_problem("/scratch/${USER:-me}")
    assert names_in("$A/${B}/$A") == ["A", "B"]
    with pytest.raises(InputError, match="command substitution"):
        build_spec("v4.0", {"resource": {"ip": ""}, "rundir": "/x/$(id)"}, where=None)


def test_remote_values_survive_any_byte():
    out = subprocess.run(["bash", "-c", remote_query(["WEIRD", "NOT_SET_HERE"])], capture_output=True, text=True,
                         env={"WEIRD": "a b\n'$(x)`"}, check=True).stdout
    assert parse_remote(out.splitlines()) == {"WEIRD": "a b\n'$(x)`"}


def test_env_file_records_are_data(tmp_path):
    env = job_environment({"A": "x'y\n$(touch no)", "OUTPUTS": "/o", "WFRUN_RUN_TOKEN": "t"}, {"B": "`id`"})
    assert env == {"A": "x'y\n$(touch no)", "B": "`id`"}
    subprocess.run(["bash", "-c", write_env_command(str(tmp_path / "e"), env)], cwd=tmp_path, check=True)
    assert (tmp_path / "e").read_bytes() == b"A=x'y\n$(touch no)\0B=`id`\0"
    assert not (tmp_path / "no").exists()


def slurm_preparation(rundir: str, script: str, job_env: dict[str, str]) -> str:
    """The prepare command of a v4.0 SLURM job ``n`` on this machine, without its sbatch."""
    from workflow_runner.actions.job_runner import render_scripts

    spec = build_spec("v4.0", {"resource": {"ip": "", "schedulerType": "slurm"}, "scheduler": True,
                               "script": script}, where=None)
    prepare, _ = render_scripts(spec, rundir=rundir, out_file=f"{rundir}/run.1.out", exit_file=f"{rundir}/n.exit",
                                job_name="n", label="j/s", job_env=job_env)
    return prepare.split("set +e")[0]


def test_starts_are_counted_per_step_attempt_and_a_new_attempt_counts_from_one(tmp_path):
    """What a wfrun relaunch (NODE_FAIL/PREEMPTED → a new job) does: prepare again without the reset, start again."""
    from workflow_runner.actions.job_runner.jobenv import attempt_file, reset_attempts_command

    rundir = str(tmp_path / "rd")
    prepare = slurm_preparation(rundir, 'echo "attempt=$WFRUN_BATCH_ATTEMPT v=$V"', {"V": "$(touch no) x"})
    first = reset_attempts_command(attempt_file(rundir, "n")) + "\n" + prepare

    def start(preparation: str) -> str:
        subprocess.run(["bash", "-c", preparation], check=True)
        return subprocess.run(["bash", f"{rundir}/run.sh"], capture_output=True, text=True, check=True).stdout

    assert "attempt=1 v=$(touch no) x" in start(first)
    assert "attempt=2 v=$(touch no) x" in start(prepare)  # relaunched by wfrun: counting goes on
    assert "attempt=1" in start(first)  # the next step attempt (a retry) starts from 1
    assert not (tmp_path / "no").exists() and not list((tmp_path / "rd").glob("no"))


def test_user_and_logname_fall_back_to_the_account_name_when_unset():
    """Cron and containers often have no $USER; the seed's rundir /scratch/$USER/… must still mean the user."""
    import getpass

    out = subprocess.run(["bash", "-c", remote_query(["USER", "LOGNAME", "NOT_SET_HERE"])], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin"}, check=True).stdout
    assert parse_remote(out.splitlines()) == {"USER": getpass.getuser(), "LOGNAME": getpass.getuser()}


def test_a_rundir_with_quotes_and_semicolons_never_becomes_shell_text_in_run_sh(tmp_path):
    """The run.sh line that says the environment file is missing once printed the path inside double quotes."""
    from workflow_runner.actions.job_runner.jobenv import env_file

    rundir = str(tmp_path / 'a";touch pwned;"b')
    subprocess.run(["bash", "-c", slurm_preparation(rundir, "echo ran", {"V": "x"})], check=True, cwd=tmp_path)
    Path(env_file(rundir, "n")).unlink()  # the step ended (or a requeue came after a failed cancel)
    assert subprocess.run(["bash", "-n", f"{rundir}/run.sh"]).returncode == 0
    run = subprocess.run(["bash", f"{rundir}/run.sh"], capture_output=True, text=True, cwd=tmp_path)
    assert "ran" in run.stdout and "is missing: the job runs without the workflow environment" in run.stderr
    assert not (tmp_path / "pwned").exists() and not (Path(rundir) / "pwned").exists()
