"""The engine's semantics, in process and in milliseconds: no subprocess, no shell, fake targets.

needs (fan-in waits), ``if:`` on jobs and steps, cleanup order (reverse; after failure and cancel;
not cut by the cancel), early-cancel, retries, cancel, fail-fast and timeouts. The integration
tests (tests/integration/test_engine.py) check the same with real processes; these pin the order
of events exactly.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine_harness import Fake, assert_before, run_workflow  # noqa: E402

from workflow_runner.engine import status as st  # noqa: E402
from workflow_runner.engine.stepcall import StepOutcome  # noqa: E402


def test_fan_in_waits_for_every_need():
    trace = run_workflow("""
jobs:
  slow:
    steps: [{run: slow}]
  fast:
    steps: [{run: fast}]
  join:
    needs: [slow, fast]
    steps: [{run: join}]
""", fakes={"slow": Fake(sleep=0.03)})
    assert trace.jobs() == {"slow": "completed", "fast": "completed", "join": "completed"}
    assert_before(trace, ("job", "slow", "completed"), ("job", "join", "running"))
    assert_before(trace, ("job", "fast", "completed"), ("job", "join", "running"))
    assert trace.execs()[-1] == "join"
    assert trace.outcome.exit_code == 0


def test_no_level_barrier_a_job_starts_when_its_own_needs_are_done():
    trace = run_workflow("""
jobs:
  a:
    steps: [{run: a}]
  slow:
    steps: [{run: slow}]
  after-a:
    needs: [a]
    steps: [{run: after-a}]
""", fakes={"slow": Fake(sleep=0.05)})
    assert_before(trace, ("exec", "local", "after-a"), ("job", "slow", "completed"))


def test_job_if_and_status_functions_follow_the_needs():
    trace = run_workflow("""
jobs:
  work:
    steps: [{run: fail}]
  on-success:
    needs: [work]
    steps: [{run: no}]
  on-failure:
    needs: [work]
    if: failure()
    steps: [{run: yes-failure}]
  always:
    needs: [work]
    if: ${{ always }}
    steps: [{run: yes-always}]
  transitive:
    needs: [on-success]
    if: ${{ error }}
    steps: [{run: yes-transitive}]
  off:
    if: ${{ false }}
    steps: [{run: never}]
  after-off:
    needs: [off]
    steps: [{run: after-off}]
""", fakes={"fail": Fake(exit=4)})
    assert trace.jobs() == {"work": "failed", "on-success": "skipped", "on-failure": "completed", "always": "completed",
                            "transitive": "completed", "off": "skipped", "after-off": "completed"}
    assert "no" not in trace.execs() and "never" not in trace.execs()
    assert trace.outcome.exit_code == 1


def test_a_failure_is_seen_through_every_generation_and_both_sides_of_a_diamond():
    """failure()/success() of a job read all its ancestors, not only its needs (scheduler's lineage)."""
    trace = run_workflow("""
jobs:
  root:
    steps: [{run: fail}]
  left:
    needs: [root]
    if: always()
    steps: [{run: left}]
  right:
    needs: [root]
    if: always()
    steps: [{run: right}]
  join:
    needs: [left, right]
    if: always()
    steps: [{run: join}]
  deep-failure:
    needs: [join]
    if: failure()
    steps: [{run: deep-failure}]
  deep-success:
    needs: [join]
    steps: [{run: deep-success}]
  clean:
    steps: [{run: clean}]
  after-clean:
    needs: [clean]
    if: failure()
    steps: [{run: after-clean}]
""", fakes={"fail": Fake(exit=1)})
    assert trace.jobs() == {"root": "failed", "left": "completed", "right": "completed", "join": "completed",
                            "deep-failure": "completed", "deep-success": "skipped", "clean": "completed",
                            "after-clean": "skipped"}


def test_step_if_after_a_failure():
    trace = run_workflow("""
jobs:
  j:
    steps:
      - run: fail
      - {name: default, run: default}
      - {name: error, if: "${{ error }}", run: error}
      - {name: always, if: "${{ always }}", run: always}
      - {name: canceled, if: "${{ canceled }}", run: canceled}
""", fakes={"fail": Fake(exit=2)})
    assert trace.steps("j") == [("fail", st.FAILED), ("default", st.SKIPPED), ("error", st.COMPLETED),
                                ("always", st.COMPLETED), ("canceled", st.SKIPPED)]
    assert trace.messages[("j", "default")] == "an earlier step failed"
    assert trace.messages[("j", "fail")] == "exit code 2"


def test_cleanups_run_in_reverse_after_a_failure_and_each_even_if_one_fails():
    trace = run_workflow("""
jobs:
  j:
    steps:
      - {run: one, cleanup: c-one}
      - {run: two, cleanup: c-two}
      - {run: three, cleanup: c-three}
      - {run: never, cleanup: c-never}
""", fakes={"three": Fake(exit=5), "c-two": Fake(exit=9)})
    assert trace.execs() == ["one", "two", "three", "c-three", "c-two", "c-one"]
    assert [e[3] for e in trace.of("cleanup")] == [st.COMPLETED, st.FAILED, st.COMPLETED]
    assert_before(trace, ("cleanup", "j", "one (cleanup)", st.COMPLETED), ("job", "j", st.FAILED))


def test_cancel_kills_the_running_step_skips_the_rest_and_runs_every_cleanup_to_its_end():
    trace = run_workflow("""
jobs:
  j:
    steps:
      - {run: first, cleanup: c-first}
      - {run: long, cleanup: c-long}
      - {run: later, cleanup: c-later}
""", fakes={"long": Fake(sleep=5), "c-long": Fake(sleep=0.03)}, cancel_after=0.05)
    assert ("killed", "long") in trace.events
    assert "later" not in trace.execs()
    assert trace.steps("j") == [("first", st.COMPLETED), ("long", st.CANCELED), ("later", st.SKIPPED)]
    assert trace.execs()[-2:] == ["c-long", "c-first"]
    assert ("killed", "c-long") not in trace.events  # the cancel that ended the job does not cut its cleanup
    assert [e[3] for e in trace.of("cleanup")] == [st.COMPLETED, st.COMPLETED]
    assert trace.jobs() == {"j": st.CANCELED}
    assert trace.outcome.exit_code == 130


def test_cancel_before_a_job_starts_cancels_it_without_running_anything():
    trace = run_workflow("""
jobs:
  a:
    steps: [{run: long}]
  b:
    needs: [a]
    steps: [{run: b}]
""", fakes={"long": Fake(sleep=5)}, cancel_after=0.03)
    assert trace.jobs() == {"a": st.CANCELED, "b": st.CANCELED}
    assert "b" not in trace.execs()


def test_early_cancel_stops_a_running_step_when_any_job_fails():
    trace = run_workflow("""
jobs:
  service:
    steps:
      - {name: serve, early-cancel: any-job-failed, run: serve, cleanup: c-serve}
      - {name: after, if: "${{ canceled }}", run: after}
  work:
    steps: [{run: work}]
""", fakes={"serve": Fake(sleep=5), "work": Fake(sleep=0.02, exit=2)})
    assert ("killed", "serve") in trace.events
    assert trace.steps("service") == [("serve", st.CANCELED), ("after", st.COMPLETED)]
    assert trace.jobs() == {"service": st.CANCELED, "work": st.FAILED}
    assert "c-serve" in trace.execs()


def test_early_cancel_step_after_a_failure_does_not_start():
    trace = run_workflow("""
jobs:
  work:
    steps: [{run: work}]
  late:
    needs: [work]
    if: ${{ always }}
    steps:
      - {name: serve, early-cancel: any-job-failed, run: serve}
""", fakes={"work": Fake(exit=1)})
    assert "serve" not in trace.execs()
    assert trace.steps("late") == [("serve", st.CANCELED)]
    assert trace.messages[("late", "serve")] == "early-cancel: a job of the run had already failed"


def test_retries_count_attempts_and_stop_at_the_first_success():
    trace = run_workflow("""
jobs:
  j:
    steps:
      - {run: flaky, retry: {max-retries: 3, interval: 0s}}
      - {run: next}
""", fakes={"flaky": Fake(exits=[1, 1, 0])})
    assert trace.execs() == ["flaky", "flaky", "flaky", "next"]  # the third attempt succeeded: no fourth
    assert trace.steps("j") == [("flaky", st.COMPLETED), ("next", st.COMPLETED)]


def test_retries_exhausted_fail_the_step():
    trace = run_workflow("""
jobs:
  j:
    steps:
      - {run: hopeless, retry: {max-retries: 2}}
""", fakes={"hopeless": Fake(exit=7)})
    assert trace.execs() == ["hopeless"] * 3
    assert [e for e in trace.events if e[0] == "start"] == [("start", "j", "hopeless")] * 3
    assert trace.steps("j") == [("hopeless", st.FAILED)]


def test_fail_fast_cancels_the_siblings_of_a_failed_matrix_instance():
    trace = run_workflow("""
jobs:
  m:
    strategy:
      fail-fast: true
      matrix:
        n: [1, 2, 3]
    steps: [{run: "step ${{ matrix.n }}"}]
""", fakes={"step 1": Fake(exit=1, sleep=0.01), "step 2": Fake(sleep=5), "step 3": Fake(sleep=5)}, max_parallel=4)
    statuses = {k: v for k, v in trace.jobs().items()}
    assert sorted(statuses.values()) == [st.CANCELED, st.CANCELED, st.FAILED]
    assert ("killed", "step 2") in trace.events and ("killed", "step 3") in trace.events


def test_step_timeout_fails_the_step_and_kills_its_script():
    trace = run_workflow("""
jobs:
  j:
    steps:
      - {run: long, timeout: 0.05s, cleanup: c-long}
      - {name: next, run: next}
""", fakes={"long": Fake(sleep=5)})
    assert ("killed", "long") in trace.events
    assert trace.steps("j") == [("long", st.FAILED), ("next", st.SKIPPED)]
    assert trace.messages[("j", "long")] == "timed out after 0.05s"
    assert "c-long" in trace.execs()


def test_job_timeout_fails_the_job_and_its_cleanups_still_run():
    trace = run_workflow("""
jobs:
  j:
    timeout: 0.05s
    steps:
      - {run: long, cleanup: c-long}
      - {name: next, run: next}
""", fakes={"long": Fake(sleep=5), "c-long": Fake(sleep=0.06)})
    assert ("killed", "long") in trace.events
    assert trace.jobs() == {"j": st.FAILED}
    assert trace.execs() == ["long", "c-long"]
    assert [e[3] for e in trace.of("cleanup")] == [st.COMPLETED]  # the job's timeout does not cover its cleanups


def test_outputs_reach_needs_and_later_steps():
    trace = run_workflow("""
jobs:
  a:
    steps:
      - {id: s, run: produce}
      - {run: "use ${{ steps.s.outputs.token }}"}
  b:
    needs: [a]
    steps: [{run: "got ${{ needs.a.outputs.token }}"}]
""", fakes={"produce": Fake(outputs={"token": "xyz"})})
    assert trace.execs() == ["produce", "use xyz", "got xyz"]


class RecordingActions:
    """An action table (engine.stepcall.ActionTable) that records what a ``uses:`` step saw."""

    def __init__(self) -> None:
        self.calls: list = []

    async def run_uses(self, call):
        self.calls.append(call)
        call.set_output("jobid", "42")
        call.log.line("hello from the action")
        return StepOutcome(st.COMPLETED, 0, {"done": "yes"})


def test_uses_steps_go_through_the_action_table_with_a_step_call():
    actions = RecordingActions()
    trace = run_workflow("""
jobs:
  a:
    steps:
      - uses: parallelworks/checkout
        with: {repo: "https://example.invalid/r.git"}
  b:
    needs: [a]
    steps: [{run: "got ${{ needs.a.outputs.done }} ${{ needs.a.outputs.jobid }}"}]
""", actions=actions)
    (call,) = actions.calls
    assert call.job_key == "a" and call.step.uses == "parallelworks/checkout"
    assert call.placement.local and call.env["OUTPUTS"].endswith(".0")
    assert trace.execs() == ["got yes 42"]


def test_a_cancel_that_arrives_during_a_cleanup_does_not_cut_it():
    trace = run_workflow("""
jobs:
  j:
    steps:
      - {run: quick, cleanup: c-slow}
  other:
    steps: [{run: long}]
""", fakes={"c-slow": Fake(sleep=0.08), "long": Fake(sleep=5)}, cancel_after=0.03)
    assert ("killed", "long") in trace.events
    assert ("killed", "c-slow") not in trace.events
    assert trace.of("cleanup") == [("cleanup", "j", "quick (cleanup)", st.COMPLETED)]
    assert trace.jobs() == {"j": st.CANCELED, "other": st.CANCELED}  # still live while its cleanups run
    assert trace.outcome.exit_code == 130


def test_cancel_jobs_builtin_through_the_real_action_table():
    from workflow_runner.actions.registry import default_actions

    trace = run_workflow("""
jobs:
  long:
    steps: [{run: long, cleanup: c-long}]
  stopper:
    steps:
      - run: wait-a-bit
      - uses: parallelworks/cancel-jobs
        with: {jobs: [long, stopper]}
      - {name: after, run: after}
      - {name: on-cancel, if: "${{ canceled }}", run: on-cancel}
""", fakes={"long": Fake(sleep=5), "wait-a-bit": Fake(sleep=0.03)}, actions=default_actions())
    assert ("killed", "long") in trace.events
    assert "c-long" in trace.execs()
    assert trace.jobs() == {"long": st.CANCELED, "stopper": st.CANCELED}
    assert trace.steps("stopper")[1:] == [("uses parallelworks/cancel-jobs", st.COMPLETED), ("after", st.SKIPPED),
                                          ("on-cancel", st.COMPLETED)]
    assert "after" not in trace.execs()


def test_a_called_workflow_runs_nested_through_the_step_call():
    from workflow_runner.actions.registry import default_actions

    trace = run_workflow("""
jobs:
  outer:
    steps:
      - id: call
        uses: workflow/inner
        with: {greeting: hi}
      - run: "after ${{ steps.call.outputs.word }}"
""", files={"inner.yaml": """
jobs:
  first:
    steps: [{run: "say ${{ inputs.greeting }}"}]
  second:
    needs: [first]
    steps: [{run: produce, cleanup: inner-cleanup}]
'on':
  execute:
    inputs:
      greeting: {type: string}
"""}, fakes={"produce": Fake(outputs={"word": "done"})}, actions=default_actions())
    assert trace.execs() == ["say hi", "produce", "inner-cleanup", "after done"]
    assert trace.jobs() == {"outer/call/first": st.COMPLETED, "outer/call/second": st.COMPLETED, "outer": st.COMPLETED}
