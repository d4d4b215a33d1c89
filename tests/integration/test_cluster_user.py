"""The cluster's ``user:`` is the login user, for ``ssh: remoteHost`` steps and job_runner (issue 13).

Against a second real sshd (tests/infra/sshd.sh with its own state and port) whose
login user is ``wfrun2`` — neither the local user (root) nor the main test user
``wfrun``, who may log in there too so that ``user@host`` precedence can be seen.
Batch jobs go to the real single-node Slurm through that login.
"""

from __future__ import annotations

import json

import pytest

from ssh_env import cluster_ssh_env  # noqa: F401  (fixture)

pytestmark = [pytest.mark.ssh, pytest.mark.slurm]


@pytest.fixture
def cluster(cluster_ssh_env, wfrun, tmp_path):  # noqa: F811
    """(run, host, config): wfrun with the cluster's key and known_hosts and a user config naming the cluster."""
    env = cluster_ssh_env
    host = f"{env.host}:{env.port}"
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"clusters": {"c2": {"ip": host, "user": env.user, "schedulerType": "slurm"}}}))

    def run(*args, **kw):
        return wfrun(*args, "--identity", env.key, "--known-hosts", env.known_hosts,
                     env={"WFRUN_CONFIG": str(config)}, **kw)

    return run, host


REMOTE_WF = """
on:
  execute:
    inputs:
      resource: {type: compute-clusters}
jobs:
  plain:
    ssh: {remoteHost: "${{ inputs.resource.ip }}"}
    steps:
      - run: echo "plain step runs as $(whoami)"
  explicit:
    ssh: {remoteHost: "wfrun@${{ inputs.resource.ip }}"}
    steps:
      - run: echo "explicit step runs as $(whoami)"
"""


def test_remote_host_step_logs_in_as_the_named_clusters_user(cluster, write):
    run, host = cluster
    r = run(write("w.yaml", REMOTE_WF), "--set", "resource=c2")
    assert r.code == 0, r.out + r.err
    assert "plain step runs as wfrun2" in r.out        # the cluster's user:, not root
    assert "explicit step runs as wfrun\n" in r.out    # user@host in remoteHost wins


def test_remote_host_step_logs_in_as_the_resource_inputs_user(cluster, write):
    """No user config entry: the resource given to the run (a mapping) carries the user."""
    run, host = cluster
    wf = write("w.yaml", REMOTE_WF)
    r = run(wf, "--set", f'resource={{"ip": "{host}", "user": "wfrun2"}}')
    assert r.code == 0, r.out + r.err
    assert "plain step runs as wfrun2" in r.out


def job_runner_wf(host: str, scheduler: bool) -> str:
    return f"""
jobs:
  batch:
    steps:
      - id: jr
        uses: marketplace/job_runner/v4.0
        with:
          resource: {{ip: "{host}", user: wfrun2, schedulerType: slurm}}
          rundir: ${{PWD}}/jr
          scheduler: {str(scheduler).lower()}
          poll_interval: 1
          slurm: {{partition: debug, time: "00:05:00", cpus_per_task: 1}}
          script: |
            echo "job user is $(whoami)"
"""


@pytest.mark.parametrize("scheduler", [True, False], ids=["slurm", "ssh-mode"])
def test_job_runner_uses_resource_user(cluster, write, scheduler):
    run, host = cluster
    r = run(write("w.yaml", job_runner_wf(host, scheduler)))
    assert r.code == 0, r.out + r.err
    assert "job user is wfrun2" in r.out
    if scheduler:
        assert "SLURM job submitted:" in r.out
