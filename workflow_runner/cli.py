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
import sqlite3
import sys
from typing import Any, Sequence

from workflow_runner import __version__, gcpause
from workflow_runner.errors import ErrorGroup, WorkflowError
from workflow_runner.routing import route
from workflow_runner.ui.text import plural

EPILOG = """\
commands:
  wfrun WORKFLOW.yaml [options]     run a workflow (same as 'wfrun run ...')
  wfrun validate FILE...            check files without running anything
  wfrun inputs WORKFLOW.yaml        show the resolved inputs (secrets masked)
  wfrun graph WORKFLOW.yaml         print the job graph (text, mermaid, dot)
  wfrun schema [--action]           print the JSON Schema (for editors)
  wfrun actions [show SLUG/VERSION] list the marketplace / show an action's inputs
  wfrun fetch WORKFLOW.yaml         fetch the github/… workflows (and checkouts) it uses, for offline runs
  wfrun runs                        recent runs, with status and duration
  wfrun status RUN                  jobs and steps of a run: status, attempts, batch job ids, hosts
  wfrun logs RUN [JOB[/STEP]] [-f]  step logs (follow a running run)
  wfrun cancel RUN                  cancel a run from another terminal (cleanups run)
  wfrun resume RUN                  continue a run whose wfrun died; re-attach to its batch jobs
  wfrun rerun RUN --failed          run a finished run's failed jobs (and what depends on them) again
  wfrun serve [DIR]                 an authenticated HTTP API over the runs and DIR's workflows

exit codes: 0 completed, 1 a job failed, 2 invalid input or usage, 130 interrupted, 143 terminated
"""


def _input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--inputs", "-f", metavar="FILE", help="input values (JSON or YAML; '-' reads standard input)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                   help="set one input, e.g. --set slurm.partition=debug (repeatable; JSON values keep their type)")
    p.add_argument("--config", metavar="NAME", help="start from the workflow's configurations.NAME preset")


RUN_COMMANDS = ("runs", "status", "logs", "cancel", "sessions")
"""The commands ``commands.add_parsers`` registers (they look at recorded runs)."""
COMMANDS = ("run", "resume", "validate", "fetch", "inputs", "graph", "schema", "actions", *RUN_COMMANDS, "rerun",
            "serve")
"""Every command's name; tests/unit/test_cli.py checks it against the whole parser."""
ENGINE_COMMANDS = ("run", "resume", "rerun")
"""The commands that start an engine (launch.execute): their start-up ends there, not at dispatch."""


def _columns() -> int:
    """The help text's width, as argparse's formatter computes it with ``shutil.get_terminal_size``.

    argparse builds a formatter for every ``add_argument`` (to check its metavar), and the
    formatter imports shutil, which imports bz2 and lzma: ~1.3 ms of every run's start-up.
    """
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return (columns or 80) - 2


class _Help(argparse.HelpFormatter):
    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, width or _columns())


class _RawHelp(_Help, argparse.RawDescriptionHelpFormatter):
    """The top level's help: its epilog is laid out by hand."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help formatter does not import shutil; subparsers are made of the same class."""

    def __init__(self, *args: Any, formatter_class: Any = _Help, **kwargs: Any) -> None:
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (``only``) the top level with one command's subparser: a run starts
    sooner without building fifteen subparsers and importing the serve and rerun modules."""
    parser = _Parser(
        prog="wfrun",
        description="Run ACTIVATE-style workflow YAML here, over SSH, or as SLURM/PBS batch jobs.",
        epilog=EPILOG,
        formatter_class=_RawHelp,
    )
    parser.add_argument("--version", action="version", version=f"wfrun {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    if only in (None, "run"):
        run = sub.add_parser("run", help="run a workflow", description="Run a workflow and wait for it to finish.")
        run.add_argument("workflow", help="the workflow file")
        _input_options(run)
        run.add_argument("--detach", "-d", action="store_true",
                         help="start the run in the background and print its number (see wfrun status/logs/cancel)")
        run.add_argument("--attach-run", type=int, help=argparse.SUPPRESS)
        _run_options(run)

    if only in (None, "resume"):
        res = sub.add_parser("resume", help="continue an interrupted run",
                             description="Continue a run whose wfrun died (kill -9, reboot, lost terminal): finished jobs and "
                                         "steps are not run again, batch jobs still queued or running are re-attached, "
                                         "local/SSH steps that were running are run again.")
        res.add_argument("run", metavar="RUN", help="run number (or 'last')")
        res.add_argument("--inputs", "-f", metavar="FILE", help="values for password inputs (never stored)")
        res.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE", help="a password input's value")
        _run_options(res)

    if only in (None, "validate"):
        val = sub.add_parser("validate", help="check workflow files", description="Check workflow files: YAML, schema, expressions, needs, uses:. Needs no network, cluster or input values.")
        val.add_argument("files", nargs="+", metavar="FILE")
        val.add_argument("--strict", action="store_true", help="treat warnings as errors")
        _offline_option(val, "validate never fetches; this only says so (github/… refs come from the cache)")

    if only in (None, "fetch"):
        fe = sub.add_parser("fetch", help="fetch github/… workflows for offline use",
                            description="Fetch every github/<owner>/<repo>@<ref> workflow WORKFLOW uses (recursively) and the "
                                        "repositories of its parallelworks/checkout steps into $WFRUN_HOME, so that later "
                                        "runs work with --offline.")
        fe.add_argument("workflow")
        _offline_option(fe, "fetch nothing: check that everything is already cached")

    if only in (None, "inputs"):
        inp = sub.add_parser("inputs", help="show resolved inputs", description="Resolve the inputs as a run would and print them (password values masked).")
        inp.add_argument("workflow")
        _input_options(inp)

    if only in (None, "graph"):
        gr = sub.add_parser("graph", help="print the job graph", description="Print the job graph.")
        gr.add_argument("workflow")
        gr.add_argument("--format", choices=("text", "mermaid", "dot"), default="text")

    if only in (None, "schema"):
        sc = sub.add_parser("schema", help="print the JSON Schema", description="Print the JSON Schema of workflows (or of marketplace action definitions).")
        sc.add_argument("--action", action="store_true", help="the schema of marketplace action definitions")

    if only in (None, "actions"):
        ac = sub.add_parser("actions", help="list marketplace actions", description="List the marketplace, or show one action's inputs.")
        ac.add_argument("show", nargs="?", choices=("show",), help=argparse.SUPPRESS)
        ac.add_argument("name", nargs="?", metavar="SLUG/VERSION")

    if only is None or only in RUN_COMMANDS:
        from workflow_runner import commands

        commands.add_parsers(sub)
    if only in (None, "rerun"):
        from workflow_runner.commands import rerun as rerun_command

        rerun_command.add_parser(sub, _run_options)
    if only in (None, "serve"):
        from workflow_runner.serve import command as serve_command

        serve_command.add_parser(sub)
    return parser


def _offline_option(p: argparse.ArgumentParser, text: str) -> None:
    p.add_argument("--offline", action="store_true", help=text)


def _run_options(run: argparse.ArgumentParser) -> None:
    _offline_option(run, "no network for github/… and checkout refs: use what 'wfrun fetch' or an earlier run cached")
    run.add_argument("--max-parallel", "-j", type=int, default=os.cpu_count() or 2, metavar="N",
                     help="at most N local step processes at once (default: number of CPUs)")
    run.add_argument("--cpus", type=float, metavar="N", help="CPUs this machine offers to jobs' resources: (default: detected)")
    run.add_argument("--memory", metavar="SIZE", help="memory offered to jobs' resources:, e.g. 16G (default: detected)")
    run.add_argument("--gpus", metavar="N|IDS", help="GPUs offered to jobs' resources:, a count (2) or ids (0,1,3; one id: 3,); "
                     "each local job sees only its own in CUDA_VISIBLE_DEVICES (default: detected)")
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


HOME_WRITTEN = ("run", "resume", "rerun", "fetch", "runs", "status", "logs", "cancel", "sessions", "serve")
"""Commands that write the run store or a run directory: their home must exist and be writable."""
HOME_READ = ("validate", "inputs", "graph", "actions")
"""Commands that only look in the home (marketplace, schema cache): it must at least be findable."""
def say(err: WorkflowError) -> None:
    """One error line on stderr, prefixed ``wfrun:`` once (a location may already name ``wfrun …``)."""
    from workflow_runner.ui.text import visible

    text = visible(str(err))  # a name in the message may carry terminal escapes
    print(text if text.startswith("wfrun") else f"wfrun: {text}", file=sys.stderr)


def entry() -> None:
    """The ``wfrun`` process: main (no collection during its start-up), then exit without the collector's
    last pass over every object."""
    gcpause.until_started()
    code = main()
    gcpause.off_until_exit()
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    from workflow_runner.ui.pipe import drop_stdout, is_broken_pipe

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        build_parser().print_usage(sys.stderr)
        print("wfrun: give a workflow file to run, or a command ('wfrun --help' lists them)", file=sys.stderr)
        return 2
    try:
        argv = route(argv)
    except WorkflowError as err:
        say(err)
        return 2
    # A known command needs only its own subparser; anything else (--help, a typo) gets the whole list.
    parser = build_parser(argv[0] if argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        return 2
    args.raw_argv = argv[1:]
    if args.command not in ENGINE_COMMANDS:
        gcpause.started()
    try:
        if args.command in HOME_WRITTEN + HOME_READ:
            from workflow_runner.homedir import checked_home

            checked_home(writable=args.command in HOME_WRITTEN)
        if args.command in RUN_COMMANDS:
            from workflow_runner import commands

            return commands.main(args)
        if args.command == "serve":
            from workflow_runner.serve import command as serve_command

            return serve_command.main(args)
        return {
            "run": cmd_run, "resume": cmd_resume, "rerun": cmd_resume, "validate": cmd_validate, "inputs": cmd_inputs, "graph": cmd_graph,
            "schema": cmd_schema, "actions": cmd_actions, "fetch": cmd_fetch,
        }[args.command](args)
    except ErrorGroup as group:
        for err in group.errors:
            say(err)
        return 2
    except WorkflowError as err:
        say(err)
        return 2
    except KeyboardInterrupt:
        return 130
    except sqlite3.Error as exc:  # the run store: damaged, on a full disk, read-only
        from workflow_runner.state.storefaults import explain
        from workflow_runner.state.store import default_path

        say(explain(exc, default_path()))
        return 2
    except OSError as exc:
        if not is_broken_pipe(exc):
            raise
        drop_stdout()  # `wfrun runs | head`: the reader is gone, nothing more to say
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
    return im.resolve(wf, im.Sources(layers), clusters=user.clusters, named=user.named, unknown_is_error=True)


def cmd_validate(args: argparse.Namespace) -> int:
    from workflow_runner.uses import github
    from workflow_runner.ui.text import visible
    from workflow_runner.validate import check

    github.set_offline(args.offline)
    worst = 0
    for file in args.files:
        _, report = check(file)
        for err in report.errors:
            print(visible(str(err)), file=sys.stderr)
        for warning in report.warnings:
            print(f"warning: {visible(str(warning))}", file=sys.stderr)
        for hint in report.hints:
            print(f"hint: {visible(str(hint))}", file=sys.stderr)
        if report.errors or (args.strict and report.warnings):
            worst = 2
        else:
            print(f"{file}: ok" + (f" ({plural(len(report.warnings), 'warning')})" if report.warnings else ""))
    return worst


def cmd_fetch(args: argparse.Namespace) -> int:
    from workflow_runner.uses import github
    from workflow_runner.actions.prefetch import prefetch

    github.set_offline(args.offline)
    pins = asyncio.run(prefetch(_load(args.workflow), checkouts=True))
    for what, pin in pins:
        print(f"{what}: {pin.kind} {pin.commit} {pin.path}")
    if not pins:
        print(f"{args.workflow}: uses no github/… workflow or literal checkout; nothing to fetch")
    return 0


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
    from workflow_runner.graph import export

    sys.stdout.write(export(_load(args.workflow), args.format))
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from workflow_runner.resume import resume

    return resume(args)


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
    from workflow_runner import inputs as im
    from workflow_runner import launch
    from workflow_runner.state.recovery import claim_run_dir, continue_numbering, numbering_behind
    from workflow_runner.state.rundir import RunDir
    from workflow_runner.state.store import RunStore
    from workflow_runner.userconfig import load_user_config

    user = load_user_config()
    attached = RunDir.numbered(_load(args.workflow).name, args.attach_run).root if args.attach_run else None
    wf = launch.fetched(args, args.workflow, attached)
    resolved = _resolve_inputs(wf, args, user)
    for warning in resolved.warnings:
        print(f"wfrun: warning: {warning}", file=sys.stderr)
    opts = launch.options_from(args, user)
    plan, pool = launch.prepare(wf, resolved, opts, user.org)
    store = RunStore()
    try:
        if args.attach_run:
            run = args.attach_run
            run_dir = RunDir.numbered(wf.name, run)
        else:
            if numbering_behind(store.next_number(), wf.name, store.path.parent):
                continue_numbering(store.path, store.path.parent)
            run = launch.new_run(store, wf, resolved, ["run", *args.raw_argv])
            run_dir = claim_run_dir(wf.name, run, store.path.parent)
            store.set_run_dir(run, str(run_dir.root))
            launch.record_pins(run_dir.root)
            if args.detach:
                child_argv = [a for a in args.raw_argv if a not in ("--detach", "-d")]
                piped = im.read_stdin_once() if args.inputs == "-" else None
                return launch.detach(["run", *child_argv], store, run, run_dir.root, piped)
        return asyncio.run(launch.execute(wf, resolved, opts, plan=plan, pool=pool, store=store, run=run,
                                          run_dir=run_dir, org=user.org, clusters=user.clusters))
    finally:
        store.close()
