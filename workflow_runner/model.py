"""The parsed workflow: frozen dataclasses that keep where each part came from.

Every string that holds ``${{ }}``/``$<< >>`` is compiled here, once, into an
``expressions.Template``; everything else stays plain YAML data. The model is
never written to while running — run state lives in the engine and the run
directory — so one Workflow can be planned and run many times.
"""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Any

from workflow_runner.errors import Location, SchemaError, WorkflowError
from workflow_runner.expressions import PLATFORM, Template, walk_templates, ExpressionError, compile_condition, compile_string, contains_expression
from workflow_runner.records import ReadOnly, frozen
from workflow_runner.loader import YList, YMap, location_of

Value = Any
"""Plain YAML data in which strings with expressions are Templates."""


@frozen
class SSHSpec(ReadOnly):
    """Where a job or step runs over SSH: ``ssh.remoteHost`` (and an optional jump host), still as templates."""

    remote_host: Value
    jump_host: Value = None


@frozen
class Retry(ReadOnly):
    """A step's ``retry:``; its values are templates, evaluated when the step runs."""

    max_retries: Value = 0
    interval: Value = 0
    timeout: Value = None


@frozen
class Step(ReadOnly):
    """One checked step: every value the engine evaluates is a compiled template; ``path`` locates it in the file."""

    index: int
    name: str
    id: str | None
    run: Value
    uses: str | None
    with_: Value
    env: dict[str, Value]
    if_: Value
    working_directory: Value
    ssh: SSHSpec | None
    cleanup: Value
    early_cancel: Value
    retry: Retry | None
    timeout: Value
    ignore_errors: Value
    path: tuple
    loc: Location
    termination: Value = None
    """{signal, before}: signal the step this long before its timeout/walltime (checkpointing)."""

    @property
    def key(self) -> str:
        """A stable short name for logs and files: the id, else the 1-based index."""
        return self.id or str(self.index + 1)


@frozen
class Strategy(ReadOnly):
    """A job's ``strategy:``: the matrix it expands to, how many instances run at once, fail-fast."""

    matrix: Value
    max_parallel: Value = None
    fail_fast: Value = True


@frozen
class Resources(ReadOnly):
    """A job's ``resources:`` on this machine (CPUs, memory, GPUs), held from the local pool while it runs."""

    cpus: Value = None
    memory: Value = None
    gpus: Value = None


@frozen
class Job(ReadOnly):
    """One checked job: its steps, needs and settings, with ``path`` to locate errors in the file."""

    name: str
    steps: tuple[Step, ...]
    needs: tuple[str, ...]
    if_: Value
    ssh: SSHSpec | None
    working_directory: Value
    env: dict[str, Value]
    outputs: dict[str, Value] | None
    strategy: Strategy | None
    timeout: Value
    resources: Resources | None
    path: tuple
    loc: Location
    early_cancel: Value = None
    """The job's ``early-cancel:``; already copied into every step that has none of its own."""


@frozen
class Workflow(ReadOnly):
    """A checked workflow file: jobs by name plus what the run needs of the file (inputs, env, sessions, locations)."""

    path: Path | None
    name: str
    jobs: dict[str, Job]
    inputs: dict[str, Any]
    """Compiled input definitions (on.execute.inputs)."""
    env: dict[str, Value]
    sessions: dict[str, Any]
    configurations: dict[str, Any]
    timeout: Value
    outputs: dict[str, Value]
    """Action definitions may map output names to expressions over their jobs' needs."""
    builtin: str | None
    """Set by ``wfrun: {builtin: NAME}`` in a marketplace definition: run Python, not the jobs."""
    accepts: tuple[str, ...]
    """``wfrun: {accepts: [...]}``: ``with:`` keys a built-in reads besides its declared inputs."""
    tree: YMap = field(repr=False)
    """The loaded YAML, for locating anything by path."""

    def locate(self, path: tuple | list, *, key: bool = False) -> Location | None:
        return location_of(self.tree, path, key=key)

    @property
    def file(self) -> str:
        return str(self.path) if self.path else "<string>"


def build(tree: YMap, path: Path | None) -> tuple[Workflow, list[WorkflowError]]:
    """Model of a schema-valid tree, plus every structural/expression error found on the way."""
    b = _Builder(tree)
    jobs = {name: b.job(name, spec) for name, spec in (tree.get("jobs") or {}).items()}
    on = tree.get("on") or {}
    execute = on.get("execute") if isinstance(on, dict) else None
    inputs = (execute or {}).get("inputs") or {}
    meta = tree.get("wfrun") or {}
    wf = Workflow(
        path=path,
        name=str(tree.get("name") or (path.stem if path else "workflow")),
        jobs=jobs,
        inputs=b.compile(inputs, ("on", "execute", "inputs")),
        env=b.compile(tree.get("env") or {}, ("env",)),
        sessions=b.compile(tree.get("sessions") or {}, ("sessions",)),
        configurations=dict(tree.get("configurations") or {}),
        timeout=b.compile(tree.get("timeout"), ("timeout",)),
        outputs=b.compile(tree.get("outputs") or {}, ("outputs",)),
        builtin=meta.get("builtin") if isinstance(meta, dict) else None,
        accepts=tuple(map(str, meta.get("accepts") or ())) if isinstance(meta, dict) else (),
        tree=tree,
    )
    return wf, b.errors


class _Builder:
    def __init__(self, tree: YMap) -> None:
        self.tree = tree
        self.errors: list[WorkflowError] = []

    def loc(self, path: tuple) -> Location:
        return location_of(self.tree, path) or self.tree.loc

    def compile(self, value: Any, path: tuple) -> Value:
        """Copy of ``value`` with every expression string compiled (errors collected, not raised)."""
        if isinstance(value, YMap):
            return {k: self._compile_item(value, k, v, path) for k, v in value.items()}
        if isinstance(value, YList):
            return [self._compile_item(value, i, v, path) for i, v in enumerate(value)]
        if isinstance(value, str) and contains_expression(value):
            return self._compile_string(value, None)
        return value

    def _compile_item(self, container: YMap | YList, key: Any, value: Any, path: tuple) -> Value:
        if isinstance(value, str):
            if not contains_expression(value):
                return value
            return self._compile_string(value, container.origins.get(key))
        if isinstance(value, (YMap, YList)):
            return self.compile(value, path + (key,))
        return value

    def _compile_string(self, text: str, origin: Any) -> Value:
        try:
            return compile_string(text, origin=origin, dialect=PLATFORM)
        except ExpressionError as exc:
            self.errors.append(exc)
            return text

    def job(self, name: str, spec: YMap) -> Job:
        path = ("jobs", name)
        needs = spec.get("needs") or []
        if isinstance(needs, str):
            needs = [needs]
        early_cancel = self._item(spec, "early-cancel", path)
        steps = tuple(self.step(path, i, s, early_cancel) for i, s in enumerate(spec.get("steps") or []))
        self._check_step_ids(path, steps)
        strategy = spec.get("strategy")
        resources = spec.get("resources")
        return Job(
            name=name,
            steps=steps,
            needs=tuple(str(n) for n in needs),
            if_=self.condition(spec, path),
            ssh=self.ssh(spec.get("ssh"), path + ("ssh",)),
            working_directory=self._item(spec, "working-directory", path),
            env=self._item(spec, "env", path) or {},
            outputs=self._item(spec, "outputs", path),
            strategy=Strategy(
                matrix=self._item(strategy, "matrix", path + ("strategy",)),
                max_parallel=self._item(strategy, "max-parallel", path + ("strategy",)),
                fail_fast=self._item(strategy, "fail-fast", path + ("strategy",), True),
            )
            if isinstance(strategy, YMap)
            else None,
            timeout=self._item(spec, "timeout", path),
            resources=Resources(**{k: self._item(resources, k, path + ("resources",)) for k in ("cpus", "memory", "gpus")})
            if isinstance(resources, YMap)
            else None,
            path=path,
            loc=self.loc(path),
            early_cancel=early_cancel,
        )

    def _item(self, spec: Any, key: str, path: tuple, default: Any = None) -> Value:
        if not isinstance(spec, YMap) or key not in spec:
            return default
        return self._compile_item(spec, key, spec[key], path)

    def condition(self, spec: YMap, path: tuple) -> Value:
        """``if:`` is an expression even without ``${{ }}`` (``if: failure()``), as in GitHub."""
        value = spec.get("if")
        if isinstance(value, str) and not contains_expression(value):
            try:
                return compile_condition(value, origin=spec.origins.get("if"), dialect=PLATFORM)
            except ExpressionError as exc:
                self.errors.append(exc)
                return value
        return self._item(spec, "if", path)

    def ssh(self, spec: Any, path: tuple) -> SSHSpec | None:
        if not isinstance(spec, YMap):
            return None
        return SSHSpec(self._item(spec, "remoteHost", path), self._item(spec, "jumpNodeHost", path))

    def step(self, job_path: tuple, index: int, spec: YMap, job_early_cancel: Value = None) -> Step:
        """One step; a job-level ``early-cancel`` applies to every step that does not set its own."""
        path = job_path + ("steps", index)
        has_run, has_uses = "run" in spec, "uses" in spec
        if has_run == has_uses:
            what = "both 'run' and 'uses'" if has_run else "neither 'run' nor 'uses'"
            self.errors.append(SchemaError(f"step {index + 1} of job '{job_path[1]}' has {what}; give exactly one", location=self.loc(path)))
        retry = spec.get("retry")
        uses = spec.get("uses")
        name = spec.get("name") or spec.get("id") or (f"uses {uses}" if uses else _first_line(spec.get("run")))
        return Step(
            index=index,
            name=str(name),
            id=spec.get("id"),
            run=self._item(spec, "run", path),
            uses=uses if isinstance(uses, str) else None,
            with_=self._item(spec, "with", path) or {},
            env=self._item(spec, "env", path) or {},
            if_=self.condition(spec, path),
            working_directory=self._item(spec, "working-directory", path),
            ssh=self.ssh(spec.get("ssh"), path + ("ssh",)),
            cleanup=self._item(spec, "cleanup", path),
            early_cancel=self._item(spec, "early-cancel", path, job_early_cancel),
            retry=Retry(
                max_retries=self._item(retry, "max-retries", path + ("retry",), 0),
                interval=self._item(retry, "interval", path + ("retry",), 0),
                timeout=self._item(retry, "timeout", path + ("retry",)),
            )
            if isinstance(retry, YMap)
            else None,
            timeout=self._item(spec, "timeout", path),
            ignore_errors=self._item(spec, "ignore-errors", path, False),
            path=path,
            loc=self.loc(path),
            termination=self._item(spec, "termination", path),
        )

    def _check_step_ids(self, job_path: tuple, steps: tuple[Step, ...]) -> None:
        seen: set[str] = set()
        for step in steps:
            if step.id is None:
                continue
            if step.id in seen:
                self.errors.append(
                    SchemaError(f"duplicate step id '{step.id}' in job '{job_path[1]}'", location=self.loc(step.path + ("id",)))
                )
            seen.add(step.id)


def _first_line(text: Any) -> str:
    from workflow_runner.steplabel import script_label

    return script_label(text)


_JOB_TEMPLATES: dict[int, tuple[Job, tuple[tuple[Template, str], ...]]] = {}
"""job_templates' answers by job: four checks walk every job's expressions (references, sessions,
undeclared inputs, dialect notes). The job is kept with its answer, so its id is not reused meanwhile."""


def job_templates(job: Job) -> tuple[tuple[Template, str], ...]:
    """Every compiled expression of a job with a label of where it sits (computed once per job)."""
    cached = _JOB_TEMPLATES.get(id(job))
    if cached is not None and cached[0] is job:
        return cached[1]
    if len(_JOB_TEMPLATES) >= 100_000:  # a long-lived process (wfrun serve) that loaded many files
        _JOB_TEMPLATES.clear()
    found = tuple(_job_templates(job))
    _JOB_TEMPLATES[id(job)] = (job, found)
    return found


def _job_templates(job: Job) -> list[tuple[Template, str]]:
    out: list[tuple[Template, str]] = []
    fields: list[Any] = [job.if_, job.env, job.outputs, job.working_directory, job.timeout]
    if job.ssh:
        fields += [job.ssh.remote_host, job.ssh.jump_host]
    if job.strategy:
        fields += [job.strategy.matrix, job.strategy.max_parallel, job.strategy.fail_fast]
    for step in job.steps:
        fields += [step.run, step.with_, step.env, step.if_, step.working_directory, step.cleanup,
                   step.early_cancel, step.timeout, step.ignore_errors]
        if step.ssh:
            fields += [step.ssh.remote_host, step.ssh.jump_host]
        if step.retry:
            fields += [step.retry.max_retries, step.retry.interval, step.retry.timeout]
    for value in fields:
        for template in walk_templates(value):
            out.append((template, job.name))
    return out


def workflow_templates(wf: Workflow) -> list[Template]:
    """Every compiled expression of the file: inputs, top-level values and every job."""
    out = list(walk_templates([wf.inputs, wf.env, wf.sessions, wf.timeout, wf.outputs]))
    for job in wf.jobs.values():
        out += [template for template, _ in job_templates(job)]
    return out
