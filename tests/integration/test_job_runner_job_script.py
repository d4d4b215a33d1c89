"""What a SLURM/PBS job sees, against the real Slurm and its PBS wrappers (issue 13).

- the workflow's environment (workflow/job/step ``env:``, ``with: env:``, ``PW_*``) is the
  one a direct step of the same job sees, byte for byte, never executed; secrets are in
  no file left in the run directory and never in the generated scripts;
- ``shebang`` chooses the interpreter of the user's script, the wrapper stays bash;
- a relaunch (a Slurm requeue of the running job) is visible as ``WFRUN_BATCH_ATTEMPT``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import wait_for, wfrun_env
from ssh_env import ssh_env, sshd  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slurm

SECRET = "tok-" + os.urandom(6).hex()
NAMES = ("WF_VAR", "JOB_VAR", "STEP_VAR", "TRICKY", "TOKEN", "PW_JOB_ID", "PW_JOB_DIR", "PW_PARENT_JOB_DIR", "PW_USER",
         "PW_WORKFLOW_NAME", "PW_MATRIX_INDEX", "PW_WORKFLOW_STEP_CURRENT_RETRY", "PW_WORKFLOW_STEP_MAX_RETRIES")
# Each variable as hex, so quotes, newlines and '$' cannot be confused by the output path.
DUMP = ("for n in " + " ".join(NAMES) + " WITH_VAR; do printf '@@%s %s=' \"$WHERE\" \"$n\"; "
        "printf '%s' \"${!n-UNSET}\" | od -An -v -tx1 | tr -d ' \\n'; echo; done")


@pytest.fixture(scope="module", autouse=True)
def slurm_up(slurm):
    """Every test here needs the real cluster."""


def _indent(text: str, n: int) -> str:
    return "\n".join(" " * n + line for line in text.strip("\n").splitlines())


def _batch(kind: str, rundir: str, script: str, extra: str = "") -> str:
    """The with: of a job_runner step on this machine's Slurm (or its PBS wrappers)."""
    return f"""resource: {{ip: '', schedulerType: {kind}}}
rundir: '{rundir}'
scheduler: true
poll_interval: 1
slurm: {{partition: debug, time: "00:05:00", cpus_per_task: 1}}
pbs: {{walltime: "00:05:00"}}
{extra}
script: |
{_indent(script, 2)}"""


WITH_ENV = 'env: {WITH_VAR: "with $x `y`"}'


def _dumped(out: str, where: str) -> dict[str, str]:
    values = {}
    for line in out.splitlines():
        _, marker, rest = line.partition(f"@@{where} ")
        if marker:
            name, _, hexed = rest.partition("=")
            values[name] = bytes.fromhex(hexed).decode()
    return values


def _output(rundir: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in rundir.glob("run.*.out"))


def _files_under(path: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.mark.parametrize("kind", ["slurm", "pbs"])
def test_batch_job_sees_the_direct_steps_environment_unchanged_and_never_run(wfrun, write, tmp_path, kind):
    marker = tmp_path / "executed"
    tricky = f"it's \"q\" $HOME ${{HOME}} `touch {marker}` $(touch {marker}) ; touch {marker}\nsecond line \\ end"
    wf = write("w.yaml", f"""
env:
  WF_VAR: from the workflow
jobs:
  main:
    env:
      JOB_VAR: from the job
      TRICKY: {json.dumps(tricky)}
      TOKEN: ${{{{ inputs.token }}}}
    steps:
      - name: direct
        env: {{STEP_VAR: from a step, WHERE: direct}}
        run: |
{_indent(DUMP, 10)}
      - name: batch
        env: {{STEP_VAR: from a step, WHERE: batch}}
        uses: marketplace/job_runner/v4.0
        with:
{_indent(_batch(kind, str(tmp_path / "rd"), DUMP, extra=WITH_ENV), 10)}
      - name: prints the secret
        uses: marketplace/job_runner/v4.0
        with:
{_indent(_batch(kind, str(tmp_path / "rd-printing"), 'echo "token is $TOKEN"'), 10)}
'on':
  execute:
    inputs:
      token: {{type: password}}
""")
    r = wfrun(wf, "--set", f"token={SECRET}")
    assert r.code == 0, r.out + r.err
    direct, batch = _dumped(r.out, "direct"), _dumped(r.out, "batch")
    assert set(direct) == set(NAMES) | {"WITH_VAR"}
    assert direct["TRICKY"] == tricky and direct["TOKEN"] == SECRET and direct["WF_VAR"] == "from the workflow"
    # The batch job sees what the direct step sees (its own step's retry counters included) ...
    assert {n: batch[n] for n in NAMES} == {n: direct[n] for n in NAMES}
    # ... plus with: env:, which only job_runner takes.
    assert direct["WITH_VAR"] == "UNSET" and batch["WITH_VAR"] == "with $x `y`"
    assert not marker.exists(), "a value was executed"
    # Masking of the job's output still works, and the secret is nowhere in wfrun's own files.
    assert "token is ***" in r.out and SECRET not in r.out + r.err
    left = _files_under(tmp_path / "rd")
    assert not [name for name, data in left.items() if SECRET.encode() in data], "the secret was left in the run directory"
    assert not [p for p in left if p.endswith(".env")], "the job's environment file outlived the step"
    printing = _files_under(tmp_path / "rd-printing")
    for script in ("run.sh", "run-template.sh"):
        assert SECRET.encode() not in printing[str(tmp_path / "rd-printing" / script)]
    assert not [n for n, d in _files_under(r.home).items() if SECRET.encode() in d and not n.endswith("runs.db")]


@pytest.mark.parametrize("kind", ["slurm", "pbs", "direct"])
def test_shebang_chooses_the_interpreter_and_the_wrapper_stays_bash(wfrun, write, tmp_path, kind):
    script = 'import os, sys\nprint("python", sys.version_info[0], "sees", os.environ["WF_VAR"])\nsys.exit(3)'
    wf = write("w.yaml", f"""
env: {{WF_VAR: "x'y"}}
jobs:
  main:
    steps:
      - name: py
        uses: marketplace/job_runner/v4.0
        with:
{_indent(_batch(kind, str(tmp_path / "rd"), script, extra="shebang: '#!/usr/bin/env python3'"), 10)}
""")
    if kind == "direct":  # the same wrapper, run directly (here: the resource has no ip)
        wf.write_text(wf.read_text().replace("scheduler: true", "scheduler: false").replace("schedulerType: direct", "schedulerType: slurm"))
    r = wfrun(wf)
    assert r.code == 1, r.out + r.err
    assert "python 3 sees x'y" in r.out
    assert ("the script exited with code 3" if kind == "direct" else "ended FAILED with exit code 3") in r.out
    assert "SyntaxError" not in r.out
    rundir = tmp_path / "rd"
    assert (rundir / "run.sh").read_text().startswith("#!/bin/bash\n")
    assert (rundir / "run-template.sh").read_text() == script + "\n"
    assert (rundir / "job.started").exists()  # wfrun's markers are still injected, by the bash wrapper


def test_a_slurm_requeue_of_the_running_job_is_visible_as_its_attempt_number(tmp_path, write):
    script = ('echo "attempt $WFRUN_BATCH_ATTEMPT restart ${SLURM_RESTART_COUNT:-0} sees $WF_VAR"\n'
              'if [ "$WFRUN_BATCH_ATTEMPT" = 1 ]; then touch first.running; sleep 300; fi\n'
              'echo "restarted from the checkpoint"')
    wf = write("w.yaml", f"""
env: {{WF_VAR: kept}}
jobs:
  main:
    steps:
      - name: ckpt
        uses: marketplace/job_runner/v4.0
        with:
{_indent(_batch("slurm", str(tmp_path / "rd"), script), 10)}
""")
    out = tmp_path / "wfrun.out"
    with out.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), "--no-live"], stdout=sink,
                                stderr=subprocess.STDOUT, env=wfrun_env(tmp_path))
    try:
        wait_for(lambda: (tmp_path / "rd" / "first.running").exists(), 60, "the first start of the job")
        jobid = next(line.split()[-1] for line in out.read_text().splitlines() if "SLURM job submitted:" in line)
        subprocess.run(["scontrol", "requeue", jobid], check=True, capture_output=True)
        # A requeued job waits ~2 minutes (its BeginTime) before it may start again; let it start sooner,
        # but not in the second its first start was killed: slurmd refuses a credential made in the same
        # second as the revoked one ("Job credential revoked"), and the restart fails with exit code 1.
        wait_for(lambda: _squeue_state(jobid) == "PENDING", 30, "the requeued job to be pending again")
        time.sleep(2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            subprocess.run(["scontrol", "update", f"jobid={jobid}", "StartTime=now"], capture_output=True)
            state = _squeue_state(jobid)
            if state == "RUNNING" and "attempt 2" in _output(tmp_path / "rd") or proc.poll() is not None:
                break  # restarted (or already ended: wfrun has seen it)
            time.sleep(0.5)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:  # SIGTERM: wfrun cancels its batch job before it exits
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    text = out.read_text()
    assert code == 0, text
    assert "attempt 1 restart 0 sees kept" in text
    assert "attempt 2 restart 1 sees kept" in text
    assert "restarted from the checkpoint" in text
    # The requeued start appends to the output file: both starts are kept.
    kept = _output(tmp_path / "rd")
    assert kept.index("attempt 1") < kept.index("attempt 2")


# ------------------------------------------------------------------ rundir: /scratch/$USER/... over SSH


def _remote_workflow(host: str, rundir: str) -> str:
    return f"""
env: {{WF_VAR: "a'b $c"}}
jobs:
  main:
    steps:
      - name: where
        uses: marketplace/job_runner/v4.0
        with:
          resource: {{ip: "{host}", schedulerType: slurm}}
          rundir: '{rundir}'
          scheduler: true
          poll_interval: 1
          slurm: {{partition: debug, time: "00:05:00", cpus_per_task: 1}}
          script: echo "job in $PWD as $(whoami) sees $WF_VAR"
"""


@pytest.mark.ssh
def test_rundir_variables_are_the_remote_users_and_command_substitutions_never_run(ssh_env, wfrun, write, tmp_path):
    auth = ("--identity", ssh_env.key, "--known-hosts", ssh_env.known_hosts)
    tag = os.urandom(3).hex()
    try:
        _check_rundirs(wfrun, write, tmp_path, ssh_env, auth, tag)
    finally:
        for made in list(Path(f"/home/{ssh_env.user}").glob(f"jr-{tag}-*")) + list(Path("/tmp").glob(f"jr-{tag}*")):
            shutil.rmtree(made, ignore_errors=True)


def _check_rundirs(wfrun, write, tmp_path, ssh_env, auth, tag) -> None:
    user, home = ssh_env.user, f"/home/{ssh_env.user}"
    r = wfrun(write("w.yaml", _remote_workflow(ssh_env.spec, f"~/jr-{tag}-$USER/${{LOGNAME}}-run")), *auth)
    assert r.code == 0, r.out + r.err
    expected = f"{home}/jr-{tag}-{user}/{user}-run"
    assert f"job in {expected} as {user} sees a'b $c" in r.out  # the remote user's $USER/$LOGNAME/~, not this machine's (root)
    assert Path(expected).is_dir() and Path(expected).stat().st_uid != 0
    assert not list(Path(expected).glob("*.env")), "the job's environment file outlived the step on the remote host"
    assert not list(Path(home).glob(f"jr-{tag}-$USER*"))

    marker = tmp_path / "substituted"
    for rundir in (f"/tmp/jr-{tag}-$(touch {marker})", f"/tmp/jr-{tag}-`touch {marker}`"):
        r = wfrun(write("bad.yaml", _remote_workflow(ssh_env.spec, rundir)), *auth)
        assert r.code == 2, r.out + r.err
        assert "contains a command substitution; wfrun never runs it" in r.err
        assert "bad.yaml:" in r.err
    assert not marker.exists() and not list(Path("/tmp").glob(f"jr-{tag}-*"))

    r = wfrun(write("unset.yaml", _remote_workflow(ssh_env.spec, f"/tmp/jr-{tag}/$WFRUN_NOT_SET_{tag}/run")), *auth)
    assert r.code == 1, r.out + r.err
    assert f"$WFRUN_NOT_SET_{tag} is not set on {ssh_env.spec}" in r.out + r.err
    assert not Path(f"/tmp/jr-{tag}").exists()


def test_a_rejected_submission_leaves_no_environment_file(wfrun, write, tmp_path):
    """sbatch refuses the job (no such partition): the scheduler has no job of that name, so the file goes."""
    rundir = tmp_path / "rd"
    wf = write("w.yaml", f"""
env: {{WF_VAR: "x"}}
jobs:
  main:
    steps:
      - name: rejected
        uses: marketplace/job_runner/v4.0
        with:
          resource: {{ip: '', schedulerType: slurm}}
          rundir: '{rundir}'
          scheduler: true
          poll_interval: 1
          slurm: {{partition: no-such-partition, time: "00:05:00", cpus_per_task: 1}}
          script: echo never
""")
    r = wfrun(wf)
    assert r.code == 1, r.out + r.err
    assert "job_runner: sbatch failed" in r.out, r.out
    assert (rundir / "run.sh").exists() and not list(rundir.glob("*.env")), sorted(p.name for p in rundir.iterdir())


def _squeue_state(jobid: str) -> str:
    return subprocess.run(["squeue", "-h", "-j", jobid, "-o", "%T"], capture_output=True, text=True).stdout.strip()
