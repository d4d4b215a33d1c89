"""``wfrun``: the command line.

Exit codes: 0 the run completed, 1 a job failed, 2 invalid workflow/inputs/usage,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM). User errors print as one
line ``file:line:col: message``; only internal bugs show a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

from workflow_runner import __version__
from workflow_runner.errors import ErrorGroup, WorkflowError

COMMANDS = ("run", "validate", "inputs", "graph", "schema", "actions")

EPILOG = """\
commands:
  wfrun WORKFLOW.yaml [options]     run a workflow (same as 'wfrun run ...')
  wfrun validate FILE...            check files without running anything
  wfrun inputs WORKFLOW.yaml        show the resolved inputs (secrets masked)
  wfrun graph WORKFLOW.yaml         print the job graph (text, mermaid, dot)
  wfrun schema [--action]           print the JSON Schema (for editors)
  wfrun actions [show SLUG/VERSION] list the marketplace / show an action's inputs

exit codes: 0 completed, 1 a job failed, 2 invalid input or usage, 130 interrupted, 143 terminated
"""


def _input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--inputs", "-f", metavar="FILE", help="input values (JSON or YAML)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                   help="set one input, e.g. --set slurm.partition=debug (repeatable; JSON values keep their type)")
    p.add_argument("--config", metavar="NAME", help="start from the workflow's configurations.NAME preset")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wfrun",
        description="Run ACTIVATE-style workflow YAML here, over SSH, or as SLURM/PBS batch jobs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wfrun {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a workflow", description="Run a workflow and wait for it to finish.")
    run.add_argument("workflow", help="the workflow file")
    _input_options(run)
    run.add_argument("--max-parallel", "-j", type=int, default=os.cpu_count() or 2, metavar="N",
                     help="at most N local step processes at once (default: number of CPUs)")
    run.add_argument("--cpus", type=float, metavar="N", help="CPUs this machine offers to jobs' resources: (default: detected)")
    run.add_argument("--memory", metavar="SIZE", help="memory offered to jobs' resources:, e.g. 16G (default: detected)")
    run.add_argument("--gpus", type=int, metavar="N", help="GPUs offered to jobs' resources: (default: detected)")
    run.add_argument("--grace", type=float, default=10.0, metavar="SECONDS",
                     help="on cancel, wait this long after SIGTERM before SIGKILL (default 10; a second Ctrl-C cuts it short)")
    out = run.add_mutually_exclusive_group()
    out.add_argument("--quiet", "-q", action="store_true", help="print only the final summary")
    out.add_argument("--json", action="store_true", help="print machine-readable events, one JSON object per line")
    out.add_argument("--no-live", action="store_true", help="plain prefixed lines even on a terminal")
    run.add_argument("--known-hosts", metavar="FILE", help="SSH known_hosts file (default: ~/.ssh/known_hosts)")
    run.add_argument("--identity", "-i", action="append", default=[], metavar="KEY", help="SSH private key (repeatable)")
    run.add_argument("--insecure-no-host-key-check", action="store_true",
                     help="DANGEROUS: do not verify SSH host keys (man-in-the-middle attacks become possible)")

    val = sub.add_parser("validate", help="check workflow files", description="Check workflow files: YAML, schema, expressions, needs, uses:. Needs no network, cluster or input values.")
    val.add_argument("files", nargs="+", metavar="FILE")
    val.add_argument("--strict", action="store_true", help="treat warnings as errors")

    inp = sub.add_parser("inputs", help="show resolved inputs", description="Resolve the inputs as a run would and print them (password values masked).")
    inp.add_argument("workflow")
    _input_options(inp)

    gr = sub.add_parser("graph", help="print the job graph", description="Print the job graph.")
    gr.add_argument("workflow")
    gr.add_argument("--format", choices=("text", "mermaid", "dot"), default="text")

    sc = sub.add_parser("schema", help="print the JSON Schema", description="Print the JSON Schema of workflows (or of marketplace action definitions).")
    sc.add_argument("--action", action="store_true", help="the schema of marketplace action definitions")

    ac = sub.add_parser("actions", help="list marketplace actions", description="List the marketplace, or show one action's inputs.")
    ac.add_argument("show", nargs="?", choices=("show",), help=argparse.SUPPRESS)
    ac.add_argument("name", nargs="?", metavar="SLUG/VERSION")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        argv.insert(0, "run")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return {
            "run": cmd_run, "validate": cmd_validate, "inputs": cmd_inputs, "graph": cmd_graph,
            "schema": cmd_schema, "actions": cmd_actions,
        }[args.command](args)
    except ErrorGroup as group:
        for err in group.errors:
            print(f"wfrun: {err}", file=sys.stderr)
        return 2
    except WorkflowError as err:
        print(f"wfrun: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


# ---------------------------------------------------------------- commands


def _load(path: str) -> Any:
    from workflow_runner.validate import load_workflow

    return load_workflow(path)


def _resolve_inputs(wf: Any, args: argparse.Namespace, user: Any) -> Any:
    from workflow_runner import inputs as im

    layers: list[tuple[str, dict]] = []
    if args.config:
        layers.append((f"--config {args.config}", im.preset(wf, args.config)))
    if args.inputs:
        layers.append((args.inputs, im.load_values_file(args.inputs)))
    if args.sets:
        layers.append(("--set", im.parse_set(args.sets)))
    return im.resolve(wf, im.Sources(layers), clusters=user.clusters)


def cmd_validate(args: argparse.Namespace) -> int:
    from workflow_runner.validate import check

    worst = 0
    for file in args.files:
        _, report = check(file)
        for err in report.errors:
            print(f"{err}", file=sys.stderr)
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if report.errors or (args.strict and report.warnings):
            worst = 2
        else:
            print(f"{file}: ok" + (f" ({len(report.warnings)} warnings)" if report.warnings else ""))
    return worst


def cmd_inputs(args: argparse.Namespace) -> int:
    from workflow_runner.userconfig import load_user_config

    wf = _load(args.workflow)
    resolved = _resolve_inputs(wf, args, load_user_config())
    for warning in resolved.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(json.dumps(resolved.masked(), indent=2))
    if resolved.ignored:
        print(f"# ignored: {', '.join(resolved.ignored)}", file=sys.stderr)
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from workflow_runner.graph import to_networkx, topological_order

    wf = _load(args.workflow)
    if args.format == "text":
        for name in topological_order(wf.jobs) or []:
            job = wf.jobs[name]
            matrix = " [matrix]" if job.strategy else ""
            needs = f"  <- {', '.join(job.needs)}" if job.needs else ""
            print(f"{name}{matrix}{needs}")
        return 0
    graph = to_networkx(wf)
    if args.format == "mermaid":
        ids: dict[str, str] = {}
        for node in graph.nodes:  # 'a-b' and 'a_b' are different jobs: keep their ids apart
            base = ident = _mermaid_id(node)
            n = 1
            while ident in ids.values():
                n += 1
                ident = f"{base}_{n}"
            ids[node] = ident
        print("graph TD")
        for node in graph.nodes:
            print(f'  {ids[node]}["{node}"]')
        for a, b in graph.edges:
            print(f"  {ids[a]} --> {ids[b]}")
    else:
        print("digraph workflow {")
        print("  rankdir=LR;")
        for node in graph.nodes:
            print(f"  {json.dumps(node)};")
        for a, b in graph.edges:
            print(f"  {json.dumps(a)} -> {json.dumps(b)};")
        print("}")
    return 0


def _mermaid_id(name: str) -> str:
    return "j_" + "".join(c if c.isalnum() else "_" for c in name)


def cmd_schema(args: argparse.Namespace) -> int:
    from workflow_runner.schema import load_schema

    print(json.dumps(load_schema("action" if args.action else "workflow"), indent=2))
    return 0


def cmd_actions(args: argparse.Namespace) -> int:
    from workflow_runner.actions.catalog import list_actions, show_action

    if args.name:
        print(show_action(args.name))
    elif args.show:
        print("wfrun actions show: name the action as SLUG/VERSION, e.g. job_runner/v4.0", file=sys.stderr)
        return 2
    else:
        print(list_actions())
    return 0


# ---------------------------------------------------------------- run


def cmd_run(args: argparse.Namespace) -> int:
    from workflow_runner.userconfig import load_user_config
    from workflow_runner.validate import check

    user = load_user_config()
    wf, report = check(args.workflow)
    for warning in report.warnings:
        print(f"wfrun: warning: {warning}", file=sys.stderr)
    if report.errors:
        raise ErrorGroup(report.errors) if len(report.errors) > 1 else report.errors[0]
    resolved = _resolve_inputs(wf, args, user)
    for warning in resolved.warnings:
        print(f"wfrun: warning: {warning}", file=sys.stderr)
    if args.max_parallel < 1:
        raise WorkflowError("--max-parallel must be at least 1")
    return asyncio.run(_run(wf, resolved, args, user))


async def _run(wf: Any, resolved: Any, args: argparse.Namespace, user: Any) -> int:
    from workflow_runner.engine.context import evaluate
    from workflow_runner.engine.durations import parse_duration
    from workflow_runner.expressions import Context
    from workflow_runner.engine.scheduler import RunEngine, RunOptions, Shared
    from workflow_runner.graph import make_plan
    from workflow_runner.inputs import _user
    from workflow_runner.state.rundir import RunDir
    from workflow_runner.targets.select import SSHOptions, Targets
    from workflow_runner.ui.console import Fanout, JsonReporter, LiveReporter, PlainReporter, RunRecorder

    from workflow_runner.actions.preflight import preflight
    from workflow_runner.errors import raise_all

    plan = make_plan(wf, resolved.values)
    pool = _resource_pool(args)
    raise_all(preflight(plan, resolved.values) + check_resources(plan, resolved.values, pool))
    run_dir = RunDir.allocate(wf.name)
    if args.json:
        screen: Any = JsonReporter()
    elif args.quiet:
        screen = PlainReporter(quiet=True)
    elif sys.stdout.isatty() and not args.no_live:
        screen = LiveReporter()
    else:
        screen = PlainReporter()
    ssh_conf = user.ssh
    targets = Targets(SSHOptions(
        known_hosts=args.known_hosts or _expand(ssh_conf.get("known_hosts")),
        identity_files=[_expand(p) for p in (args.identity or ssh_conf.get("identity_files") or [])],
        insecure_no_host_key_check=args.insecure_no_host_key_check,
    ))
    options = RunOptions(max_parallel=args.max_parallel, grace=args.grace, user=_user(), org=user.org)
    secrets = list(resolved.secrets) + [str(v) for v in user.org.values() if isinstance(v, str) and len(v) >= 4]
    shared = Shared(reporter=Fanout(RunRecorder(run_dir.root), screen), targets=targets, options=options,
                    local_slots=asyncio.Semaphore(args.max_parallel), secrets=secrets, pool=pool)
    engine = RunEngine(plan, resolved, run_dir, shared)
    got: list[int] = []

    def on_signal(signum: int) -> None:
        if got:
            shared.hurry.set()
            print("wfrun: cutting the grace period short", file=sys.stderr)
            return
        got.append(signum)
        name = "interrupted" if signum == signal.SIGINT else "terminated"
        print(f"\nwfrun: {name}; canceling steps and running cleanups (again to hurry)", file=sys.stderr)
        engine.cancel(name)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    watchdog = None
    try:
        limit = parse_duration(evaluate(wf.timeout, Context(values={"inputs": resolved.values})))
    except ValueError as exc:
        raise WorkflowError(f"timeout: {exc}", location=wf.locate(("timeout",))) from None
    if limit:
        async def expire() -> None:
            await asyncio.sleep(limit)
            print(f"wfrun: workflow timeout ({limit:g}s) reached; canceling", file=sys.stderr)
            engine.cancel("timeout")

        watchdog = asyncio.ensure_future(expire())
    try:
        outcome = await engine.run()
    finally:
        if watchdog:
            watchdog.cancel()
        await targets.aclose()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if got:
        return 130 if got[0] == signal.SIGINT else 143
    return outcome.exit_code


def _resource_pool(args: argparse.Namespace) -> Any:
    from workflow_runner.engine.resources import Request, ResourcePool, detect, parse_memory

    found = detect()
    try:
        memory = parse_memory(args.memory) if args.memory else found.memory_mb
    except ValueError as exc:
        raise WorkflowError(f"--memory: {exc}") from None
    return ResourcePool(Request(args.cpus or found.cpus, memory, found.gpus if args.gpus is None else args.gpus))


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


def _expand(path: Any) -> Any:
    return os.path.expanduser(path) if isinstance(path, str) else path
