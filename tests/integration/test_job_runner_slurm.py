"""job_runner against the real single-node Slurm (slurmctld, slurmd, slurmdbd) and its PBS wrappers.

The resource has no ip, so sbatch/qsub run on this machine through the local
target; tests/integration/test_ssh_workflows.py drives the same over SSH.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import start_until_batch_job_runs

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module", autouse=True)
def slurm_up(slurm):
    """Every test here needs the real cluster."""


def squeue_ids() -> set[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout
    return {line.split("_")[0] for line in out.split()}


def sacct(jobid: str) -> list[str]:
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-j", jobid, "-o", "JobID,State,ExitCode"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line]


SLURM_DEFAULTS = 'partition: debug\ntime: "00:05:00"\ncpus_per_task: 1'


def _merge(defaults: str, overrides: str) -> str:
    """YAML 'key: value' lines, overrides replacing defaults with the same key."""
    lines = {}
    for text in (defaults, overrides):
        for line in text.strip().splitlines():
            lines[line.split(":", 1)[0]] = line
    return "\n".join(lines.values())


def job_runner_workflow(script: str, *, kind: str = "slurm", slurm: str = "", pbs: str = "", extra_step: str = "",
                        version: str = "v4.0", step_extra: str = "") -> str:
    indent = lambda text, n: "\n".join(" " * n + line for line in text.strip("\n").splitlines())  # noqa: E731
    return f"""
jobs:
  batch:
    steps:
      - id: jr
        name: batch job
{indent(step_extra, 8) if step_extra else ""}
        uses: marketplace/job_runner/{version}
        with:
          resource: {{ip: '', schedulerType: {kind}}}
          rundir: ${{PWD}}/jr
          scheduler: true
          poll_interval: 1
          slurm:
{indent(_merge(SLURM_DEFAULTS, slurm), 12)}
          pbs:
            walltime: "00:05:00"
{indent(pbs, 12) if pbs else ""}
          script: |
{indent(script, 12)}
{extra_step}
"""


def test_slurm_job_completes_with_outputs_markers_and_streamed_output(wfrun, write):
    wf = write("w.yaml", job_runner_workflow('echo "line from the batch job"\nsleep 2\necho "last line"') + """
  after:
    needs: [batch]
    steps:
      - run: |
          echo "got ${{ needs.batch.outputs.jobid }} ${{ needs.batch.outputs.job_state }} ${{ needs.batch.outputs.exit_code }}"
          test -f "${{ needs.batch.outputs.rundir }}/job.started"
          test "$(cat ${{ needs.batch.outputs.rundir }}/HOSTNAME)" = "${{ needs.batch.outputs.node }}"
          test -f "${{ needs.batch.outputs.rundir }}/job.ended"
""")
    r = wfrun(wf)
    assert r.code == 0, r.out + r.err
    assert "[batch/batch job] line from the batch job" in r.out and "[batch/batch job] last line" in r.out
    jobid = next(line.split()[-1] for line in r.out.splitlines() if "SLURM job submitted:" in line)
    assert f"got {jobid} COMPLETED 0" in r.out
    assert sacct(jobid) == [f"{jobid}|COMPLETED|0:0"]
    run_sh = next(r.home.glob("jobs/*/*/jr/run.sh")).read_text()
    assert "#SBATCH --partition=debug\n#SBATCH --time=00:05:00\n#SBATCH --nodes=1\n#SBATCH --cpus-per-task=1" in run_sh


def test_slurm_job_failing_with_exit_3(wfrun, write):
    r = wfrun(write("w.yaml", job_runner_workflow("echo failing\nexit 3", )))
    assert r.code == 1
    assert "ended FAILED with exit code 3" in r.out
    steps = r.job("batch")["steps"]
    assert steps[0]["status"] == "failed" and steps[0]["exit_code"] == 3


def test_pbs_job_completes_and_fails(wfrun, write):
    r = wfrun(write("ok.yaml", job_runner_workflow('echo "pbs job $PBS_JOBID"', kind="pbs", pbs="select: 1:ncpus=1")))
    assert r.code == 0, r.out
    assert "PBS job submitted:" in r.out and "pbs job" in r.out
    r = wfrun(write("bad.yaml", job_runner_workflow("exit 5", kind="pbs")))
    assert r.code == 1 and "ended FAILED with exit code 5" in r.out


def test_array_with_a_failing_task(wfrun, write):
    script = 'echo "task $SLURM_ARRAY_TASK_ID"\n[ "$SLURM_ARRAY_TASK_ID" != 2 ]'
    r = wfrun(write("w.yaml", job_runner_workflow(script, slurm='array: "0-3%2"')))
    assert r.code == 1, r.out
    jobid = next(line.split()[-1] for line in r.out.splitlines() if "SLURM job submitted:" in line)
    assert f"1 of 4 array tasks failed: {jobid}_2 FAILED (exit 1)" in r.out
    for task in ("task 0", "task 1", "task 2", "task 3"):
        assert task in r.out


def test_v35_inputs(wfrun, write):
    # v3.5 has fewer inputs than v4.0 (slurm: partition, time, scheduler_directives; pbs: scheduler_directives),
    # and with: is checked against the version called: pass only what v3.5 declares.
    text = job_runner_workflow('echo "v3.5 job"', version="v3.5",
                               slurm='scheduler_directives: "#SBATCH --job-name=ignored-by-cli"')
    text = text.replace("            cpus_per_task: 1\n", "").replace("          poll_interval: 1\n", "").replace('walltime: "00:05:00"', 'scheduler_directives: ""')
    wf = write("w.yaml", text)
    r = wfrun(wf)
    assert r.code == 0, r.out
    run_sh = next(r.home.glob("jobs/*/*/jr/run.sh")).read_text()
    assert "#SBATCH --partition=debug\n#SBATCH --time=00:05:00\n#SBATCH --job-name=ignored-by-cli" in run_sh
    assert "job.started" not in run_sh  # v3.5 has no markers


def test_directive_injection_refused_before_submitting(wfrun, write):
    before = subprocess.run(["sacct", "-X", "-n", "-o", "JobID", "-S", "now-1hours"], capture_output=True, text=True).stdout.split()
    wf = write("w.yaml", job_runner_workflow("echo no", slurm='qos: "normal\\n#SBATCH --uid=0"'))
    r = wfrun(wf)
    assert r.code == 2
    assert "job_runner: slurm.qos has an invalid value 'normal\\n#SBATCH --uid=0'" in r.err
    after = subprocess.run(["sacct", "-X", "-n", "-o", "JobID", "-S", "now-1hours"], capture_output=True, text=True).stdout.split()
    assert before == after


def test_interrupt_cancels_the_batch_job_runs_cancel_sh_and_removes_markers(tmp_path, write):
    script = 'echo "touch $PWD/cancel.ran" > cancel.sh\necho started\nsleep 300'
    wf = write("w.yaml", job_runner_workflow(script, ))
    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none")}
    proc, jobid, lines = start_until_batch_job_runs([str(wf), "--grace", "2"], env, "[batch/batch job] started")
    assert jobid in squeue_ids(), "".join(lines)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    while jobid in squeue_ids() and time.monotonic() - t0 < 10:
        time.sleep(0.2)
    assert jobid not in squeue_ids()
    assert sacct(jobid)[0].split("|")[1].startswith("CANCELLED")
    rundir = next((tmp_path / "home").glob("jobs/*/*/jr"))
    assert (rundir / "cancel.ran").exists()
    assert not (rundir / "jobid").exists() and not (rundir / "job.started").exists() and (rundir / "job.ended").exists()


@pytest.mark.slow
def test_timeout_is_reported_and_termination_signal_arrives_first(wfrun, write):
    """--time=1 minute; SIGUSR1 asked 40 s before the walltime reaches the script, then TIMEOUT."""
    script = 'trap \'echo "got USR1, checkpointing"; touch checkpointed\' USR1\nfor i in $(seq 200); do sleep 1; done'
    wf = write("w.yaml", job_runner_workflow(script, slurm='time: "00:01:00"',
                                              step_extra="termination: {signal: USR1, before: 40s}"))
    r = wfrun(wf, timeout=240)
    assert r.code == 0, r.out
    assert "reached its time limit (TIMEOUT); job_runner v4.0 treats this as a graceful end" in r.out
    assert "got USR1, checkpointing" in r.out
    assert next(r.home.glob("jobs/*/*/jr/checkpointed"))


@pytest.mark.slow
def test_slurmctld_down_for_20s_during_polling(wfrun, write, tmp_path):
    """The controller disappears while the job runs; queries fail; the run waits and finishes correctly."""
    pidfile = Path("/var/lib/wfrun-test/slurm/pid/slurmctld.pid")
    wf = write("w.yaml", job_runner_workflow('echo working\nsleep 25\necho finished\nexit 4', ))
    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none")}
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "[batch/batch job] working" in line:
                break
        os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)
        time.sleep(20)
    finally:
        start = subprocess.run(["bash", str(ROOT / "tests/infra/slurm.sh"), "start"], capture_output=True, text=True, timeout=300)
        assert start.returncode == 0, start.stdout + start.stderr
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 1, out
    assert "status query failed" in (tmp_path / "home").joinpath(
        next((tmp_path / "home").glob("jobs/*/*/logs/batch/01-jr.log")).relative_to(tmp_path / "home")).read_text()
    assert "ended FAILED with exit code 4" in out and "finished" in out


def test_job_runner_example_on_the_slurm_cluster(wfrun):
    example = ROOT / "examples" / "job-runner.yaml"
    r = wfrun(example, "--set", 'resource={"ip": "", "schedulerType": "slurm"}', "--set", "scheduler=true",
              "--set", "slurm.partition=debug")
    assert r.code == 0, r.out + r.err
    import re

    assert "SLURM job submitted:" in r.out and re.search(r"batch job '\d+' ended COMPLETED on '\S+'", r.out)
    assert "result=42" in r.out


def test_pbs_interrupt_cancels_with_qdel(tmp_path, write):
    wf = write("w.yaml", job_runner_workflow('echo "touch $PWD/cancel.ran" > cancel.sh\necho started\nsleep 300', kind="pbs"))
    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none")}
    proc, jobid, lines = start_until_batch_job_runs([str(wf), "--grace", "2"], env, "[batch/batch job] started")
    assert jobid in squeue_ids(), "".join(lines)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    t0 = time.monotonic()
    while jobid in squeue_ids() and time.monotonic() - t0 < 10:
        time.sleep(0.2)
    assert jobid not in squeue_ids()
    assert (next((tmp_path / "home").glob("jobs/*/*/jr")) / "cancel.ran").exists()


def test_node_failure_relaunches_the_batch_job_and_records_each_attempt(tmp_path, write):
    """The node goes down under a running job (NODE_FAIL, not requeued by Slurm): job_runner submits it again."""
    script = 'if [ -f first.done ]; then echo "second launch"; exit 0; fi\ntouch first.done\necho "first launch"\nsleep 120'
    wf = write("w.yaml", job_runner_workflow(script, slurm='scheduler_directives: "#SBATCH --no-requeue"'))
    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none")}
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "[batch/batch job] first launch" in line:
                break
        node = subprocess.run(["sinfo", "-h", "-o", "%n"], capture_output=True, text=True).stdout.split()[0]
        subprocess.run(["scontrol", "update", f"nodename={node}", "state=down", "reason=wfrun-test"], check=True)
        out, _ = proc.communicate(timeout=120)
    finally:
        subprocess.run(["bash", str(ROOT / "tests/infra/slurm.sh"), "start"], capture_output=True, timeout=300)
    out = "".join(lines) + out
    assert proc.returncode == 0, out
    assert "ended NODE_FAIL; relaunching (1/2)" in out and "second launch" in out
    status = subprocess.run([sys.executable, "-m", "workflow_runner", "status", "1", "--json"], env=env,
                            capture_output=True, text=True)
    assert status.returncode == 0, status.stderr
    batches = json.loads(status.stdout)
    text = json.dumps(batches)
    assert text.count('"NODE_FAIL"') >= 1 and text.count('"COMPLETED"') >= 1
