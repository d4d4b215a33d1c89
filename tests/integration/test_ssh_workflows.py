"""Whole workflows against the real test sshd (tests/infra/sshd.sh): jobs with ssh: remoteHost.

wfrun runs as root here and logs in as the unprivileged test user with its key
and a known_hosts file built from the server's host key (no trust on first use).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ssh_env import ssh_env, sshd  # noqa: F401  (fixture)

pytestmark = pytest.mark.ssh
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def remote(ssh_env, wfrun):  # noqa: F811
    """wfrun with the test key and known_hosts; returns (run, spec)."""

    def run(*args, **kw):
        return wfrun(*args, "--identity", ssh_env.key, "--known-hosts", ssh_env.known_hosts, **kw)

    return run, ssh_env.spec


def remote_pgrep(user: str, pattern: str) -> list[str]:
    out = subprocess.run(["pgrep", "-u", user, "-f", pattern], capture_output=True, text=True).stdout
    return out.split()


def test_outputs_flow_remote_local_remote_with_env_and_workdir(remote, write, ssh_env):  # noqa: F811
    run, host = remote
    wf = write("w.yaml", f"""
env:
  GREETING: hello
jobs:
  remote-a:
    ssh: {{remoteHost: "{host}"}}
    working-directory: ${{PW_JOB_DIR}}/work
    env: {{WHO: remote}}
    steps:
      - id: s
        run: |
          echo "whoami=$(whoami)" >> $OUTPUTS
          echo "cwd=$PWD" >> $OUTPUTS
          echo "jobdir=$PW_JOB_DIR" >> $OUTPUTS
          echo "msg=$GREETING from $WHO with 'quotes' and ünïcödé" >> $OUTPUTS
  local-b:
    needs: [remote-a]
    steps:
      - run: echo "relay=${{{{ needs.remote-a.outputs.msg }}}} via $(whoami)" >> $OUTPUTS
  remote-c:
    needs: [local-b]
    ssh: {{remoteHost: "{host}"}}
    steps:
      - run: |
          test "${{{{ needs.local-b.outputs.relay }}}}" = "hello from remote with 'quotes' and ünïcödé via root"
          echo "final ok"
""")
    r = run(wf)
    assert r.code == 0, r.out + r.err
    outputs = r.run_json()
    assert outputs["jobs"]["remote-c"]["status"] == "completed"
    out_file = next(r.home.glob("jobs/*/*/events.jsonl")).read_text()
    assert "final ok" in out_file
    step = [json.loads(l) for l in out_file.splitlines() if '"StepFinished"' in l and '"remote-a"' in l][0]
    assert step["outputs"]["whoami"] == ssh_env.user
    assert step["outputs"]["jobdir"].startswith(f"/home/{ssh_env.user}/pw/jobs/w/")
    assert step["outputs"]["cwd"] == step["outputs"]["jobdir"] + "/work"


def test_failing_remote_step_exact_exit_code_and_cleanup_order(remote, write):
    run, host = remote
    wf = write("w.yaml", f"""
jobs:
  r:
    ssh: {{remoteHost: "{host}"}}
    steps:
      - run: echo one > order.txt
        cleanup: echo cleanup-one >> order.txt; cat order.txt
      - run: echo two >> order.txt; exit 3
        cleanup: echo cleanup-two >> order.txt
""")
    r = run(wf)
    assert r.code == 1
    steps = r.job("r")["steps"]
    assert steps[1]["exit_code"] == 3 and steps[1]["message"] == "exit code 3"
    tail = [l.split("] ", 1)[1] for l in r.out.splitlines() if "(cleanup)]" in l]
    assert tail == ["one", "two", "cleanup-two", "cleanup-one"]


def start_remote_sleepers(ssh_env, tmp_path, write, marker: str, *, cleanup: str = "", more_jobs: str = "",
                          stdout=subprocess.DEVNULL):  # noqa: F811
    """wfrun running a remote step whose two processes (one ignoring SIGTERM) carry ``marker`` in their names."""
    wf = write("w.yaml", f"""
jobs:
  r:
    ssh: {{remoteHost: "{ssh_env.spec}"}}
    steps:
      - run: |
          bash -c 'exec -a {marker}-child sleep 1000' &
          trap '' TERM
          exec -a {marker}-main sleep 1000
{cleanup}{more_jobs}""")
    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none")}
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), "--grace", "1", "--identity", ssh_env.key,
                             "--known-hosts", ssh_env.known_hosts], stdout=stdout, stderr=subprocess.STDOUT,
                            text=True, env=env)
    deadline = time.monotonic() + 20
    while len(remote_pgrep(ssh_env.user, marker)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(remote_pgrep(ssh_env.user, marker)) >= 2
    return proc


def test_interrupt_kills_the_remote_process_group(ssh_env, tmp_path, write):  # noqa: F811
    marker = f"wfrun-remote-{uuid.uuid4().hex[:8]}"
    done = tmp_path / "cleanup-ran"
    proc = start_remote_sleepers(ssh_env, tmp_path, write, marker, cleanup="        cleanup: echo remote cleanup ran\n",
                                 more_jobs=f"""  local:
    steps:
      - run: sleep 1000
        cleanup: touch {done}
""", stdout=subprocess.PIPE)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, out
    assert time.monotonic() - t0 < 10
    while remote_pgrep(ssh_env.user, marker) and time.monotonic() - t0 < 10:
        time.sleep(0.1)
    assert remote_pgrep(ssh_env.user, marker) == []
    assert "remote cleanup ran" in out and done.exists()


def test_sigkilled_wfrun_leaves_no_remote_process(ssh_env, tmp_path, write):  # noqa: F811
    """wfrun cannot clean up after SIGKILL: the remote side notices its channel close and ends the step's group."""
    marker = f"wfrun-orphan-{uuid.uuid4().hex[:8]}"
    proc = start_remote_sleepers(ssh_env, tmp_path, write, marker)
    proc.kill()
    proc.wait()
    t0 = time.monotonic()
    while remote_pgrep(ssh_env.user, marker) and time.monotonic() - t0 < 15:
        time.sleep(0.1)
    assert remote_pgrep(ssh_env.user, marker) == [], "the step outlived wfrun on the host"


def test_unknown_host_key_is_refused(ssh_env, wfrun, write, tmp_path):  # noqa: F811
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    wf = write("w.yaml", f'jobs:\n  r:\n    ssh: {{remoteHost: "{ssh_env.spec}"}}\n    steps: [{{run: echo never}}]\n')
    r = wfrun(wf, "--identity", ssh_env.key, "--known-hosts", str(empty))
    assert r.code == 1
    message = r.job("r")["steps"][0]["message"]
    assert ssh_env.host in message and "host key" in message.lower()
    assert "\n" not in message and "Traceback" not in r.out + r.err
    assert "[r/echo never] never" not in r.out


def test_wrong_client_key_is_refused(ssh_env, wfrun, write, tmp_path):  # noqa: F811
    key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    wf = write("w.yaml", f'jobs:\n  r:\n    ssh: {{remoteHost: "{ssh_env.spec}"}}\n    steps: [{{run: echo never}}]\n')
    r = wfrun(wf, "--identity", str(key), "--known-hosts", ssh_env.known_hosts)
    assert r.code == 1
    message = r.job("r")["steps"][0]["message"]
    assert ssh_env.host in message and ("auth" in message.lower() or "permission" in message.lower())
    assert "Traceback" not in r.out + r.err


def test_fifty_concurrent_remote_steps(remote, write):
    run, host = remote
    jobs = "\n".join(f"  j{i}:\n    ssh: {{remoteHost: \"{host}\"}}\n    steps:\n      - run: echo n={i} >> $OUTPUTS; sleep 0.2"
                     for i in range(50))
    r = run(write("w.yaml", "jobs:\n" + jobs + "\n"))
    assert r.code == 0, r.out[-3000:] + r.err
    statuses = {j["status"] for j in r.run_json()["jobs"].values()}
    assert statuses == {"completed"}
    assert "ChannelOpenError" not in r.out + r.err and "open failed" not in r.out


@pytest.mark.slow
def test_sshd_stopped_mid_run_fails_fast_and_clearly(ssh_env, tmp_path, write):  # noqa: F811
    wf = write("w.yaml", f'jobs:\n  r:\n    ssh: {{remoteHost: "{ssh_env.spec}"}}\n    steps: [{{run: "echo started; sleep 60"}}]\n')
    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none")}
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), "--identity", ssh_env.key,
                             "--known-hosts", ssh_env.known_hosts], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if "started" in proc.stdout.readline():
                break
        t0 = time.monotonic()
        sshd("stop")
        subprocess.run(["pkill", "-KILL", "-u", ssh_env.user], capture_output=True)
        out, _ = proc.communicate(timeout=60)
        took = time.monotonic() - t0
    finally:
        sshd("start")
    assert proc.returncode == 1, out
    assert took < 30
    assert "lost" in out and ssh_env.host in out


def test_job_runner_ssh_mode_and_slurm_over_ssh(remote, write, ssh_env, slurm):  # noqa: F811
    """job_runner with a remote resource: direct mode, then sbatch as the remote user over the same connection."""
    run, host = remote
    wf = write("w.yaml", f"""
jobs:
  direct:
    steps:
      - id: jr
        uses: marketplace/job_runner/v4.0
        with:
          resource: {{ip: "{host}", schedulerType: slurm}}
          rundir: pw/jr-direct
          script: echo "direct as $(whoami) in $PWD"
  batch:
    steps:
      - id: jr
        uses: marketplace/job_runner/v4.0
        with:
          resource: {{ip: "{host}", schedulerType: slurm}}
          rundir: pw/jr-batch
          scheduler: true
          poll_interval: 1
          slurm: {{partition: debug, time: "00:05:00", cpus_per_task: 1}}
          script: echo "batch as $(whoami) on $(hostname)"; exit 6
""")
    r = run(wf)
    assert r.code == 1, r.out
    assert f"direct as {ssh_env.user} in /home/{ssh_env.user}/pw/jobs/w/" in r.out
    assert f"batch as {ssh_env.user}" in r.out
    assert "ended FAILED with exit code 6" in r.out
