"""One ``wfrun run`` / ``wfrun resume``: store, run directory, reporters, signals, engine.

A run is recorded in the run store before anything starts (its number is the
store's, and names its directory and ``PW_JOB_ID``). Ctrl-C / SIGTERM and a
``wfrun cancel`` from another terminal (the store's cancel flag, polled every
second) all cancel the same way. ``wfrun resume RUN`` continues a run whose
wfrun died: jobs and steps the store says finished are not run again (their
outputs carry over), batch jobs are re-attached instead of resubmitted, and
local steps that were running are run again after their leftover processes
(found by the run token in their environment) are killed.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import field
from pathlib import Path
from typing import Any

from workflow_runner import gcpause
from workflow_runner.engine import status as st
from workflow_runner.errors import WorkflowError, raise_all
from workflow_runner.records import Record, record
from workflow_runner.state.process import kill_leftovers, run_token
from workflow_runner.targets.sshopts import ssh_record


@record
class LaunchOptions(Record):
    """What ``wfrun run``/``resume`` was asked on its command line (or the user config), before the engine exists."""

    max_parallel: int
    grace: float = 10.0
    quiet: bool = False
    json: bool = False
    no_live: bool = False
    known_hosts: str | None = None
    identities: list[str] = field(default_factory=list)
    insecure_no_host_key_check: bool = False
    cpus: float | None = None
    memory: str | None = None
    gpus: str | None = None
    """--gpus: a count or GPU ids (engine/gpus.py)."""


def options_from(args: Any, user: Any) -> LaunchOptions:
    """The launch options of ``wfrun run``/``resume``/``rerun``: the command line's, SSH ones else the user config's."""
    def expand(path: Any) -> Any:
        return os.path.expanduser(path) if isinstance(path, str) else path

    ssh_conf = user.ssh
    return LaunchOptions(
        max_parallel=args.max_parallel, grace=args.grace, quiet=args.quiet, json=args.json, no_live=args.no_live,
        known_hosts=args.known_hosts or expand(ssh_conf.get("known_hosts")),
        identities=[expand(p) for p in (args.identity or ssh_conf.get("identity_files") or [])],
        insecure_no_host_key_check=args.insecure_no_host_key_check, cpus=args.cpus, memory=args.memory, gpus=args.gpus,
    )


def checked(path: str) -> Any:
    """The workflow at ``path``, validated: warnings printed, errors raised (one, or an ErrorGroup)."""
    from workflow_runner.errors import ErrorGroup
    from workflow_runner.validate import check

    wf, report = check(path)
    for warning in report.warnings:
        print(f"wfrun: warning: {warning}", file=sys.stderr)
    if report.errors:
        raise ErrorGroup(report.errors) if len(report.errors) > 1 else report.errors[0]
    return wf


def fetched(args: Any, path: str, run_dir: Path | None = None) -> Any:
    """The checked workflow, after its github/… refs are pinned (fetched unless cached or ``--offline``).

    Fetching comes first so that ``with:`` is checked against the fetched files;
    ``run_dir`` holds an earlier process's pins (a detached run, a resumed one).
    """
    from workflow_runner.validate import load_workflow

    if run_dir is None and not may_fetch(load_workflow(path)):
        return checked(path)  # nothing can reach git: no git machinery to load (start-up of every run)
    from workflow_runner.actions.prefetch import prefetch
    from workflow_runner.uses import github

    github.set_offline(args.offline)
    if run_dir is not None:
        github.remember(github.read_pins(run_dir))
    asyncio.run(prefetch(load_workflow(path)))
    if run_dir is not None:
        github.record_pins(run_dir)  # and pins made later in the run (checkout) go there too
    return checked(path)


def may_fetch(wf: Any) -> bool:
    """Whether a run of ``wf`` can reach git: any ``uses:`` but the built-in job_runner (a ``github/`` ref,
    a checkout, a called workflow or marketplace action that may use either)."""
    return any(step.uses and not str(step.uses).startswith("marketplace/job_runner/")
               for job in wf.jobs.values() for step in job.steps)


def record_pins(run_dir: Path) -> None:
    """Where this run's github/… pins go (``uses.json``), if it fetched anything at all."""
    github = sys.modules.get("workflow_runner.uses.github")
    if github is not None:
        github.record_pins(run_dir)


def resource_pool(opts: LaunchOptions) -> Any:
    from workflow_runner.engine import gpus
    from workflow_runner.engine.resources import Request, ResourcePool, detect, parse_memory

    found = detect()
    try:
        memory = parse_memory(opts.memory) if opts.memory else found.memory_mb
    except ValueError as exc:
        raise WorkflowError(f"--memory: {exc}") from None
    devices = gpus.from_option(opts.gpus, gpus.detect())
    return ResourcePool(Request(opts.cpus or found.cpus, memory, len(devices.ids)), devices)


def check_resources(plan: Any, inputs: dict, pool: Any) -> list[WorkflowError]:
    """A job asking for more than the machine has is an error before anything runs."""
    from workflow_runner.engine.context import evaluate
    from workflow_runner.engine.resources import request_of
    from workflow_runner.expressions import Context

    errors: list[WorkflowError] = []
    for inst in plan.all_instances():
        r = inst.job.resources
        if r is None or inst.job.ssh is not None:
            continue
        ctx = Context(values={"inputs": inputs, "matrix": inst.matrix or {}})
        where = plan.workflow.locate(inst.job.path + ("resources",))
        try:
            values = {k: evaluate(v, ctx) for k, v in (("cpus", r.cpus), ("memory", r.memory), ("gpus", r.gpus))}
            pool.check(request_of(values, f"job '{inst.key}'"), f"job '{inst.key}'")
        except WorkflowError as exc:
            errors.append(WorkflowError(exc.message, location=where))
    return errors


def stop_leftovers(token: str) -> int:
    """At the end of a session (completed, failed, canceled): stop what its steps left running, and say so.

    A step's own process group is killed when its main process ends; this reaches
    what left the group (``setsid``, daemons), found by the run token in its environment.
    """
    killed = kill_leftovers(token)
    if killed:
        print(f"wfrun: stopped {killed} process group(s) that steps of this run left running (daemons, setsid)",
              file=sys.stderr)
    return killed


def run_secrets(resolved: Any, org: dict | None) -> list[str]:
    """What a run masks: its password inputs and its string ``org`` values (those of 4 characters or more)."""
    return list(resolved.secrets) + [str(v) for v in (org or {}).values() if isinstance(v, str) and len(v) >= 4]


def prepare(wf: Any, resolved: Any, opts: LaunchOptions, org: dict | None = None) -> tuple[Any, Any]:
    """(plan, resource pool), after every check that can fail before a run exists (exit 2)."""
    from workflow_runner.actions.preflight import preflight
    from workflow_runner.datasets import resolve_dataset_refs
    from workflow_runner.graph import make_plan
    from workflow_runner.state.rundir import wfrun_home

    if opts.max_parallel < 1:
        raise WorkflowError("--max-parallel must be at least 1")
    resolved.values = resolve_dataset_refs(resolved.values, wfrun_home())  # dataset:<sha256> -> its local path
    plan = make_plan(wf, resolved.values, run_secrets(resolved, org))
    pool = resource_pool(opts)
    raise_all(preflight(plan, resolved.values) + check_resources(plan, resolved.values, pool))
    return plan, pool


def new_run(store: Any, wf: Any, resolved: Any, argv: list[str]) -> int:
    from workflow_runner.state.secrets import secret_paths_of

    return store.new_run(workflow=wf.name, file=str(wf.path), argv=argv, inputs_masked=resolved.masked(),
                         secret_paths=secret_paths_of(resolved.values, resolved.secrets), secrets=resolved.secrets)


def detach(argv: list[str], store: Any, run: int, run_dir: Path, stdin_data: str | None = None) -> int:
    """Start ``wfrun run … --attach-run N`` in the background, its output in the run directory.

    The arguments (``--set pw=…`` among them), and what this process read for ``--inputs -``
    (``stdin_data``), go to the child on a pipe: its command line shows only the run number.
    """
    from workflow_runner.handoff import handoff

    log = open(run_dir / "wfrun.out", "ab")
    child = subprocess.Popen([sys.executable, "-m", "workflow_runner.detached", str(run)],
                             stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        child.stdin.write(handoff([*argv, "--attach-run", str(run)], stdin_data))
        child.stdin.close()
    except BrokenPipeError:  # the child died at once; its output says why
        pass
    store.set_owner(run, pid=child.pid)
    print(f"run {run} started in the background (pid {child.pid}); its output: {run_dir / 'wfrun.out'}")
    print(f"  wfrun status {run}    wfrun logs {run} -f    wfrun cancel {run}")
    return 0


async def execute(wf: Any, resolved: Any, opts: LaunchOptions, *, plan: Any, pool: Any, store: Any, run: int,
                  run_dir: Any, org: dict, prior: Any = None, clusters: dict | None = None) -> int:
    from workflow_runner.engine.context import evaluate
    from workflow_runner.engine.durations import parse_duration
    from workflow_runner.actions.registry import default_actions
    from workflow_runner.engine.record import StoreRecorder
    from workflow_runner.engine.runstate import RunOptions, Shared
    from workflow_runner.engine.scheduler import RunEngine, run_end
    from workflow_runner.state.recordfile import warn_once
    from workflow_runner.state.storefaults import StoreIdentity, explain
    from workflow_runner.expressions import Context
    from workflow_runner.inputs import current_user
    from workflow_runner.targets.hostusers import host_users
    from workflow_runner.targets.select import SSHOptions, Targets
    from workflow_runner.ui.console import Fanout, JsonReporter, LiveReporter, PlainReporter, RunRecorder

    if opts.json:
        screen: Any = JsonReporter()
    elif opts.quiet:
        screen = PlainReporter(quiet=True)
    elif sys.stdout.isatty() and not opts.no_live:
        screen = LiveReporter()
    else:
        screen = PlainReporter()
    targets = Targets(SSHOptions(known_hosts=opts.known_hosts, identity_files=opts.identities,
                                 insecure_no_host_key_check=opts.insecure_no_host_key_check),
                      users=host_users(resolved.values, clusters))
    options = RunOptions(max_parallel=opts.max_parallel, grace=opts.grace, user=current_user(), org=org)
    secrets = run_secrets(resolved, org)
    shared = Shared(reporter=None, targets=targets, options=options, local_slots=asyncio.Semaphore(opts.max_parallel),
                    secrets=secrets, pool=pool, store=store, run_number=run, run_token=run_token(store.path, run),
                    actions=default_actions())
    recorder = RunRecorder(run_dir.root)
    shared.reporter = Fanout(recorder, StoreRecorder(store, run, mask=shared.mask), screen)
    engine = RunEngine(plan, resolved, run_dir, shared, run_id=str(run), prior=prior)
    try:
        limit = parse_duration(evaluate(wf.timeout, Context(values={"inputs": resolved.values})))
    except ValueError as exc:
        raise WorkflowError(f"timeout: {exc}", location=wf.locate(("timeout",))) from None
    got: list[int] = []

    def on_signal(signum: int) -> None:
        if got:
            shared.hurry.set()
            print("wfrun: cutting the grace period short", file=sys.stderr)
            return
        got.append(signum)
        name = "interrupted" if signum == signal.SIGINT else "terminated"
        # Only a person at a terminal can press Ctrl-C again; SIGTERM and detached runs get no such hint.
        hurry = " (Ctrl-C again to hurry)" if signum == signal.SIGINT and sys.stderr.isatty() else ""
        print(f"\nwfrun: {name}; canceling steps and running cleanups{hurry}", file=sys.stderr)
        engine.cancel(name, exit_code=exit_code_of(signum))

    identity = StoreIdentity.of(store.path)

    def store_lost() -> bool:
        """Say (once) that the store file was deleted or replaced: this run's record is then only its run directory."""
        problem = identity.problem() if identity is not None else None
        if problem:
            warn_once(f"store:{store.path}", f"the run store {store.path} {problem} during run {run}; this run is "
                      f"recorded only in its run directory {run_dir.root} (run.json, events.jsonl, logs)")
        return bool(problem)

    async def watch_store() -> None:
        while True:
            await asyncio.sleep(1.0)
            if store_lost():
                continue
            try:
                asked = await asyncio.to_thread(store.cancel_requested, run)
            except sqlite3.Error as exc:
                warn_once(f"store:{store.path}", f"{explain(exc, store.path)}; run {run} goes on and is recorded "
                          f"in its run directory {run_dir.root}")
                continue
            if asked:
                print("wfrun: canceled from another terminal (wfrun cancel)", file=sys.stderr)
                got.append(signal.SIGTERM)
                engine.cancel("canceled by wfrun cancel", exit_code=exit_code_of(signal.SIGTERM))
                return

    async def expire() -> None:
        await asyncio.sleep(limit)
        print(f"wfrun: workflow timeout ({limit:g}s) reached; canceling", file=sys.stderr)
        engine.cancel("timeout")

    loop = asyncio.get_running_loop()
    _fast_child_watcher(loop)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    store.set_ssh(run, ssh_record(opts))
    store.run_started(run)  # a new attempt; a resume clears an old cancel request before the watcher looks
    helpers = [asyncio.ensure_future(watch_store())] + ([asyncio.ensure_future(expire())] if limit else [])
    # The parsed workflow and plan live for the whole run: move them out of the
    # garbage collector's sight, so full collections don't rescan them for every
    # job (which made per-job cost grow with the number of jobs). No collection
    # first: it found nothing to free here (loading makes no cyclic garbage worth
    # it) and cost 6-10 ms of every run's start-up.
    gc.freeze()
    gcpause.started()  # the collector was off since the process began (cli.entry)
    outcome = None
    if prior is not None:  # after RunStarted (the engine's first step), so their events follow it
        helpers.append(asyncio.ensure_future(reopen_sessions(store, run, shared, engine)))
    try:
        outcome = await engine.run()
    finally:
        for task in helpers:
            task.cancel()
        await run_end(shared)  # sessions still open when the engine did not end normally
        await targets.aclose()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        stop_leftovers(shared.run_token)
        recorder.flush()  # events.jsonl's last lines, when the run ended without its RunFinished
        try:
            if outcome is None:
                store.run_finished(run, st.FAILED, 1)
            store.flush()
        except sqlite3.Error as exc:
            warn_once(f"store:{store.path}", f"{explain(exc, store.path)}; run {run}'s outcome is recorded only "
                      f"in its run directory {run_dir.root}")
        store_lost()
    if got:
        return exit_code_of(got[0])
    return outcome.exit_code


async def reopen_sessions(store: Any, run: int, shared: Any, engine: Any) -> None:
    """``wfrun resume``: the sessions the killed wfrun held open come back (on their old port when it is free);
    their steps, carried over, do not run again. A step that runs again updates its session itself."""
    from workflow_runner.actions.update_session import reopen_sessions as reopen
    from workflow_runner.state.sessionrows import OPEN_STATES

    rows = [r for r in store.sessions(run) if r.state in OPEN_STATES]
    if not rows:
        return

    def service(key: tuple, make: Any) -> Any:
        if key not in shared.services:
            shared.services[key] = make()
        return shared.services[key]

    problems = await reopen(rows, service=service, emit=engine.emit, at_run_end=shared.at_end.append,
                            target_of=shared.targets.get, is_local=lambda target: target is shared.targets.local)
    for problem in problems:
        print(f"wfrun: warning: {problem}", file=sys.stderr)


def exit_code_of(signum: int) -> int:
    """The exit code of a run canceled by ``signum``: 130 for Ctrl-C, 143 for SIGTERM and ``wfrun cancel``.

    The engine records the same code in the store and run.json, so ``wfrun status`` shows what the shell saw.
    """
    return 130 if signum == signal.SIGINT else 143


def _fast_child_watcher(loop: asyncio.AbstractEventLoop) -> None:
    """On Python 3.11, wait for children with pidfds instead of a thread per child (3.12 does this itself).

    The default ThreadedChildWatcher starts and joins one thread per step
    process; with thousands of short steps that is a measurable share of the run.
    """
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            watcher = asyncio.PidfdChildWatcher()
            watcher.attach_loop(loop)
            asyncio.set_child_watcher(watcher)
    except (OSError, RuntimeError, NotImplementedError):
        return


def load_prior(store: Any, run: int) -> Any:
    """What the store says the previous session of ``run`` finished."""
    from workflow_runner.engine.runstate import Prior

    prior = Prior()
    for job in store.jobs(run):
        prior.jobs[job.key] = (job.status, job.outputs or {})
    for step in store.steps(run):
        if not step.cleanup and step.index >= 0 and step.status == st.COMPLETED:
            prior.steps[(step.job, step.index)] = (step.status, step.outputs or {})
    for batch in store.batch_jobs(run):  # newest last: the newest row of a step decides
        # A batch job whose end the previous session recorded (completed, failed, canceled,
        # not submitted at all) is not re-attached: the step runs again and submits anew.
        # Without an end it may still be queued, or its id may be unknown (find it by name).
        if batch.finished_at is not None:
            prior.batch.pop((batch.job, batch.step_index), None)
        else:
            prior.batch[(batch.job, batch.step_index)] = batch
    return prior
