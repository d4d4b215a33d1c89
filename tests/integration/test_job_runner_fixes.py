"""job_runner fixes: canceling while submitting, resume, the watcher, streaming, the scripts.

Against the real single-node Slurm (tests marked ``slurm``; no fake scheduler: the
controller and sbatch are real processes, paused with SIGSTOP and resumed):

- Ctrl-C while sbatch is submitting: the job sbatch submits is canceled, whether sbatch
  reports its id within the grace (slurmctld paused until after the Ctrl-C) or never
  does (sbatch itself paused after its request reached slurmctld; a second Ctrl-C cuts
  the wait short, and the job is found by its name);
- ``wfrun resume`` runs a batch step again when its job failed or was canceled in the
  previous session, instead of re-attaching to the finished job;
- what job_runner's prepare step writes in the run directory is private, while the job
  keeps the user's umask; a ``$(...)`` in script_path is text.

Without a cluster (the pure parts, real bash where scripts run):

- ``load_prior`` re-attaches only to batch jobs whose end was not recorded;
- ``BatchWatcher`` survives jobs forgotten (canceled) while a query is in flight, says
  which jobs it could not cancel, and does not lose a cancel that arrives while another
  is being sent — driven through a scripted target that answers squeue/sacct/scancel
  with canned lines and can act (forget a job, hold a command) while one "runs";
- ``cancel_submit`` when the grace runs out or the look-up fails;
- ``Streamer.stop`` never feeds bytes the tick's read is feeding too;
- the prepare/job scripts quote every user value, and what prepare creates is private.

(One file rather than tests/unit + tests/integration files of the same name: without
``__init__.py`` files pytest cannot collect two test modules with one basename.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import slurm_jobs_named, store_rows, wait_for

from workflow_runner.actions.job_runner import render_scripts
from workflow_runner.actions.job_runner import stream as stream_mod
from workflow_runner.actions.job_runner.batch import BatchWatcher, PBSBackend, SlurmBackend
from workflow_runner.actions.job_runner.spec import build_spec
from workflow_runner.actions.job_runner.stream import Streamer
from workflow_runner.launch import load_prior
from workflow_runner.state.store import RunStore
from workflow_runner.targets.base import StepResult
from workflow_runner.targets.local import LocalTarget

CTLD_PIDFILE = Path("/var/lib/wfrun-test/slurm/pid/slurmctld.pid")
ACTIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED"}


def on_slurm(test):
    """A test that needs the real cluster (started, or checked, once per session by the ``slurm`` fixture)."""
    return pytest.mark.slurm(pytest.mark.usefixtures("slurm")(test))


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none")}


def wfrun(env, *args, timeout=180, umask: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workflow_runner", *map(str, args), "--no-live"],
                          env=env, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


class Running:
    """``wfrun`` in the background, its output collected line by line."""

    def __init__(self, env, wf: Path, *extra: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), "--no-live", *extra], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True)
        self.reader.start()

    @property
    def out(self) -> str:
        return "".join(self.lines)

    def interrupt(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout: float = 90) -> int:
        code = self.proc.wait(timeout)
        self.reader.join(10)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def workflow(name: str, script: str, *, scheduler: bool = True, rundir: str = "${PWD}/jr", extra: str = "") -> str:
    body = "\n".join("            " + line for line in script.strip("\n").splitlines())
    resource = "{ip: '', schedulerType: slurm}" if scheduler else "{ip: ''}"
    return f"""
jobs:
  {name}:
    steps:
      - id: jr
        name: batch job
        uses: marketplace/job_runner/v4.0
        with:
          resource: {resource}
          rundir: '{rundir}'
          scheduler: {str(scheduler).lower()}
          poll_interval: 1
          slurm: {{partition: debug, time: "00:05:00", cpus_per_task: 1, mem: 100M}}{extra}
          script: |
{body}
"""


@contextlib.contextmanager
def controller_stopped():
    """slurmctld paused (SIGSTOP): the kernel still queues connections, so sbatch sends its request and waits."""
    pid = int(CTLD_PIDFILE.read_text().split()[0])
    os.kill(pid, signal.SIGSTOP)
    resumed = []

    def resume() -> None:
        if not resumed:
            os.kill(pid, signal.SIGCONT)
            resumed.append(True)

    try:
        yield resume
    finally:
        resume()


def sbatch_of(name: str) -> int | None:
    """The pid of the sbatch submitting the job with this name."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"sbatch") and f"--job-name={name}".encode() in argv:
            return int(entry.name)
    return None


def request_reached_controller(pid: int) -> bool:
    """True once the bytes sbatch sent wait in slurmctld's not yet accepted connection (rx queue > 0)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            link = os.readlink(fd)
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    port = 6817
    entries = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                entries.append((int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16), f[3],
                                int(f[4].split(":")[1], 16), f[9]))
    mine = {local for local, remote, state, _, inode in entries if inode in inodes and remote == port and state == "01"}
    return any(local == port and remote in mine and rx > 0 for local, remote, _, rx, _ in entries)


def step_log(env, job: str) -> str:
    """What wfrun wrote to the step's log (its notes, e.g. about canceling, are there, not on the console)."""
    return "".join(p.read_text(errors="replace") for p in Path(env["WFRUN_HOME"]).glob(f"jobs/*/*/logs/{job}/*.log"))


def sbatch_in_flight(env) -> tuple[str, int]:
    """(job name, sbatch pid) once wfrun's sbatch has sent its request to the (paused) controller."""
    wait_for(lambda: intent_name(env) is not None, 30, "the write-ahead intent")
    name = intent_name(env)
    wait_for(lambda: sbatch_of(name) is not None, 30, "sbatch to start")
    sbatch = sbatch_of(name)
    wait_for(lambda: request_reached_controller(sbatch), 30, "sbatch's request to reach slurmctld")
    return name, sbatch


def intent_name(env) -> str | None:
    rows = store_rows(env, "SELECT job_name FROM batch_jobs")
    return rows[0][0] if rows else None


@on_slurm
def test_ctrl_c_while_sbatch_waits_for_the_controller_cancels_the_job_it_submits(tmp_path, env):
    wf = tmp_path / "w.yaml"
    wf.write_text(workflow("slow", "echo started\nsleep 300"))
    running = None
    try:
        with controller_stopped() as resume:
            running = Running(env, wf, "--grace", "2")
            name, _ = sbatch_in_flight(env)
            running.interrupt()
            # wfrun now waits for sbatch to report the id (before the fix it killed sbatch at once).
            wait_for(lambda: "to report the job id" in step_log(env, "slow") or running.proc.poll() is not None, 30,
                     "wfrun to wait for sbatch or to exit")
            resume()
            code = running.wait()
    finally:
        if running is not None:
            running.kill()
    assert code == 130, running.out
    # The request reached slurmctld, so the job exists; it must not be left in the queue.
    wait_for(lambda: slurm_jobs_named(name), 30, f"Slurm to list {name}")
    assert_canceled_once(env, name, running.out, "slow", "canceling batch job {jobid}")


def assert_canceled_once(env, name: str, out: str, job: str, said: str) -> None:
    """One job of that name, CANCELLED in Slurm and in the store; the step log says ``said`` about it."""
    with contextlib.suppress(AssertionError):
        wait_for(lambda: not set(slurm_jobs_named(name).values()) & ACTIVE, 15, "the job to end")
    states = slurm_jobs_named(name)
    assert len(states) == 1 and set(states.values()) == {"CANCELLED"}, (states, out)
    (jobid,) = states
    assert said.format(jobid=jobid, name=name) in step_log(env, job)
    assert store_rows(env, "SELECT jobid, state, finished_at IS NOT NULL FROM batch_jobs") == [(jobid, "CANCELLED", 1)]


@on_slurm
def test_ctrl_c_when_sbatch_never_reports_finds_the_job_by_name_and_cancels_it(tmp_path, env):
    wf = tmp_path / "w.yaml"
    wf.write_text(workflow("stuck", "echo started\nsleep 300"))
    running = None
    sbatch = None
    try:
        with controller_stopped() as resume:
            running = Running(env, wf, "--grace", "2")
            name, sbatch = sbatch_in_flight(env)
            os.kill(sbatch, signal.SIGSTOP)  # it will never print the job id
            resume()
        wait_for(lambda: slurm_jobs_named(name), 30, "slurmctld to queue the job")
        running.interrupt()
        wait_for(lambda: "to report the job id" in step_log(env, "stuck") or running.proc.poll() is not None, 30,
                 "wfrun to wait for sbatch or to exit")
        running.interrupt()  # the second Ctrl-C: don't wait the whole grace
        code = running.wait()
    finally:
        if running is not None:
            running.kill()
        if sbatch is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(sbatch, signal.SIGKILL)
    assert code == 130, running.out
    assert_canceled_once(env, name, running.out, "stuck", "found batch job {jobid} ({name})")


@on_slurm
def test_resume_runs_a_batch_step_again_when_its_job_failed(tmp_path, env):
    marker = tmp_path / "tried"
    wf = tmp_path / "w.yaml"
    wf.write_text(workflow("flaky", f"""
if [ -f {marker} ]; then echo "second try"; exit 0; fi
touch {marker}
echo "first try"
exit 3
"""))
    first = wfrun(env, wf)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "ended FAILED with exit code 3" in first.stdout
    run = store_rows(env, "SELECT id FROM runs")[0][0]
    again = wfrun(env, "resume", run)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 batch jobs to re-attach" in again.stderr
    assert "re-attaching" not in again.stdout and "second try" in again.stdout
    rows = store_rows(env, "SELECT jobid, state, exit_code FROM batch_jobs ORDER BY id")
    assert [r[1:] for r in rows] == [("FAILED", 3), ("COMPLETED", 0)] and rows[0][0] != rows[1][0]


@on_slurm
def test_resume_after_ctrl_c_runs_the_batch_step_again(tmp_path, env):
    marker = tmp_path / "tried"
    wf = tmp_path / "w.yaml"
    wf.write_text(workflow("long", f"""
if [ -f {marker} ]; then echo "second run"; exit 0; fi
touch {marker}
echo started
sleep 300
"""))
    running = Running(env, wf, "--grace", "2")
    try:
        wait_for(lambda: "[long/batch job] started" in running.out, 60, "the job to start")
        running.interrupt()
        assert running.wait() == 130, running.out
    finally:
        running.kill()
    first = store_rows(env, "SELECT jobid, state, finished_at IS NOT NULL FROM batch_jobs")
    assert len(first) == 1 and first[0][1:] == ("CANCELLED", 1), first
    run = store_rows(env, "SELECT id FROM runs")[0][0]
    again = wfrun(env, "resume", run)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "re-attaching" not in again.stdout and "second run" in again.stdout
    rows = store_rows(env, "SELECT jobid, state FROM batch_jobs ORDER BY id")
    assert rows[1][1] == "COMPLETED" and rows[1][0] != rows[0][0]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@on_slurm
@pytest.mark.parametrize("scheduler", [False, True], ids=["local-ssh-mode", "slurm"])
def test_run_directory_files_are_private_and_the_job_keeps_the_user_umask(tmp_path, env, scheduler):
    rundir = tmp_path / "fresh" / "rd"
    wf = tmp_path / "w.yaml"
    wf.write_text(workflow("priv", 'echo "the token is s3cret"\necho data > user-file.txt', scheduler=scheduler,
                           rundir=str(rundir)))
    r = wfrun(env, wf, umask=0o022)
    assert r.returncode == 0, r.stdout + r.stderr
    modes = {p.name: _mode(p) for p in rundir.iterdir()}
    out_file = next(n for n in modes if n.startswith("run.") and n.endswith(".out"))
    assert _mode(rundir) == 0o700
    assert (modes["run.sh"], modes["run-template.sh"], modes[out_file]) == (0o700, 0o700, 0o600), modes
    assert "the token is s3cret" in (rundir / out_file).read_text()
    assert modes["user-file.txt"] == 0o644  # the user's script runs with the user's umask
    if scheduler:
        exit_file = next(n for n in modes if n.endswith(".exit"))
        assert modes[exit_file] == 0o600 and modes["jobid"] == 0o600


def test_script_path_with_command_substitution_is_text(tmp_path, env):
    pwned = tmp_path / "pwned"
    wf = tmp_path / "w.yaml"
    wf.write_text(workflow("inj", "echo unused", scheduler=False, extra=f"""
          use_existing_script: true
          script_path: '{tmp_path}/x$(touch {pwned})'"""))
    r = wfrun(env, wf)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"job_runner: script_path {tmp_path}/x$(touch {pwned}) does not exist or is not a regular file" in r.stdout
    assert not pwned.exists()


@on_slurm
def test_look_up_by_name_tells_none_found_from_cannot_ask(tmp_path):
    """The name look-up (after a crash, or a cancel while submitting) must not take "squeue failed" for "no such job"."""
    from workflow_runner.actions.job_runner.batch import SlurmBackend

    backend = SlurmBackend()
    query = backend.find_query("wfrun-no-such-job-name")
    found = subprocess.run(["bash", "-c", query], capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    assert backend.parse_find(found.stdout.splitlines(), "wfrun-no-such-job-name") is None
    unreachable = tmp_path / "slurm.conf"  # the cluster's own configuration, with nobody on the controller port
    unreachable.write_text(Path("/etc/slurm/slurm.conf").read_text() + "\nSlurmctldPort=1\n")
    failed = subprocess.run(["bash", "-c", query], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "SLURM_CONF": str(unreachable)})
    assert failed.returncode != 0, failed.stdout + failed.stderr
    assert "Unable to contact slurm controller" in failed.stdout + failed.stderr


@on_slurm
def test_pbs_status_query_tells_ended_jobs_from_an_unreachable_server(tmp_path):
    """qstat on an id that left the server is "gone" (resolve it); qstat that cannot ask is an outage (retry)."""
    from workflow_runner.actions.job_runner.batch import PBSBackend

    backend = PBSBackend()
    query = backend.status_query(["999999"])
    gone = subprocess.run(["bash", "-c", query], capture_output=True, text=True, timeout=60)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert backend.parse_status(gone.stdout.splitlines()) == {}
    unreachable = tmp_path / "slurm.conf"
    unreachable.write_text(Path("/etc/slurm/slurm.conf").read_text() + "\nSlurmctldPort=1\n")
    failed = subprocess.run(["bash", "-c", query], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "SLURM_CONF": str(unreachable)})
    assert failed.returncode != 0, failed.stdout + failed.stderr


# ------------------------------------------------------------------ load_prior


def test_load_prior_keeps_only_batch_jobs_without_a_recorded_end(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    try:
        run = store.new_run(workflow="w", file=str(tmp_path / "w.yaml"), argv=[], inputs_masked={}, secret_paths=[])

        def row(job: str, step: int, jobid: str | None, end: tuple[str, int | None] | None = None, attempt: int = 0) -> int:
            bid = store.batch_intent(run, job=job, step_index=step, attempt=attempt, host="local", scheduler="slurm",
                                     job_name=f"n-{job}-{step}-{attempt}", rundir="/d")
            if jobid is not None:
                store.batch_submitted(bid, jobid)
            if end is not None:
                store.batch_finished(bid, *end)
            return bid

        row("failed", 0, "11", ("FAILED", 3))             # ended in the previous session: run the step again
        queued = row("queued", 0, "12")                    # may still be in the queue: re-attach
        intent = row("intent", 0, None)                    # died before the id was recorded: find it by name
        row("canceled", 0, "13", ("CANCELLED", None))      # Ctrl-C'd: run again
        row("nojob", 0, None, ("CANCELLED", None))       # Ctrl-C'd while submitting, nothing submitted
        row("retried", 0, "14", attempt=0)                 # an older row left open ...
        row("retried", 0, "15", ("FAILED", 1), attempt=1)  # ... the newest one ended: it decides
        row("relaunch", 0, "16", ("NODE_FAIL", None))      # relaunched after NODE_FAIL ...
        relaunched = row("relaunch", 0, "17")              # ... the relaunch is still queued
        prior = load_prior(store, run)
    finally:
        store.close()
    assert {key: b.id for key, b in prior.batch.items()} == {
        ("queued", 0): queued, ("intent", 0): intent, ("relaunch", 0): relaunched}
    assert prior.batch[("relaunch", 0)].jobid == "17"


# ------------------------------------------------------------------ the watcher


class Scripted:
    """A target answering each command with what ``answer(script)`` returns: (exit code, lines)."""

    name = "scripted"

    def __init__(self, answer) -> None:
        self.answer = answer
        self.scripts: list[str] = []

    async def run(self, command, on_output) -> StepResult:
        self.scripts.append(command.script)
        code, lines = await self.answer(command.script)
        for line in lines:
            on_output(line)
        return StepResult(code)

    async def home(self) -> str:
        return "/root"

    async def aclose(self) -> None:
        return None


def test_job_forgotten_while_the_status_query_runs_does_not_break_the_poll():
    notes: list[str] = []

    async def main():
        async def answer(script: str):
            if script.startswith("squeue"):
                watcher.forget("101")  # its step was canceled while squeue ran
                return 0, ["101|RUNNING|n1|None", "102|COMPLETED|n1|None"]
            if script.startswith("sacct"):
                return 0, ["102|COMPLETED|0:0|n1"]
            return 0, ["/r/e102 0"]  # the exit-code files

        watcher = BatchWatcher(Scripted(answer), SlurmBackend(), "/", 0.01, notes.append)
        watcher.watch("101", "/r/e101", False, 0.01)
        done = watcher.watch("102", "/r/e102", False, 0.01)
        return watcher, await asyncio.wait_for(done, 10)

    watcher, final = asyncio.run(main())
    assert (final.state, final.exit_code) == ("COMPLETED", 0)
    assert watcher.failures == 0 and notes == []


def test_job_forgotten_while_sacct_runs_does_not_break_the_resolve():
    notes: list[str] = []

    async def main():
        async def answer(script: str):
            if script.startswith("squeue"):
                return 0, ["201|COMPLETED|n1|None", "202|FAILED|n1|None"]
            if script.startswith("sacct"):
                watcher.forget("201")
                return 0, ["201|COMPLETED|0:0|n1", "202|FAILED|2:0|n1"]
            return 0, ["/r/e202 2"]

        watcher = BatchWatcher(Scripted(answer), SlurmBackend(), "/", 0.01, notes.append)
        forgotten = watcher.watch("201", "/r/e201", False, 0.01)
        done = watcher.watch("202", "/r/e202", False, 0.01)
        return watcher, await asyncio.wait_for(done, 10), forgotten.done()

    watcher, final, forgotten_done = asyncio.run(main())
    assert (final.state, final.exit_code) == ("FAILED", 2)
    assert not forgotten_done
    assert watcher.failures == 0 and notes == []


def test_watcher_loop_keeps_watching_after_a_forget_during_the_query():
    """The other job is resolved on the next poll at the normal interval, not after a failure back-off."""
    notes: list[str] = []
    polls: list[int] = []

    async def main():
        async def answer(script: str):
            if script.startswith("squeue"):
                polls.append(1)
                if len(polls) == 1:
                    watcher.forget("301")
                    return 0, ["301|RUNNING|n1|None", "302|RUNNING|n1|None"]
                return 0, ["302|COMPLETED|n1|None"]
            if script.startswith("sacct"):
                return 0, ["302|COMPLETED|0:0|n1"]
            return 0, []

        watcher = BatchWatcher(Scripted(answer), SlurmBackend(), "/", 0.01, notes.append)
        watcher.watch("301", "/r/e301", False, 0.01)
        return watcher, await asyncio.wait_for(watcher.watch("302", "/r/e302", False, 0.01), 10)

    watcher, final = asyncio.run(main())
    assert final.state == "COMPLETED"
    assert len(polls) == 2 and watcher.failures == 0 and notes == []


def test_cancel_that_keeps_failing_names_the_jobs_to_cancel_by_hand():
    notes: list[str] = []

    async def answer(script: str):
        if script.startswith("scancel"):
            return 1, ["scancel: error: Kill job error on job id 401: Access/permission denied"]
        if script.startswith("squeue"):
            return 0, ["401|RUNNING|n1|None", "402|PENDING||None"]
        return 0, []

    async def main():
        watcher = BatchWatcher(target, SlurmBackend(), "/", 1, notes.append)
        watcher.CANCEL_ATTEMPTS = 2
        results = await asyncio.gather(watcher.cancel("401"), watcher.cancel("402"))
        return watcher, results

    target = Scripted(answer)
    watcher, results = asyncio.run(main())
    assert results == [False, False]
    assert [s for s in target.scripts if s.startswith("scancel")] == ["scancel 401 402"] * 2
    assert watcher.uncancelled == {"401", "402"}
    assert "could not cancel batch job(s) 401 402 on scripted after 2 attempts" in notes[-1]
    assert "Access/permission denied" in notes[-1]
    assert "cancel them by hand with 'scancel 401 402'" in notes[-1]


def test_cancel_of_a_job_that_already_ended_is_not_a_failure():
    """Slurm's qdel (and PBS's) exits non-zero for a job that has ended: the queue says it is gone."""
    notes: list[str] = []

    async def answer(script: str):
        if script.startswith("qdel"):
            return 1, []
        if "qstat" in script:  # the status query tries ``qstat -x -f`` first: out=$(qstat -x ...
            return 0, ["Job Id: 502.server", "    job_state = R"]  # 501 is gone, 502 still runs
        return 0, []

    async def main():
        watcher = BatchWatcher(target, PBSBackend(), "/", 1, notes.append)
        watcher.CANCEL_ATTEMPTS = 2
        return await asyncio.gather(watcher.cancel("501"), watcher.cancel("502"))

    target = Scripted(answer)
    assert asyncio.run(main()) == [True, False]
    assert [s for s in target.scripts if s.startswith("qdel")] == ["qdel 501 502", "qdel 502"]
    assert "could not cancel batch job(s) 502 on scripted" in notes[-1]


def test_cancel_arriving_while_another_is_sent_is_not_lost():
    sent: list[str] = []

    async def main():
        release = asyncio.Event()
        running = asyncio.Event()

        async def answer(script: str):
            if script.startswith("scancel"):
                sent.append(script)
                if len(sent) == 1:
                    running.set()
                    await release.wait()
                return 0, []
            return 0, []

        watcher = BatchWatcher(Scripted(answer), SlurmBackend(), "/", 1, lambda text: None)
        first = asyncio.ensure_future(watcher.cancel("601"))
        await running.wait()  # "scancel 601" is on its way
        second = asyncio.ensure_future(watcher.cancel("602"))
        await asyncio.sleep(0.2)
        release.set()
        return await asyncio.wait_for(asyncio.gather(first, second), 10)

    assert asyncio.run(main()) == [True, True]
    assert sent == ["scancel 601", "scancel 602"]


# ------------------------------------------------------------------ streamer


class Held(LocalTarget):
    """The real local target, but its first command waits until released (a slow remote read)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def run(self, command, on_output):
        self.calls += 1
        if self.calls == 1:
            self.started.set()
            await self.release.wait()
        return await super().run(command, on_output)


def test_stop_during_a_tick_read_shows_each_line_once(tmp_path, monkeypatch):
    monkeypatch.setattr(stream_mod, "TICK", 0.01)
    out = tmp_path / "run.1.out"
    out.write_text("".join(f"line {i}\n" for i in range(5)))
    shown: list[str] = []

    async def main():
        target = Held()
        streamer = Streamer(target, local=False, cwd="/")  # the remote code path, run by the local target
        followed = streamer.follow(str(out), shown.append)
        await asyncio.wait_for(target.started.wait(), 10)  # the tick's read is in flight
        stopping = asyncio.ensure_future(streamer.stop(followed))
        await asyncio.wait({stopping}, timeout=0.5)
        target.release.set()
        await asyncio.wait_for(stopping, 30)
        await asyncio.wait_for(streamer.task, 30)

    asyncio.run(main())
    assert shown == [f"line {i}" for i in range(5)]


def test_stop_reads_past_one_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(stream_mod, "CHUNK", 64)
    monkeypatch.setattr(stream_mod, "TICK", 3600)  # only stop() reads
    out = tmp_path / "run.1.out"
    lines = [f"line {i:04d}" for i in range(100)]
    out.write_text("\n".join(lines) + "\n")
    for local in (True, False):
        shown: list[str] = []

        async def main():
            streamer = Streamer(LocalTarget(), local=local, cwd="/")
            await streamer.stop(streamer.follow(str(out), shown.append))
            streamer.task.cancel()

        asyncio.run(main())
        assert shown == lines, local


# ------------------------------------------------------------------ scripts


def _spec(**values):
    return build_spec("v4.0", {"resource": {"ip": ""}, **values}, where=None)


def _prepare(spec, rundir: str, label: str = "job/step") -> tuple[str, str]:
    name = "wfrun-1-job-step"
    prepare, _ = render_scripts(spec, rundir=rundir, out_file=f"{rundir}/run.1.out", exit_file=f"{rundir}/wfrun.{name}.exit",
                                job_name=name, label=label)
    return prepare, name


def _bash(script: str, cwd: Path, umask: int = 0o022) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: os.umask(umask))


def test_script_path_with_command_substitution_is_not_run(tmp_path):
    pwned = tmp_path / "pwned"
    script_path = f"{tmp_path}/x$(touch {pwned})`touch {pwned}`"
    spec = _spec(use_existing_script=True, script_path=script_path)
    prepare, _ = _prepare(spec, str(tmp_path / "rd"))
    r = _bash(prepare, tmp_path)
    assert r.returncode == 66, r.stderr
    assert not pwned.exists()
    assert f"job_runner: script_path {script_path} does not exist or is not a regular file" in r.stderr


def test_user_values_in_the_scripts_are_text(tmp_path):
    """rundir, the job/step label and the script path: none runs a command when prepared and run."""
    evil = "$(touch pwned)`touch pwned`;touch pwned"
    source = tmp_path / f"src{evil}.sh"
    source.write_text("echo from-the-user-script\n")
    rundir = tmp_path / f"rd {evil}"
    spec = _spec(use_existing_script=True, script_path=str(source))
    prepare, name = _prepare(spec, str(rundir), label=f"job ({evil})/step\ntouch pwned\n#")
    r = _bash(prepare, tmp_path)
    assert r.returncode == 0, r.stderr
    run = _bash("./run.sh", rundir)
    assert run.returncode == 0, run.stderr
    assert "from-the-user-script" in run.stdout
    assert (rundir / f"wfrun.{name}.exit").read_text() == "0\n"
    assert list(tmp_path.rglob("pwned")) == []


def test_prepare_makes_private_files_and_run_directory(tmp_path):
    rundir = tmp_path / "new" / "rd"
    prepare, name = _prepare(_spec(script="echo secret-token-123\n"), str(rundir))
    r = _bash(prepare, tmp_path, umask=0o022)
    assert r.returncode == 0, r.stderr
    assert _mode(rundir) == 0o700 and _mode(rundir.parent) == 0o700
    assert {p.name: _mode(p) for p in rundir.iterdir()} == {"run.sh": 0o700, "run-template.sh": 0o700, "run.1.out": 0o600}
    run = _bash("./run.sh > run.1.out 2>&1", rundir, umask=0o022)
    assert run.returncode == 0
    assert _mode(rundir / f"wfrun.{name}.exit") == 0o600
    assert _mode(rundir / "run.1.out") == 0o600


def test_prepare_replaces_files_left_with_open_modes(tmp_path):
    """An existing run directory keeps its mode (it may be the user's own), but the files are made anew."""
    rundir = tmp_path / "rd"
    rundir.mkdir(mode=0o755)
    rundir.chmod(0o755)
    for left in ("run.sh", "run-template.sh", "run.1.out"):
        (rundir / left).write_text("old\n")
        (rundir / left).chmod(0o755)
    prepare, _ = _prepare(_spec(script="echo new\n"), str(rundir))
    r = _bash(prepare, tmp_path, umask=0o022)
    assert r.returncode == 0, r.stderr
    assert _mode(rundir) == 0o755
    assert {p.name: _mode(p) for p in rundir.iterdir()} == {"run.sh": 0o700, "run-template.sh": 0o700, "run.1.out": 0o600}
    assert (rundir / "run.1.out").read_text() == ""


# ------------------------------------------------------------------ canceled while submitting


class Log:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.lines: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)

    def line(self, text: str) -> None:
        self.lines.append(text)


def _cancel_submit_case(tmp_path, monkeypatch, submitting_coro, answer):
    """Run cancel_submit on a real run store; (scripts sent, notes, the batch row, the submit task)."""
    from workflow_runner.actions.job_runner import cancel as jr_cancel

    monkeypatch.setattr(jr_cancel, "PREPARE_GRACE", 0.3)
    store = RunStore(tmp_path / "runs.db")
    log = Log()
    try:
        run = store.new_run(workflow="w", file=str(tmp_path / "w.yaml"), argv=[], inputs_masked={}, secret_paths=[])
        bid = store.batch_intent(run, job="j", step_index=0, attempt=0, host="scripted", scheduler="slurm",
                                 job_name="wfrun-1-j-jr", rundir="/rd")
        target = Scripted(answer)

        async def main():
            submitting = asyncio.ensure_future(submitting_coro())
            await asyncio.sleep(0)
            watcher = BatchWatcher(target, SlurmBackend(), "/", 1, log.note)
            await jr_cancel.cancel_submit(submitting, watcher, target, SlurmBackend(), "wfrun-1-j-jr", "/rd", log, None, store, bid)
            return submitting

        submitting = asyncio.run(main())
        (row,) = store.batch_jobs(run)
        prior = load_prior(store, run)
    finally:
        store.close()
    return target.scripts, log.notes, row, submitting, prior


async def never_finishes():
    """A submit command that never reports (sbatch stuck on an unreachable controller)."""
    await asyncio.Event().wait()


def test_submit_that_outlives_the_grace_is_stopped_and_its_job_found_by_name(tmp_path, monkeypatch):
    async def answer(script: str):
        if script.startswith("squeue -h -t all --name=wfrun-1-j-jr"):
            return 0, ["777"]
        return 0, []

    scripts, notes, row, submitting, prior = _cancel_submit_case(tmp_path, monkeypatch, never_finishes, answer)
    assert submitting.cancelled()
    assert "scancel 777" in scripts
    assert any("found batch job 777 (wfrun-1-j-jr)" in n for n in notes)
    assert (row.jobid, row.state, row.finished_at is not None) == ("777", "CANCELLED", True)
    assert prior.batch == {}


def test_submit_that_reports_its_job_id_in_time_has_that_job_canceled(tmp_path, monkeypatch):
    async def reports():
        await asyncio.sleep(0.05)
        return 0, ["Submitted", "@@wfrun-jobid 888"]

    async def answer(script: str):
        return 0, []

    scripts, notes, row, submitting, _ = _cancel_submit_case(tmp_path, monkeypatch, reports, answer)
    assert not submitting.cancelled()
    assert not any(s.startswith("squeue") for s in scripts)  # no look-up needed
    assert "scancel 888" in scripts
    assert (row.jobid, row.state, row.finished_at is not None) == ("888", "CANCELLED", True)


def test_failed_look_up_leaves_the_row_open_for_resume(tmp_path, monkeypatch):
    async def answer(script: str):
        if script.startswith("squeue"):
            return 1, ["squeue: error: Unable to contact slurm controller (connect failure)"]
        return 0, []

    scripts, notes, row, submitting, prior = _cancel_submit_case(tmp_path, monkeypatch, never_finishes, answer)
    assert not any(s.startswith("scancel") for s in scripts)
    assert "could not look up batch job wfrun-1-j-jr (squeue: error: Unable to contact slurm controller" in notes[-1]
    assert "cancel it by hand" in notes[-1]
    assert (row.jobid, row.state, row.finished_at) == (None, "intent", None)
    assert list(prior.batch) == [("j", 0)]  # a resume looks for it by name instead of submitting again



@on_slurm
def test_a_job_that_can_never_start_is_named_once(tmp_path, write):
    """job_runner v4.0's default cpus_per_task (4) on this 2-CPU node: Slurm pends it as PartitionConfig for ever."""
    wf = write("w.yaml", """
jobs:
  batch:
    steps:
      - id: jr
        uses: marketplace/job_runner/v4.0
        with:
          resource: {ip: '', schedulerType: slurm}
          rundir: ${PWD}/jr
          scheduler: true
          poll_interval: 1
          slurm: {partition: debug, time: "00:05:00", cpus_per_task: 64}
          script: echo never
""")
    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none")}
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", str(wf), "--grace", "2", "--no-live"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("may never start" in line for line in list(lines)):
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(10)
    text = "".join(lines)
    assert "may never start: Slurm holds it as PartitionConfig: no node of its partition can give what it asks for" in text, text
    assert text.count("may never start") == 1, text
    assert proc.returncode == 130, text
