"""``wfrun resume RUN`` and ``wfrun rerun RUN --failed``: another attempt of an existing run.

``resume`` continues a run whose wfrun died (jobs and steps the store says finished are not
run again, batch jobs are re-attached); ``rerun --failed`` runs a finished run's failed,
canceled and skipped jobs again from their first step (see :mod:`workflow_runner.commands.rerun`).
Both keep the run's number, directory and stored inputs; password inputs are never stored and
must be given again. Below ``commands`` and above ``launch`` in the layers.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from workflow_runner.engine import status as st
from workflow_runner.errors import WorkflowError
from workflow_runner.ui.text import plural


def is_rerun(args: argparse.Namespace) -> bool:
    return getattr(args, "command", None) == "rerun"


def failed_only(prior: Any) -> Any:
    """The prior of a re-run: only completed jobs (and their steps) carry over; no batch job is re-attached."""
    done = {key for key, (status, _) in prior.jobs.items() if status == st.COMPLETED}
    prior.jobs = {key: value for key, value in prior.jobs.items() if key in done}
    prior.steps = {key: value for key, value in prior.steps.items() if key[0] in done}
    prior.batch = {}
    return prior


def resume(args: argparse.Namespace) -> int:
    """Run the next attempt of run ``args.run`` (``wfrun resume``, or ``wfrun rerun`` when ``args.command`` says so)."""
    from workflow_runner import inputpath, launch
    from workflow_runner import inputs as im
    from workflow_runner.errors import InputError, Location
    from workflow_runner.state.process import kill_leftovers, run_token
    from workflow_runner.state.runref import resolve_run
    from workflow_runner.state.rundir import RunDir
    from workflow_runner.state.store import RunStore
    from workflow_runner.targets import sshopts
    from workflow_runner.userconfig import load_user_config

    user = load_user_config()
    store = RunStore()
    try:
        row = resolve_run(store, args.run)
        row = store.refresh_liveness(row.id) or row
        if row.status in ("created", "running"):
            raise WorkflowError(f"run {row.id} is still running (pid {row.pid} on {row.hostname}); cancel it first")
        if row.status == "completed":
            print(f"run {row.id} already completed; nothing to {'re-run' if is_rerun(args) else 'resume'}")
            return 0
        wf = launch.fetched(args, row.file, Path(row.run_dir) if row.run_dir else None)
        stored = inputpath.without(row.inputs or {}, row.secret_paths or [])
        layers = [(f"run {row.id}'s inputs", stored)]
        if args.inputs:
            layers.append((args.inputs, im.load_values_file(args.inputs)))
        if args.sets:
            layers.append(("--set", im.parse_set(args.sets)))
        given = im.Sources(layers).merged()
        missing = [p for p in row.secret_paths or [] if inputpath.get(given, p) is None]
        if missing:
            names = ", ".join(missing)
            raise InputError(f"run {row.id} used password input(s) {names}, which are never stored; give them again "
                             f"with --set {missing[0]}=... or --inputs FILE", location=Location(f"wfrun resume {row.id}"))
        resolved = im.resolve(wf, im.Sources(layers), clusters=user.clusters, named=user.named, unknown_is_error=True)
        opts = sshopts.remembered(launch.options_from(args, user), args, row.ssh, user.ssh)
        plan, pool = launch.prepare(wf, resolved, opts, user.org)
        killed = kill_leftovers(run_token(store.path, row.id))
        if killed:
            print(f"wfrun: stopped {plural(killed, 'leftover local step process group')} of the interrupted run",
                  file=sys.stderr)
        store.set_owner(row.id)
        prior = launch.load_prior(store, row.id)
        if is_rerun(args):
            prior = failed_only(prior)
        run_dir = RunDir(Path(row.run_dir), row.id, wf.name) if row.run_dir else RunDir.numbered(wf.name, row.id)
        finished = sum(1 for s, _ in prior.jobs.values() if s in ("completed", "skipped"))
        if is_rerun(args):
            print(f"wfrun: re-running run {row.id}: {plural(finished, 'completed job')} carry over, the others run again",
                  file=sys.stderr)
        else:
            print(f"wfrun: resuming run {row.id}: {plural(finished, 'job')} finished before, "
                  f"{plural(len(prior.batch), 'batch job')} to re-attach", file=sys.stderr)
        return asyncio.run(launch.execute(wf, resolved, opts, plan=plan, pool=pool, store=store, run=row.id,
                                          run_dir=run_dir, org=user.org, prior=prior, clusters=user.clusters))
    finally:
        store.close()
