"""Real wfrun runs of the local pool (issue 13): each job sees only its own GPUs; a small job backfills.

No GPU here: the machine's GPUs are declared (CUDA_VISIBLE_DEVICES / ROCR_VISIBLE_DEVICES / --gpus),
which is exactly what wfrun reads. Concurrency is proven by the jobs waiting for each other's files,
never by timing.
"""

from __future__ import annotations

from pathlib import Path

WAIT = 'for i in $(seq 300); do [ -e {f} ] && break; sleep 0.1; done; [ -e {f} ]'


def _gpu_job(name: str, gpus: int, d: Path, var: str, others: list[str]) -> str:
    """A job that records ``var``, then waits until the ``others`` recorded theirs (so they ran at once)."""
    waits = "\n".join("          " + WAIT.format(f=d / f"{o}.seen") for o in others)
    request = f"    resources: {{gpus: {gpus}}}\n" if gpus else ""
    return (f"  {name}:\n{request}    steps:\n      - run: |\n"
            f"          echo \"${{{var}-unset}}\" > {d}/{name}.tmp && mv {d}/{name}.tmp {d}/{name}.seen\n{waits}\n")


def _ids(d: Path, name: str) -> list[str]:
    text = (d / f"{name}.seen").read_text().strip()
    return [x for x in text.split(",") if x] if text != "unset" else ["unset"]


def test_two_concurrent_one_gpu_jobs_get_disjoint_devices(wfrun, write, tmp_path):
    d = tmp_path / "seen"
    d.mkdir()
    jobs = [_gpu_job("a", 1, d, "CUDA_VISIBLE_DEVICES", ["b", "cpu"]), _gpu_job("b", 1, d, "CUDA_VISIBLE_DEVICES", ["a", "cpu"]),
            _gpu_job("cpu", 0, d, "CUDA_VISIBLE_DEVICES", ["a", "b"])]
    wf = write("w.yaml", "jobs:\n" + "".join(jobs))
    r = wfrun(wf, "--cpus", "4", "-j", "4", env={"CUDA_VISIBLE_DEVICES": "0,1"})
    assert r.code == 0, r.out + r.err
    a, b = _ids(d, "a"), _ids(d, "b")
    assert len(a) == 1 and len(b) == 1 and sorted(a + b) == ["0", "1"]
    assert (d / "cpu.seen").read_text() == "\n"  # set, and empty: a job that asked for no GPU sees none


def test_gpus_option_names_ids(wfrun, write, tmp_path):
    d = tmp_path / "seen"
    d.mkdir()
    jobs = [_gpu_job("two", 2, d, "CUDA_VISIBLE_DEVICES", ["one"]), _gpu_job("one", 1, d, "CUDA_VISIBLE_DEVICES", ["two"])]
    wf = write("w.yaml", "jobs:\n" + "".join(jobs))
    r = wfrun(wf, "--cpus", "4", "-j", "4", "--gpus", "0,1,3")
    assert r.code == 0, r.out + r.err
    two, one = _ids(d, "two"), _ids(d, "one")
    assert len(two) == 2 and len(one) == 1 and sorted(two + one) == ["0", "1", "3"]


def test_gpus_count_still_works_and_rocm_gets_rocr(wfrun, write, tmp_path):
    d = tmp_path / "seen"
    d.mkdir()
    jobs = [_gpu_job("a", 1, d, "ROCR_VISIBLE_DEVICES", ["b"]), _gpu_job("b", 1, d, "ROCR_VISIBLE_DEVICES", ["a"])]
    wf = write("w.yaml", "jobs:\n" + "".join(jobs))
    r = wfrun(wf, "--cpus", "4", "-j", "4", "--gpus", "2", env={"ROCR_VISIBLE_DEVICES": "4,6,7"})
    assert r.code == 0, r.out + r.err
    assert sorted(_ids(d, "a") + _ids(d, "b")) == ["4", "6"]  # the first two of the machine's


def test_a_job_wanting_more_gpus_than_named_is_refused(wfrun, write, tmp_path):
    wf = write("w.yaml", "jobs:\n  big:\n    resources: {gpus: 3}\n    steps: [{run: 'true'}]\n")
    r = wfrun(wf, "--gpus", "0,1")
    assert r.code == 2
    assert "w.yaml:3:16: job 'big' asks for 1 CPU, 3 GPUs but this machine has" in r.err


def test_bad_gpus_option_is_exit_2(wfrun, write):
    wf = write("w.yaml", "jobs:\n  a:\n    steps: [{run: 'true'}]\n")
    r = wfrun(wf, "--gpus", "0,0")
    assert r.code == 2 and "--gpus: '0,0' names a GPU twice" in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1


def test_a_cpu_job_backfills_while_gpu_jobs_wait(wfrun, write, tmp_path):
    """Both GPU jobs wait for a file the CPU-only job writes; with one GPU, one of them holds it while the
    other waits for it. First-come-first-served kept the CPU job behind the waiting GPU job: a deadlock
    until the GPU holder gave up. With backfill the CPU job runs at once and both GPU jobs complete."""
    flag = tmp_path / "small-ran"
    gpu_step = "    resources: {gpus: 1}\n    steps:\n      - run: |\n          " + WAIT.format(f=flag) + "\n"
    wf = write("w.yaml", "jobs:\n  g1:\n" + gpu_step + "  g2:\n" + gpu_step
               + f"  small:\n    steps: [{{run: 'touch {flag}'}}]\n")
    r = wfrun(wf, "--cpus", "4", "-j", "4", "--gpus", "1")
    assert r.code == 0, r.out + r.err


def test_a_workflows_own_env_value_wins(wfrun, write, tmp_path):
    out = tmp_path / "seen"
    wf = write("w.yaml", f"""
jobs:
  pinned:
    resources: {{gpus: 1}}
    env: {{CUDA_VISIBLE_DEVICES: "1"}}
    steps: [{{run: 'echo "$CUDA_VISIBLE_DEVICES" > {out}'}}]
""")
    r = wfrun(wf, "--gpus", "0,1")
    assert r.code == 0, r.out + r.err
    assert out.read_text() == "1\n"


def test_job_runner_in_direct_mode_here_holds_its_jobs_gpus_like_a_run_step(wfrun, write, tmp_path):
    """A job_runner step without a resource ip runs here: its process gets the job's own GPUs too."""
    d = tmp_path / "seen"
    d.mkdir()

    def job(name: str, other: str) -> str:
        script = (f'echo "$CUDA_VISIBLE_DEVICES" > {d}/{name}.tmp && mv {d}/{name}.tmp {d}/{name}.seen\n'
                  + WAIT.format(f=d / f"{other}.seen"))
        body = "\n".join("            " + line for line in script.splitlines())
        return (f"  {name}:\n    resources: {{gpus: 1}}\n    steps:\n      - uses: marketplace/job_runner/v4.0\n"
                f"        with:\n          resource: {{ip: ''}}\n          rundir: '{tmp_path / name}'\n"
                f"          script: |\n{body}\n")

    wf = write("w.yaml", "jobs:\n" + job("a", "b") + job("b", "a"))
    r = wfrun(wf, "--cpus", "4", "-j", "4", "--gpus", "0,1")
    assert r.code == 0, r.out + r.err
    assert sorted(_ids(d, "a") + _ids(d, "b")) == ["0", "1"]
