"""The engine against real local processes: scheduling, statuses, outputs, cleanup, cancel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def statuses(result) -> dict[str, str]:
    return {name: job["status"] for name, job in result.run_json()["jobs"].items()}


def step_statuses(result, job: str) -> list[tuple[str, str]]:
    return [(s["name"], s["status"]) for s in result.job(job)["steps"]]


def test_no_level_barrier(wfrun, write, tmp_path):
    """c needs only a; it must start while the unrelated slow b still runs."""
    stamp = tmp_path / "stamps"
    wf = write("w.yaml", f"""
jobs:
  a:
    steps: [{{run: "date +%s.%N > {stamp}.a"}}]
  b:
    steps: [{{run: "sleep 1.5; date +%s.%N > {stamp}.b"}}]
  c:
    needs: [a]
    steps: [{{run: "date +%s.%N > {stamp}.c"}}]
""")
    r = wfrun(wf, "-j", "4")
    assert r.code == 0, r.err
    c, b = float(Path(f"{stamp}.c").read_text()), float(Path(f"{stamp}.b").read_text())
    assert c < b - 1.0


def test_outputs_between_jobs_all_forms(wfrun, write):
    wf = write("w.yaml", """
jobs:
  produce:
    outputs:
      renamed: ${{ needs.produce.steps.second.outputs.b }}-x
    steps:
      - id: first
        run: |
          echo "a=1" >> $OUTPUTS
          echo "msg<<EOF" >> $OUTPUTS
          printf 'line one\\nline two\\n' >> $OUTPUTS
          echo "EOF" >> $OUTPUTS
      - id: second
        run: echo "b=${{ needs.produce.outputs.a }}2" >> $OUTPUTS
  consume:
    needs: [produce]
    steps:
      - run: |
          test "${{ needs.produce.outputs.renamed }}" = "12-x" || exit 10
          test "${{ needs.produce.steps.first.outputs.a }}" = "1" || exit 11
          test "${{ needs.produce.outputs.a }}" = "" || exit 12
  union:
    steps:
      - id: one
        run: echo "x=1" >> $OUTPUTS
      - run: echo "x=2" >> $OUTPUTS
      - run: |
          test "${{ steps.one.outputs.x }}" = 1 || exit 13
          test "${{ needs.union.outputs.x }}" = 2 || exit 14
""")
    r = wfrun(wf)
    assert r.code == 0, r.out + r.err
    assert statuses(r) == {"produce": "completed", "consume": "completed", "union": "completed"}


def test_multiline_output_reaches_dependent(wfrun, write, tmp_path):
    out = tmp_path / "got.txt"
    wf = write("w.yaml", f"""
jobs:
  a:
    steps:
      - run: |
          {{ echo "text<<END"; echo "l1"; echo "l2 with = sign"; echo "END"; }} >> $OUTPUTS
  b:
    needs: [a]
    steps:
      - run: |
          cat > {out} <<'X'
          ${{{{ needs.a.outputs.text }}}}
          X
""")
    r = wfrun(wf)
    assert r.code == 0, r.err
    assert out.read_text() == "l1\nl2 with = sign\n"


def test_status_keywords_on_steps_and_jobs(wfrun, write):
    wf = write("w.yaml", """
jobs:
  work:
    steps:
      - run: exit 4
      - name: completed
        if: ${{ completed }}
        run: echo no
      - name: error
        if: ${{ error }}
        run: echo yes
      - name: not-completed
        if: ${{ !completed }}
        run: echo yes
      - name: canceled
        if: ${{ canceled }}
        run: echo no
      - name: always
        if: ${{ always }}
        run: echo yes
      - name: never
        if: ${{ never }}
        run: echo no
      - name: default
        run: echo no
  on-completed:
    needs: [work]
    steps: [{run: echo no}]
  on-error:
    needs: [work]
    if: ${{ error }}
    steps: [{run: echo yes}]
  on-failure-fn:
    needs: [work]
    if: failure()
    steps: [{run: echo yes}]
  ternary:
    needs: [work]
    if: "${{ inputs.fallback ? error : never }}"
    steps: [{run: echo yes}]
  downstream-of-skipped:
    needs: [on-completed]
    if: ${{ error }}
    steps: [{run: echo yes-transitive}]
  independent:
    steps: [{run: sleep 0.5}]
'on':
  execute:
    inputs:
      fallback: {type: boolean, default: true}
""")
    r = wfrun(wf)
    assert r.code == 1
    assert statuses(r) == {
        "work": "failed", "on-completed": "skipped", "on-error": "completed", "on-failure-fn": "completed",
        "ternary": "completed", "downstream-of-skipped": "completed", "independent": "completed",
    }
    steps = dict(step_statuses(r, "work"))
    assert steps == {
        "exit 4": "failed", "completed": "skipped", "error": "completed", "not-completed": "completed",
        "canceled": "skipped", "always": "completed", "never": "skipped", "default": "skipped",
    }


def test_skipped_by_if_does_not_block_dependents(wfrun, write):
    wf = write("w.yaml", """
jobs:
  maybe:
    if: ${{ false }}
    steps: [{run: exit 1}]
  after:
    needs: [maybe]
    steps: [{run: echo ran}]
""")
    r = wfrun(wf)
    assert r.code == 0
    assert statuses(r) == {"maybe": "skipped", "after": "completed"}


def test_cleanup_order_failure_and_own_outputs(wfrun, write, tmp_path):
    log = tmp_path / "order.log"
    wf = write("w.yaml", f"""
jobs:
  j:
    steps:
      - id: one
        run: echo "token=abc" >> $OUTPUTS; echo one >> {log}
        cleanup: echo "cleanup-one ${{{{ steps.one.outputs.token }}}}" >> {log}
      - id: two
        run: echo two >> {log}
        cleanup: echo "cleanup-two $(grep token= $OUTPUTS || echo none)" >> {log}; exit 9
      - run: echo three >> {log}; exit 5
        cleanup: echo cleanup-three >> {log}
      - run: echo never >> {log}
        cleanup: echo cleanup-never >> {log}
""")
    r = wfrun(wf)
    assert r.code == 1
    assert log.read_text().split("\n")[:-1] == ["one", "two", "three", "cleanup-three", "cleanup-two none", "cleanup-one abc"]
    cleanup = [s for s in r.job("j")["steps"] if s["name"].endswith("(cleanup)")]
    assert [c["status"] for c in cleanup] == ["completed", "failed", "completed"]


def test_early_cancel_any_job_failed(wfrun, write, tmp_path):
    marker = tmp_path / "served"
    wf = write("w.yaml", f"""
jobs:
  service:
    steps:
      - name: serve
        early-cancel: any-job-failed
        run: sleep 30; touch {marker}
        cleanup: echo cleaned > {marker}.cleanup
      - name: after
        if: ${{{{ canceled }}}}
        run: echo "runs because the job was canceled"
  work:
    steps: [{{run: sleep 0.3; exit 2}}]
""")
    t0 = time.monotonic()
    r = wfrun(wf, "--grace", "2")
    assert time.monotonic() - t0 < 10
    assert r.code == 1
    assert statuses(r) == {"service": "canceled", "work": "failed"}
    assert dict(step_statuses(r, "service"))["serve"] == "canceled"
    assert dict(step_statuses(r, "service"))["after"] == "completed"
    assert not marker.exists()
    assert (tmp_path / "served.cleanup").read_text() == "cleaned\n"


def test_retry_with_attempt_number_and_interval(wfrun, write, tmp_path):
    count = tmp_path / "count"
    wf = write("w.yaml", f"""
jobs:
  j:
    steps:
      - id: flaky
        retry: {{max-retries: 3, interval: 0.1s}}
        run: |
          echo "attempt $PW_WORKFLOW_STEP_CURRENT_RETRY of $PW_WORKFLOW_STEP_MAX_RETRIES" >> {count}
          echo "last=$PW_WORKFLOW_STEP_CURRENT_RETRY" >> $OUTPUTS
          [ "$PW_WORKFLOW_STEP_CURRENT_RETRY" -ge 2 ]
      - run: test "${{{{ steps.flaky.outputs.last }}}}" = 2
""")
    r = wfrun(wf)
    assert r.code == 0, r.out
    assert count.read_text().splitlines() == ["attempt 0 of 3", "attempt 1 of 3", "attempt 2 of 3"]


def test_retry_count_from_own_earlier_output(wfrun, write, tmp_path):
    """The round-robin pattern: max-retries computed from the job's own earlier step."""
    count = tmp_path / "count"
    wf = write("w.yaml", f"""
jobs:
  rr:
    steps:
      - run: echo "N=3" >> $OUTPUTS
      - retry:
          max-retries: ${{{{ needs.rr.outputs.N - 1 }}}}
          interval: 0
          timeout: 10s
        run: echo x >> {count}; exit 1
      - if: ${{{{ always }}}}
        run: echo "::notice::all attempts failed"
""")
    r = wfrun(wf)
    assert r.code == 1
    assert count.read_text().count("x") == 3
    assert "NOTICE: all attempts failed" in r.out


def test_step_timeout(wfrun, write):
    wf = write("w.yaml", """
jobs:
  j:
    steps:
      - run: sleep 20
        timeout: 1s
""")
    t0 = time.monotonic()
    r = wfrun(wf, "--grace", "1")
    assert time.monotonic() - t0 < 8
    assert r.code == 1
    assert "timed out after 1s" in r.out


def test_workflow_timeout(wfrun, write):
    wf = write("w.yaml", """
timeout: 1s
jobs:
  j:
    steps:
      - run: sleep 20
""")
    t0 = time.monotonic()
    r = wfrun(wf, "--grace", "1")
    assert time.monotonic() - t0 < 8
    assert r.code == 1
    assert statuses(r) == {"j": "canceled"}


def test_ignore_errors(wfrun, write):
    wf = write("w.yaml", """
jobs:
  j:
    steps:
      - run: exit 3
        ignore-errors: true
      - run: echo next
""")
    r = wfrun(wf)
    assert r.code == 0
    assert [s for _, s in step_statuses(r, "j")] == ["completed", "completed"]
    assert "ignored" in r.out


def test_env_levels_working_directory_and_pw_vars(wfrun, write, tmp_path):
    out = tmp_path / "env.json"
    wf = write("w.yaml", f"""
name: envdemo
env:
  LEVEL: workflow
  GREETING: hello ${{{{ inputs.who }}}}
jobs:
  j:
    env:
      LEVEL: job
      JOBONLY: "1"
    working-directory: ${{PW_JOB_DIR}}/sub
    steps:
      - env:
          LEVEL: step
          FROM_ENV: ${{{{ env.JOBONLY }}}}-x
        run: |
          python3 -c 'import json, os; json.dump({{k: os.environ.get(k) for k in ["LEVEL", "GREETING", "JOBONLY", "FROM_ENV", "PW_JOB_ID", "PW_JOB_DIR", "PW_PARENT_JOB_DIR", "PW_WORKFLOW_NAME", "PW_USER", "PW_MATRIX_INDEX", "PW_WORKFLOW_STEP_CURRENT_RETRY", "OUTPUTS"]}} | {{"cwd": os.getcwd()}}, open("{out}", "w"))'
'on':
  execute:
    inputs:
      who: {{type: string, default: you}}
""")
    r = wfrun(wf)
    assert r.code == 0, r.out + r.err
    env = json.loads(out.read_text())
    assert env["LEVEL"] == "step" and env["GREETING"] == "hello you" and env["FROM_ENV"] == "1-x"
    assert env["PW_WORKFLOW_NAME"] == "envdemo" and env["PW_JOB_ID"] == "1"
    assert env["PW_JOB_DIR"] == env["PW_PARENT_JOB_DIR"] and env["PW_JOB_DIR"].endswith("jobs/envdemo/00001")
    assert env["cwd"] == env["PW_JOB_DIR"] + "/sub"
    assert env["PW_MATRIX_INDEX"] == "0" and env["PW_WORKFLOW_STEP_CURRENT_RETRY"] == "0"
    assert Path(env["OUTPUTS"]).parent.parent.name == "outputs"


def test_max_parallel_bounds_local_processes(wfrun, write, tmp_path):
    d = tmp_path / "conc"
    d.mkdir()
    jobs = "\n".join(
        f"  j{i}:\n    steps:\n      - run: |\n          touch {d}/$$; ls {d} | wc -l >> {d}.seen; sleep 0.2; rm {d}/$$"
        for i in range(8)
    )
    wf = write("w.yaml", "jobs:\n" + jobs + "\n")
    r = wfrun(wf, "-j", "2")
    assert r.code == 0, r.err
    seen = [int(x) for x in Path(f"{d}.seen").read_text().split()]
    assert len(seen) == 8 and max(seen) <= 2 and max(seen) == 2


def test_annotations_and_error_message(wfrun, write):
    wf = write("w.yaml", """
jobs:
  j:
    steps:
      - run: |
          echo "::notice::just so you know"
          echo "::warning file=x.py,line=3::careful"
          echo "::group::details"
          echo inside
          echo "::endgroup::"
          echo "::error title=Boom::it broke"
          exit 1
""")
    r = wfrun(wf)
    assert r.code == 1
    assert "NOTICE: just so you know" in r.out and "WARNING: careful" in r.out
    assert "✗ j / exit 1" not in r.out
    assert "Boom: it broke" in r.out.splitlines()[-2]


def test_password_inputs_are_masked(wfrun, write):
    wf = write("w.yaml", """
jobs:
  j:
    steps:
      - run: echo "token is ${{ inputs.token }}"; echo "again $TOKEN"
        env: {TOKEN: "${{ inputs.token }}"}
'on':
  execute:
    inputs:
      token: {type: password}
""")
    r = wfrun(wf, "--set", "token=s3cr3t-value")
    assert r.code == 0
    assert "s3cr3t-value" not in r.out
    assert "token is ***" in r.out and "again ***" in r.out
    logs = list(r.home.glob("jobs/*/*/logs/**/*.log"))
    assert logs and all("s3cr3t-value" not in p.read_text() for p in logs)


def test_json_events(wfrun, write):
    wf = write("w.yaml", "jobs:\n  a:\n    steps: [{run: echo hi}]\n")
    r = wfrun(wf, "--json")
    assert r.code == 0
    events = [json.loads(line) for line in r.out.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunFinished"
    assert {"event": "StepOutput", "job": "a", "step": "echo hi", "line": "hi"} in events


def test_quiet_prints_only_summary(wfrun, write):
    wf = write("w.yaml", "jobs:\n  a:\n    steps: [{run: echo hi}]\n")
    r = wfrun(wf, "--quiet")
    assert r.code == 0
    assert r.out.strip().startswith("Run completed") and "hi" not in r.out


def test_cancel_jobs_builtin(wfrun, write):
    wf = write("w.yaml", """
jobs:
  work:
    steps:
      - run: echo working
      - uses: parallelworks/cancel-jobs
        with: {jobs: [work, other]}
      - name: after-cancel
        if: ${{ canceled }}
        run: echo "canceled path"
      - name: normal
        run: echo no
  other:
    steps:
      - run: sleep 30
  on-canceled:
    needs: [work]
    if: ${{ canceled }}
    steps: [{run: echo yes}]
""")
    t0 = time.monotonic()
    r = wfrun(wf, "--grace", "1")
    assert time.monotonic() - t0 < 10
    assert statuses(r)["work"] == "canceled"
    assert statuses(r)["other"] == "canceled"
    assert statuses(r)["on-canceled"] == "completed"
    steps = dict(step_statuses(r, "work"))
    assert steps["after-cancel"] == "completed" and steps["normal"] == "skipped"


def test_matrix_fail_fast_and_max_parallel(wfrun, write, tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    wf = write("w.yaml", f"""
jobs:
  m:
    strategy:
      max-parallel: 2
      matrix:
        i: [1, 2, 3, 4, 5, 6]
    steps:
      - run: |
          echo ${{{{ matrix.i }}}} >> {d}/started
          [ ${{{{ matrix.i }}}} != 2 ] || exit 1
          sleep 2
""")
    r = wfrun(wf, "--grace", "1")
    assert r.code == 1
    started = (d / "started").read_text().split()
    assert len(started) < 6, started
    assert set(statuses(r).values()) <= {"failed", "canceled"}


def test_runtime_expression_error_fails_step_with_location(wfrun, write):
    wf = write("w.yaml", """
jobs:
  j:
    steps:
      - run: echo ${{ fromJSON(inputs.text) }}
'on':
  execute:
    inputs:
      text: {type: string, default: "not json"}
""")
    r = wfrun(wf)
    assert r.code == 1
    assert "w.yaml:5:" in r.out


def test_subworkflow_failure_propagates(wfrun, write):
    write("child.yaml", "jobs:\n  inner:\n    steps: [{run: 'exit 7'}]\n")
    wf = write("parent.yaml", "jobs:\n  outer:\n    steps:\n      - uses: workflow/child\n")
    r = wfrun(wf)
    assert r.code == 1
    assert "outer/1/inner" in r.out and "exit code 7" in r.out


def _pgrep(pattern: str) -> list[str]:
    proc = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return proc.stdout.split()


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_cancels_runs_cleanups_and_leaves_no_process(tmp_path, write, sig, code):
    marker = f"wfrun-orphan-check-{os.getpid()}-{sig}"
    done = tmp_path / "cleanup.done"
    wf = write("w.yaml", f"""
jobs:
  a:
    steps:
      - run: |
          sleep 1000 &
          bash -c 'exec -a {marker} sleep 1000' &
          trap '' TERM
          exec -a {marker}-main sleep 1000
        cleanup: sleep 0.2; touch {done}
  b:
    needs: [a]
    steps: [{{run: echo never}}]
""")
    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none")}
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), "--grace", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 10
    while not _pgrep(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pgrep(marker), "step did not start"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == code, out + err
    assert done.exists(), "cleanup did not run"
    time.sleep(0.2)
    assert _pgrep(marker) == [], "processes left behind"
    run = json.loads(next((tmp_path / "home").glob("jobs/*/*/run.json")).read_text())
    assert run["jobs"]["a"]["status"] == "canceled" and run["jobs"]["b"]["status"] == "canceled"


def test_second_interrupt_cuts_grace_short(tmp_path, write):
    wf = write("w.yaml", "jobs:\n  a:\n    steps:\n      - run: trap '' TERM; sleep 1000\n")
    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none")}
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), "--grace", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(1.0)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert time.monotonic() - t0 < 5


def test_resource_aware_scheduling_never_exceeds_declared_cpus(wfrun, write, tmp_path):
    """Jobs of 2 and 1 CPUs on a 4-CPU budget: the jobs record the CPUs in use when they run."""
    d = tmp_path / "cpu"
    d.mkdir()
    jobs = []
    for i in range(6):
        cpus = 2 if i % 2 == 0 else 1
        jobs.append(
            f"  j{i}:\n    resources: {{cpus: {cpus}, memory: 100M}}\n    steps:\n      - run: |\n"
            f"          echo {cpus} > {d}/{i}.cpus\n"
            f"          t=0; for f in {d}/*.cpus; do v=$(cat $f 2>/dev/null); t=$((t + ${{v:-0}})); done; echo $t >> {d}.seen\n"
            f"          sleep 0.3\n"
            f"          rm {d}/{i}.cpus\n"
        )
    wf = write("w.yaml", "jobs:\n" + "".join(jobs))
    r = wfrun(wf, "--cpus", "4", "-j", "8")
    assert r.code == 0, r.out + r.err
    seen = [int(x) for x in Path(f"{d}.seen").read_text().split()]
    assert len(seen) == 6 and max(seen) <= 4 and max(seen) >= 3


def test_job_larger_than_machine_is_refused_before_running(wfrun, write, tmp_path):
    marker = tmp_path / "ran"
    wf = write("w.yaml", f"jobs:\n  small:\n    steps: [{{run: touch {marker}}}]\n  big:\n    resources: {{cpus: 1000}}\n    steps: [{{run: 'true'}}]\n")
    r = wfrun(wf)
    assert r.code == 2 and not marker.exists()
    assert "w.yaml:5:16: job 'big' asks for 1000 CPUs but this machine has" in r.err


def test_termination_signal_before_timeout_lets_next_attempt_resume(wfrun, write, tmp_path):
    """SIGTERM 2 s before the 3 s timeout: the program checkpoints; the retry resumes from the checkpoint."""
    ck = tmp_path / "checkpoint"
    wf = write("w.yaml", f"""
jobs:
  train:
    steps:
      - timeout: 3s
        termination: {{signal: TERM, before: 2s}}
        retry: {{max-retries: 1}}
        run: |
          start=$(cat {ck} 2>/dev/null || echo 0)
          echo "attempt $PW_WORKFLOW_STEP_CURRENT_RETRY starts at epoch $start"
          trap 'echo $i > {ck}; echo "checkpointed at $i"; exit 1' TERM
          for i in $(seq $start 30); do
            if [ $i -ge 12 ]; then echo "finished"; exit 0; fi
            sleep 0.1
          done
""")
    r = wfrun(wf, "--grace", "1")
    assert r.code == 0, r.out
    assert "checkpointed at" in r.out
    resumed = int(ck.read_text())
    assert resumed > 0 and f"attempt 1 starts at epoch {resumed}" in r.out and "finished" in r.out


def test_job_timeout_cancels_the_running_step_and_fails_the_job(wfrun, write, tmp_path):
    done = tmp_path / "cleanup"
    wf = write("w.yaml", f"""
jobs:
  slow:
    timeout: 1s
    steps:
      - run: sleep 30
        cleanup: touch {done}
      - run: echo never
  other:
    steps: [{{run: echo fine}}]
""")
    t0 = time.monotonic()
    r = wfrun(wf, "--grace", "1")
    assert time.monotonic() - t0 < 10
    assert r.code == 1
    assert statuses(r) == {"slow": "failed", "other": "completed"}
    assert "job timed out after 1s" in r.out and done.exists()


def test_the_shell_comes_from_the_path_each_step_sees(wfrun, write, tmp_path):
    """wfrun finds bash on PATH once per PATH; a step whose env puts another bash first runs that one."""
    wrapped = tmp_path / "wrapped"
    wrapped.mkdir()
    (wrapped / "bash").write_text('#!/bin/sh\necho "via the wrapper" > "$MARK"\nexec /bin/bash "$@"\n')
    (wrapped / "bash").chmod(0o755)
    mark = tmp_path / "mark"
    wf = write("w.yaml", f"""
jobs:
  plain:
    steps: [{{run: "echo plain"}}]
  wrapped:
    needs: [plain]
    env: {{PATH: "{wrapped}:/usr/bin:/bin", MARK: "{mark}"}}
    steps: [{{run: "echo wrapped"}}]
  again:
    needs: [wrapped]
    steps: [{{run: "echo again"}}]
""")
    r = wfrun(wf)
    assert r.code == 0, r.err
    assert mark.read_text() == "via the wrapper\n"
    assert statuses(r) == {"plain": "completed", "wrapped": "completed", "again": "completed"}


def test_a_working_directory_deleted_between_steps_is_made_again(wfrun, write, tmp_path):
    """wfrun makes a step's working directory once per run; one a step deleted is made again for the next."""
    work = tmp_path / "work"
    wf = write("w.yaml", f"""
jobs:
  a:
    working-directory: {work}
    steps:
      - run: pwd > ../first
      - run: cd .. && rm -rf "{work}"
      - run: pwd > ../third
""")
    r = wfrun(wf)
    assert r.code == 0, r.err
    assert (tmp_path / "first").read_text() == (tmp_path / "third").read_text() == f"{work}\n"
