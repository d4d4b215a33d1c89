"""A run remembers its SSH options: ``wfrun resume`` and ``wfrun cancel`` of a killed run reach its hosts.

Real sshd (tests/infra/sshd.sh) and, for the batch job, the real Slurm reached over SSH.
The test user's key and known_hosts are given once, to ``wfrun run``; never to resume/cancel.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import store_rows, wait_for

import pytest

from ssh_env import ssh_env, sshd  # noqa: F401  (fixture)

pytestmark = pytest.mark.ssh


def start(wfrun, tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "WFRUN_HOME": str(wfrun.home), "WFRUN_CONFIG": str(tmp_path / "no-config.yaml")}
    return subprocess.Popen([sys.executable, "-m", "workflow_runner", *map(str, args)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def test_resume_after_kill9_uses_the_ssh_options_the_run_was_started_with(ssh_env, wfrun, write, tmp_path):  # noqa: F811
    wf = write("w.yaml", f"""
jobs:
  first:
    steps:
      - run: if [ ! -f {tmp_path}/again ]; then touch {tmp_path}/again; sleep 60; fi
  remote:
    needs: [first]
    ssh: {{remoteHost: "{ssh_env.spec}"}}
    steps:
      - run: echo "remote as $(whoami)"
""")
    proc = start(wfrun, tmp_path, wf, "--no-live", "--identity", ssh_env.key, "--known-hosts", ssh_env.known_hosts)
    wait_for(lambda: (tmp_path / "again").exists(), 30, "the first step")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    r = wfrun("resume", "1", "--no-live")
    assert r.code == 0, r.out + r.err
    assert f"remote as {ssh_env.user}" in r.out


def test_an_unknown_host_key_error_names_the_option_that_fixes_it(ssh_env, wfrun, write, tmp_path):  # noqa: F811
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    wf = write("w.yaml", f'jobs:\n  r:\n    ssh: {{remoteHost: "{ssh_env.spec}"}}\n    steps: [{{run: echo never}}]\n')
    r = wfrun(wf, "--no-live", "--identity", ssh_env.key, "--known-hosts", empty)
    assert r.code == 1
    assert "host key" in r.out and "--known-hosts FILE" in r.out


def test_cancel_of_a_killed_run_cancels_its_batch_job_over_ssh(ssh_env, wfrun, write, tmp_path, slurm):  # noqa: F811
    """kill -9 leaves a Slurm job submitted over SSH; `wfrun cancel` (no SSH options given) scancels it there."""
    wf = write("w.yaml", f"""
jobs:
  batch:
    steps:
      - uses: marketplace/job_runner/v4.0
        with:
          resource: {{ip: "{ssh_env.spec}", schedulerType: slurm}}
          rundir: pw/jr-remembered
          scheduler: true
          poll_interval: 1
          slurm: {{partition: debug, time: "00:05:00", cpus_per_task: 1, mem: 100M}}
          script: sleep 300
""")
    proc = start(wfrun, tmp_path, wf, "--no-live", "--identity", ssh_env.key, "--known-hosts", ssh_env.known_hosts)
    wait_for(lambda: store_rows(wfrun.home, "SELECT jobid FROM batch_jobs WHERE jobid IS NOT NULL"), 60, "the submitted job")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (jobid,) = store_rows(wfrun.home, "SELECT jobid FROM batch_jobs")[0]

    def queued() -> bool:
        out = subprocess.run(["squeue", "-h", "-j", jobid, "-o", "%T"], capture_output=True, text=True).stdout.strip()
        return out in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING")

    try:
        assert queued()
        r = wfrun("cancel", "1", "--wait", "5")
        assert r.code == 0, r.out + r.err
        assert f"scancel {jobid} on {ssh_env.spec}: done" in r.out
        wait_for(lambda: not queued(), 20, "the job to leave the queue")
        assert store_rows(wfrun.home, "SELECT state FROM batch_jobs") == [("CANCELLED",)]
    finally:
        subprocess.run(["scancel", jobid], capture_output=True)


def test_ssh_options_precedence_command_line_then_run_then_user_config():
    from workflow_runner.targets.sshopts import ssh_options

    config = {"known_hosts": "~/cfg_known", "identity_files": ["~/cfg_key"]}
    stored = {"known_hosts": "/run/known", "identities": ["/run/key"], "insecure_no_host_key_check": False}
    assert ssh_options({}, {}, config)["known_hosts"] == os.path.expanduser("~/cfg_known")
    assert ssh_options({}, {}, config)["identities"] == [os.path.expanduser("~/cfg_key")]
    assert ssh_options({}, stored, config)["known_hosts"] == "/run/known"
    assert ssh_options({"identities": ["/cli/key"]}, stored, config)["identities"] == ["/cli/key"]
    assert ssh_options({"known_hosts": "/cli/known"}, stored, config)["known_hosts"] == "/cli/known"
