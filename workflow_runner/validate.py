"""The front half of the pipeline: file → checked Workflow, with every error at once.

load (YAML with positions) → schema → model (expressions compiled) → graph
(needs, cycles) → references (a job reads only the needs it declares) → uses
(every called definition found, loaded and checked, its ``with:`` keys known).
Needs no network, no cluster and no input values.
"""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Any

from workflow_runner import gcpause, graph, limits, model, schema, treecache
from workflow_runner.records import Record, record
from workflow_runner.uses import agents, asworkflow
from workflow_runner.dialect_notes import bare_word_notes
from workflow_runner.errors import ErrorGroup, SchemaError, UsesError, WorkflowError, did_you_mean, raise_all
from workflow_runner.expressions import (
    ExpressionError, Template, compile_condition, compile_string, contains_expression,
)
from workflow_runner.loader import YList, YMap
from workflow_runner.model import Workflow, job_templates, workflow_templates
from workflow_runner.sessions.checks import check_sessions


@record
class Report(Record):
    """Everything ``wfrun validate`` found, collected so a user fixes it all in one round."""

    errors: list[WorkflowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    """Not problems: notes on how the platform dialect read something (dialect_notes.py)."""


_CACHE: dict[Any, Workflow] = {}


ACTION_KEYS = ("wfrun", "version", "outputs")


def load_workflow(path: str | Path, kind: str = "auto") -> Workflow:
    """Load and check one file; raise WorkflowError/ErrorGroup with everything wrong in it.

    ``kind`` "auto" checks a file that declares action metadata (``wfrun:``,
    ``version:``, ``outputs:``) against the action schema, others as workflows.
    """
    with gcpause.paused():
        return _load_workflow(Path(path), kind)


def _load_workflow(path: Path, kind: str) -> Workflow:
    try:
        stat = path.stat()
        # The file's version is part of the key: a long-lived process (wfrun serve) sees edits.
        key: Any = (path.resolve(), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None  # load_file reports it
    if key in _CACHE:
        return _CACHE[key]
    tree = treecache.load(path, tree_cache_dir())
    if kind == "auto":
        kind = "action" if any(k in tree for k in ACTION_KEYS) else "workflow"
    digest = _schema_digest(path, kind)
    if digest is None or not _schema_ok(digest):
        found = schema.violations(tree, kind)
        if found:
            # Report the expressions of the schema-valid parts too: one round of fixes, not two.
            raise_all([err for _, err in found] + expression_errors(tree, [path for path, _ in found]))
        _remember_schema_ok(digest)
    errors = []
    wf, model_errors = model.build(tree, path)
    errors += model_errors
    errors += graph.check(wf)
    errors += check_references(wf)
    errors += check_sessions(wf)
    raise_all(errors)
    _CACHE[key] = wf
    return wf


def expression_errors(tree: Any, skip: list[tuple]) -> list[WorkflowError]:
    """Compile every expression in ``tree`` outside the ``skip`` paths (the parts the schema rejected).

    The model compiles expressions only once the schema passes; this gives a
    file with schema errors its expression errors in the same report.
    """
    errors: list[WorkflowError] = []

    def skipped(path: tuple) -> bool:
        return any(path[: len(s)] == s for s in skip)

    def walk(node: Any, path: tuple) -> None:
        if not isinstance(node, (YMap, YList)):
            return
        for key, value in node.items() if isinstance(node, YMap) else enumerate(node):
            here = path + (key,)
            if skipped(here):
                continue
            if not isinstance(value, str):
                walk(value, here)
                continue
            origin = node.origins.get(key)
            condition = key == "if" and here[:1] == ("jobs",) and len(here) in (3, 5)
            try:
                if contains_expression(value):
                    compile_string(value, origin=origin)
                elif condition:
                    compile_condition(value, origin=origin)
            except ExpressionError as exc:
                errors.append(exc)

    walk(tree, ())
    return errors


def _schema_digest(path: Path, kind: str) -> str | None:
    """Content hash of (file, schema, wfrun version): a file that passed the schema once needs no second check.

    Importing and running jsonschema is most of a small workflow's start-up
    time; re-running the same file (the common case) skips it.
    """
    import hashlib

    from workflow_runner import __version__

    try:
        h = hashlib.sha256(path.read_bytes())
    except OSError:
        return None
    h.update(schema.schema_bytes(kind))
    h.update(f"{kind}/{__version__}".encode())
    return h.hexdigest()


def _cache_dir() -> Path:
    from workflow_runner.state.rundir import cache_dir

    return cache_dir("schema-ok")


def tree_cache_dir() -> Path:
    """Where parsed trees are kept between processes (treecache.py)."""
    from workflow_runner.state.rundir import cache_dir

    return cache_dir("trees")


def _schema_ok(digest: str) -> bool:
    return (_cache_dir() / digest).exists()


def _remember_schema_ok(digest: str | None) -> None:
    if digest is None:
        return
    try:
        folder = _cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / digest).touch()
    except OSError:
        pass  # a read-only home only costs the next run a schema check


def check(path: str | Path, *, deep: bool = True) -> tuple[Workflow | None, Report]:
    """``wfrun validate``: the workflow and every definition it calls; errors collected, not raised."""
    with gcpause.paused():
        return _check(path, deep)


def _check(path: str | Path, deep: bool) -> tuple[Workflow | None, Report]:
    report = Report()
    try:
        wf = load_workflow(path)
    except ErrorGroup as group:
        report.errors += group.errors
        return None, report
    except WorkflowError as exc:
        report.errors.append(exc)
        return None, report
    called_by_itself = asworkflow.is_bound_action(wf)
    if called_by_itself:  # run as it is, it would do nothing and claim success
        try:
            wf = asworkflow.as_workflow(wf)
        except WorkflowError as exc:
            report.errors.append(exc)
            return None, report
        report.hints.append(f"{wf.file} is an action definition: it runs as one step "
                            f"'uses: {wf.jobs[next(iter(wf.jobs))].steps[0].uses}' with its inputs from --inputs/--set")
    report.warnings += undeclared_inputs(wf)
    notes = bare_word_notes(workflow_templates(wf))
    report.warnings += notes.warnings
    report.hints += notes.hints
    if deep:
        check_uses(wf, report, seen=set(), chain=(wf.path.resolve(),) if wf.path and not called_by_itself else ())
    return wf, report


def check_references(wf: Workflow) -> list[WorkflowError]:
    """A job may read ``needs.X`` only for X in its needs (or itself); ``steps.Y`` only for its step ids."""
    errors: list[WorkflowError] = []
    for job in wf.jobs.values():
        ids = {s.id for s in job.steps if s.id}
        for template, _ in job_templates(job):
            for path, loc in template.references():
                if path[0] == "needs" and len(path) > 1:
                    name = path[1]
                    if name != job.name and name not in job.needs:
                        if name in wf.jobs:
                            msg = f"job '{job.name}' reads needs.{name} but '{name}' is not in its needs"
                        else:
                            msg = f"job '{job.name}' reads needs.{name}: no such job{did_you_mean(name, wf.jobs)}"
                        errors.append(SchemaError(msg, location=loc or template.origin and template.origin.location))
                    elif len(path) > 3 and path[2] == "steps":
                        target = wf.jobs.get(name)
                        step_ids = {s.id for s in target.steps if s.id} if target else set()
                        if path[3] not in step_ids:
                            msg = f"job '{name}' has no step with id '{path[3]}'{did_you_mean(path[3], step_ids)}"
                            errors.append(SchemaError(msg, location=loc))
                elif path[0] == "steps" and len(path) > 1 and path[1] not in ids:
                    msg = f"job '{job.name}' has no step with id '{path[1]}'{did_you_mean(path[1], ids)}"
                    errors.append(SchemaError(msg, location=loc))
    return errors


def declared_inputs(defs: dict[str, Any], prefix: tuple = ()) -> set[tuple]:
    out: set[tuple] = set()
    for name, spec in defs.items():
        out.add(prefix + (name,))
        if isinstance(spec, dict) and isinstance(spec.get("items"), dict):
            out |= declared_inputs(spec["items"], prefix + (name,))
    return out


def undeclared_inputs(wf: Workflow) -> list[str]:
    declared = {p[:1] for p in declared_inputs(wf.inputs)}
    warnings = []
    seen: set[str] = set()
    for job in wf.jobs.values():
        for template, _ in job_templates(job):
            for path, loc in template.references():
                if path[0] == "inputs" and len(path) > 1 and (path[1],) not in declared and path[1] not in seen:
                    seen.add(path[1])
                    warnings.append(f"{loc}: inputs.{path[1]} is not declared under on.execute.inputs (it will be null)")
    return warnings


def check_uses(wf: Workflow, report: Report, seen: set[Path], chain: tuple[Path, ...] = ()) -> None:
    """Every ``uses:`` reachable from ``wf``; ``chain`` is the call path to it, to report cycles."""
    base = wf.path.parent if wf.path else Path.cwd()
    for job in wf.jobs.values():
        for step in job.steps:
            if not step.uses:
                continue
            if agents.is_agent(step):
                error, warning = agents.validate_step(wf, job, step)
                report.errors += [error] if error else []
                report.warnings += [warning] if warning else []
                continue
            from workflow_runner.uses import resolve as uses_resolve  # a workflow without uses: never loads it

            loc = wf.locate(step.path + ("uses",))
            with_ = step.with_ if isinstance(step.with_, dict) else {}
            try:
                ref = uses_resolve.resolve(step.uses, base_dir=base, location=loc, with_=with_)
            except UsesError as exc:
                report.errors.append(exc)
                continue
            if ref.unavailable:
                report.warnings.append(f"{loc}: {ref.unavailable}; the step will fail if it runs")
                continue
            if ref.path is None:
                continue
            try:
                called = load_workflow(ref.path, "action" if ref.kind == "marketplace" else "workflow")
            except ErrorGroup as group:
                report.errors += group.errors
                continue
            except WorkflowError as exc:
                report.errors.append(exc)
                continue
            check_with(wf, step, called, report)
            target = ref.path.resolve()
            deep = limits.too_deep(step.uses, len(chain) + 1, loc)
            if target in chain:
                report.errors.append(uses_resolve.self_call(step.uses, chain, target, loc))
            elif deep is not None:
                report.errors.append(deep)
            elif target not in seen:
                seen.add(target)
                check_uses(called, report, seen, (*chain, target))


def check_with(wf: Workflow, step: model.Step, called: Workflow, report: Report) -> None:
    """``with:`` against the called workflow's inputs: unknown keys and mistyped literals (with_check), required missing."""
    from workflow_runner.uses.with_check import check_with as check_with_values

    with_ = step.with_ if isinstance(step.with_, dict) else {}
    defs = called.inputs
    report.errors += check_with_values(wf, step, called)
    for name, spec in defs.items():
        if not isinstance(spec, dict) or name in with_:
            continue
        kind = spec.get("type", "string")
        if kind in ("group", "header", "compute-clusters", "compute-resources", "list", "boolean"):
            continue
        if "default" in spec or spec.get("optional") is True:
            continue
        if any(isinstance(spec.get(a), Template) or spec.get(a) is True for a in ("hidden", "ignore", "optional")):
            continue
        loc = wf.locate(step.path + ("with",)) or wf.locate(step.path)
        report.errors.append(UsesError(f"'{step.uses}' requires input '{name}' in with:", location=loc))
