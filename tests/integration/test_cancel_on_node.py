"""Cancel runs the user's cancel.sh on the job's compute node, as job_runner v4.0 does (issue 13).

The login host is the second test sshd (login user ``wfrun2``); batch jobs go to the
real single-node Slurm. Here the compute node is the login machine itself, so to prove
the node route is taken the job names its node ``wfrun-test-node`` in its ``HOSTNAME``
marker: a name that neither DNS nor /etc/hosts knows, only the login user's
``~/.ssh/config`` (as a cluster's ssh configuration knows its nodes). That entry sends
``WFRUN_TEST_ROUTE=compute-node`` (the test sshd accepts ``WFRUN_TEST_*``), which
cancel.sh records: it is set only when cancel.sh came in over that hop. An unresolvable
name shows the fallback: a warning, and cancel.sh on the login host.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from helpers import start_until_batch_job_runs, wfrun_env
from ssh_env import cluster_ssh_env  # noqa: F401  (fixture)

pytestmark = [pytest.mark.ssh, pytest.mark.slurm]
NODE = "wfrun-test-node"


@pytest.fixture(scope="module")
def node_alias(cluster_ssh_env):  # noqa: F811
    """The login user's ssh configuration for the "compute node": alias, key, known_hosts, route marker."""
    env = cluster_ssh_env
    user = pwd.getpwnam(env.user)
    ssh_dir = Path(user.pw_dir) / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    key = ssh_dir / "wfrun_test_node"
    shutil.copyfile(env.key, key)
    (ssh_dir / "config").write_text(f"""# written by tests/integration/test_cancel_on_node.py
Host {NODE}
  HostName {env.host}
  Port {env.port}
  User {env.user}
  IdentityFile ~/.ssh/wfrun_test_node
  IdentitiesOnly yes
  UserKnownHostsFile {env.known_hosts}
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  SetEnv WFRUN_TEST_ROUTE=compute-node
""")
    for path in (ssh_dir, key, ssh_dir / "config"):
        os.chown(path, user.pw_uid, user.pw_gid)
    key.chmod(0o600)
    (ssh_dir / "config").chmod(0o600)
    return env


def workflow(host: str, rundir: str, node: str) -> str:
    script = f"""echo {node} > HOSTNAME
cat > cancel.sh <<'EOF'
echo "cancel.sh route=${{WFRUN_TEST_ROUTE:-login-host}} as $(whoami)" | tee -a cancel.ran
EOF
echo started
sleep 300"""
    body = "\n".join("            " + line for line in script.splitlines())
    return f"""
jobs:
  batch:
    steps:
      - id: jr
        uses: marketplace/job_runner/v4.0
        with:
          resource: {{ip: "{host}", user: wfrun2, schedulerType: slurm}}
          rundir: {rundir}
          scheduler: true
          poll_interval: 1
          slurm: {{partition: debug, time: "00:05:00", cpus_per_task: 1}}
          script: |
{body}
"""


def squeue_ids() -> set[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout
    return set(out.split())


def interrupt_after_start(tmp_path: Path, env_ssh, wf: Path) -> tuple[str, str, Path]:
    """Run the workflow, SIGINT it once the batch job runs; (job id, output, step log)."""
    argv = [str(wf), "--grace", "2", "--identity", env_ssh.key, "--known-hosts", env_ssh.known_hosts]
    env = wfrun_env(tmp_path)
    proc, jobid, lines = start_until_batch_job_runs(argv, env, "[batch/jr] started")
    assert jobid in squeue_ids(), "".join(lines)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(lines) + out
    t0 = time.monotonic()
    while jobid in squeue_ids() and time.monotonic() - t0 < 15:
        time.sleep(0.2)
    assert jobid not in squeue_ids()
    log = next(Path(env["WFRUN_HOME"]).glob("jobs/*/*/logs/batch/01-jr.log"))
    return jobid, "".join(lines) + out, log


def test_cancel_sh_runs_on_the_node_named_by_the_hostname_marker(node_alias, tmp_path, write):
    env = node_alias
    rundir = f"/tmp/wfrun-node-cancel-{uuid.uuid4().hex[:10]}/jr"
    wf = write("w.yaml", workflow(f"{env.host}:{env.port}", rundir, NODE))
    try:
        _jobid, out, log = interrupt_after_start(tmp_path, env, wf)
        text = log.read_text()
        assert f"running cancel.sh on compute node {NODE} (ssh from wfrun2@{env.host}:{env.port})" in text, text
        assert "warning" not in text, text
        assert Path(rundir, "cancel.ran").read_text() == "cancel.sh route=compute-node as wfrun2\n"  # once, over the hop
        assert not Path(rundir, "HOSTNAME").exists() and Path(rundir, "job.ended").exists()
    finally:
        shutil.rmtree(Path(rundir).parent, ignore_errors=True)


def test_unreachable_node_falls_back_to_the_login_host_with_a_warning(node_alias, tmp_path, write):
    env = node_alias
    rundir = f"/tmp/wfrun-node-cancel-{uuid.uuid4().hex[:10]}/jr"
    wf = write("w.yaml", workflow(f"{env.host}:{env.port}", rundir, "no-such-node.invalid"))
    try:
        _jobid, out, log = interrupt_after_start(tmp_path, env, wf)
        text = log.read_text()
        assert "warning: cannot reach compute node no-such-node.invalid from wfrun2@" in text, text
        assert "Could not resolve hostname" in text and "running cancel.sh on the login host" in text, text
        assert Path(rundir, "cancel.ran").read_text() == "cancel.sh route=login-host as wfrun2\n"
    finally:
        shutil.rmtree(Path(rundir).parent, ignore_errors=True)
