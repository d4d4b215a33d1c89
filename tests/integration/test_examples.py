"""Every example in examples/ runs, and does what its header says."""

from __future__ import annotations

from conftest import EXAMPLES


def test_hello(wfrun):
    r = wfrun(EXAMPLES / "hello.yaml", "--set", "name=tester")
    assert r.code == 0, r.err
    assert "Hello, tester! This is run 1 of hello." in r.out


def test_fan_out_fan_in(wfrun):
    r = wfrun(EXAMPLES / "fan-out-fan-in.yaml", "--set", "chunks=4")
    assert r.code == 0, r.out + r.err
    assert "words=400 lines=40" in r.out
    jobs = r.run_json()["jobs"]
    assert all(j["status"] == "completed" for j in jobs.values()) and len(jobs) == 5


def test_matrix(wfrun):
    r = wfrun(EXAMPLES / "matrix.yaml", "--set", "max_size=2")
    assert r.code == 0, r.out + r.err
    jobs = r.run_json()["jobs"]
    assert jobs["train (3, adam)"]["status"] == "skipped"
    assert "train (3, sgd)" not in jobs  # excluded
    assert '"score_2_adam":"20"' in r.out.replace(" ", "")


def test_if_cleanup_early_cancel_fail(wfrun):
    r = wfrun(EXAMPLES / "if-cleanup-early-cancel.yaml", "--grace", "2")
    assert r.code == 1
    jobs = r.run_json()["jobs"]
    assert {k: v["status"] for k, v in jobs.items()} == {
        "service": "canceled", "work": "failed", "on-error": "completed", "report": "completed"}
    out = r.out
    assert out.index("cleanup of Serve (runs first)") < out.index("cleanup of Start (runs last)")
    assert "Work: it failed on purpose" in out.splitlines()[-2]


def test_if_cleanup_early_cancel_succeed(wfrun):
    r = wfrun(EXAMPLES / "if-cleanup-early-cancel.yaml", "--set", "outcome=succeed", "--set", "serve_seconds=1")
    assert r.code == 0, r.out
    jobs = r.run_json()["jobs"]
    assert jobs["on-error"]["status"] == "skipped" and jobs["service"]["status"] == "completed"
    assert "served the full time" in r.out


def test_subworkflow(wfrun):
    r = wfrun(EXAMPLES / "subworkflow" / "main.yaml", "--set", "who=nested")
    assert r.code == 0, r.out + r.err
    assert "hello nested (2)" in r.out
    assert "the sub-workflow said 'hello nested' (2 times)" in r.out


def test_job_runner_example_here(wfrun):
    r = wfrun(EXAMPLES / "job-runner.yaml")
    assert r.code == 0, r.out + r.err
    assert "result=42" in r.out and "ended COMPLETED" in r.out


def test_gpus_example_gives_each_job_its_own_gpu(wfrun):
    r = wfrun(EXAMPLES / "gpus.yaml", "--gpus", "0,1", "--no-live")
    assert r.code == 0, r.out + r.err
    seen = {line.split(" sees GPU ")[0].split()[-1]: line.split(" sees GPU ")[1].strip("'")
            for line in r.out.splitlines() if " sees GPU " in line}
    assert sorted([seen["train-a"], seen["train-b"]]) == ["0", "1"], r.out
    assert seen["preprocess"] == "", r.out
    assert "all trained" in r.out
