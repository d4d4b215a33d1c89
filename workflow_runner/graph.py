"""The job graph: needs checked, cycles found, matrices expanded into job instances.

The engine schedules from plain adjacency maps (a job starts the moment its own
needs are done — there is no level barrier). networkx is used where its
algorithms earn their import time (≈0.2 s): finding the cycle path to report,
and exporting the graph; a run of a valid workflow never imports it.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import field
from typing import Any, Iterable

from workflow_runner import limits
from workflow_runner.errors import GraphError, Location, WorkflowError, did_you_mean
from workflow_runner.records import ReadOnly, Record, frozen, record
from workflow_runner.masking import masker
from workflow_runner.model import Job, Workflow


def check(workflow: Workflow) -> list[WorkflowError]:
    """Unknown needs (with did-you-mean), self-needs and cycles (with the cycle path)."""
    errors: list[WorkflowError] = []
    for job in workflow.jobs.values():
        for i, need in enumerate(job.needs):
            loc = workflow.locate(job.path + ("needs", i)) or workflow.locate(job.path + ("needs",))
            if need == job.name:
                errors.append(GraphError(f"job '{job.name}' needs itself", location=loc))
            elif need not in workflow.jobs:
                hint = did_you_mean(need, workflow.jobs)
                errors.append(GraphError(f"job '{job.name}' needs unknown job '{need}'{hint}", location=loc))
    errors += matrix_size_errors(workflow)
    if not errors:
        cycle = find_cycle(workflow)
        if cycle:
            first = workflow.jobs[cycle[0]]
            path = " -> ".join(cycle + [cycle[0]])
            errors.append(GraphError(f"dependency cycle: {path}", location=workflow.locate(first.path + ("needs",))))
    return errors


def topological_order(jobs: dict[str, Job]) -> list[str] | None:
    """Kahn's algorithm in file order (deterministic); None when there is a cycle."""
    indegree = {name: len(set(job.needs)) for name, job in jobs.items()}
    dependents = dependents_of(jobs)
    ready = [name for name in jobs if indegree[name] == 0]
    order: list[str] = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for dep in dependents[name]:
            indegree[dep] -= 1
            if indegree[dep] == 0:
                ready.append(dep)
    return order if len(order) == len(jobs) else None


def dependents_of(jobs: dict[str, Job]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {name: [] for name in jobs}
    for name, job in jobs.items():
        for need in dict.fromkeys(job.needs):
            if need in out:
                out[need].append(name)
    return out


def to_networkx(workflow: Workflow) -> Any:
    import networkx as nx

    graph = nx.DiGraph()
    for name, job in workflow.jobs.items():
        graph.add_node(name, steps=len(job.steps), matrix=job.strategy is not None)
    for name, job in workflow.jobs.items():
        for need in job.needs:
            if need in workflow.jobs:
                graph.add_edge(need, name)
    return graph


def export(workflow: Workflow, fmt: str) -> str:
    """``wfrun graph``: the jobs as ``text`` (topological order, needs), ``mermaid`` or ``dot`` (anything else)."""
    lines: list[str] = []
    if fmt == "text":
        for name in topological_order(workflow.jobs) or []:
            job = workflow.jobs[name]
            matrix = " [matrix]" if job.strategy else ""
            needs = f"  <- {', '.join(job.needs)}" if job.needs else ""
            lines.append(f"{name}{matrix}{needs}")
        return "".join(line + "\n" for line in lines)
    graph = to_networkx(workflow)
    if fmt == "mermaid":
        ids: dict[str, str] = {}
        for node in graph.nodes:  # 'a-b' and 'a_b' are different jobs: keep their ids apart
            base = ident = _mermaid_id(node)
            n = 1
            while ident in ids.values():
                n += 1
                ident = f"{base}_{n}"
            ids[node] = ident
        lines.append("graph TD")
        lines += [f'  {ids[node]}["{node}"]' for node in graph.nodes]
        lines += [f"  {ids[a]} --> {ids[b]}" for a, b in graph.edges]
    else:
        lines += ["digraph workflow {", "  rankdir=LR;"]
        lines += [f"  {json.dumps(node)};" for node in graph.nodes]
        lines += [f"  {json.dumps(a)} -> {json.dumps(b)};" for a, b in graph.edges]
        lines.append("}")
    return "".join(line + "\n" for line in lines)


def _mermaid_id(name: str) -> str:
    return "j_" + "".join(c if c.isalnum() else "_" for c in name)


def find_cycle(workflow: Workflow) -> list[str] | None:
    if topological_order(workflow.jobs) is not None:
        return None
    import networkx as nx

    edges = nx.find_cycle(to_networkx(workflow))
    return [u for u, _ in edges]


# ---------------------------------------------------------------- matrix


@frozen
class JobInstance(ReadOnly):
    """One runnable copy of a job: the job itself, or one combination of its matrix."""

    job: Job
    matrix: dict[str, Any] | None = None
    index: int = 0
    secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)
    """The run's secrets, hidden in :attr:`key`: it names the instance on screen, in the store and in log folders."""

    @property
    def key(self) -> str:
        """``build (linux, 3.12)``; a secret value shows as ``***`` and the 1-based index keeps such instances apart.

        Values are masked before they are shortened: a cut-off secret would no longer match the masker.
        """
        if self.matrix is None:
            return self.job.name
        hide = masker(self.secrets)
        texts = [value if isinstance(value, str) else json.dumps(value) for value in self.matrix.values()]
        shown = [hide(text) for text in texts]
        values = ", ".join(_short(text) for text in shown)
        if shown != texts:
            return f"{self.job.name} ({values}) #{self.index + 1}"
        return f"{self.job.name} ({values})"


def _short(text: str) -> str:
    return text if len(text) <= 30 else text[:27] + "..."


def expand_matrix(matrix: Any, *, where: str, location: Any = None) -> list[dict[str, Any]]:
    """GitHub-style expansion: the product of the list-valued keys, minus exclude, plus include."""
    if not isinstance(matrix, dict):
        raise GraphError(f"{where}: strategy.matrix must be a mapping of name to list", location=location)
    include = matrix.get("include") or []
    exclude = matrix.get("exclude") or []
    axes = {k: v for k, v in matrix.items() if k not in ("include", "exclude")}
    for name, values in axes.items():
        if not isinstance(values, list):
            raise GraphError(f"{where}: matrix '{name}' must be a list, got {type(values).__name__}", location=location)
    for extra in (include, exclude):
        if not isinstance(extra, list) or not all(isinstance(e, dict) for e in extra):
            raise GraphError(f"{where}: matrix include/exclude must be lists of mappings", location=location)
    check_size(matrix_size(matrix), where=where, location=location)
    combos = [dict(zip(axes, values)) for values in itertools.product(*axes.values())] if axes else []
    combos = [c for c in combos if not any(_matches(c, e) for e in exclude)]
    for entry in include:
        originals = {k: v for k, v in entry.items() if k in axes}
        targets = [c for c in combos if originals and _matches(c, originals)]
        if targets:
            for c in targets:
                c.update({k: v for k, v in entry.items() if k not in axes})
        else:
            combos.append(dict(entry))
    if not combos:
        raise GraphError(f"{where}: the matrix has no combinations", location=location)
    return combos


def matrix_size(matrix: Any) -> int | None:
    """At most how many instances ``matrix`` expands to (axes product plus includes); None if not yet known.

    Counted before expanding, so a million-instance matrix costs nothing but the error.
    """
    if not isinstance(matrix, dict):
        return None
    include = matrix.get("include") or []
    axes = [v for k, v in matrix.items() if k not in ("include", "exclude")]
    if not all(isinstance(v, list) for v in axes) or not isinstance(include, list):
        return None
    return (math.prod(len(v) for v in axes) if axes else 0) + len(include)


def check_size(size: int | None, *, where: str, location: Location | None = None, total: bool = False) -> None:
    """A GraphError when ``size`` instances exceed the limit (WFRUN_MAX_MATRIX)."""
    most = limits.get(limits.MAX_MATRIX)
    if size is not None and size > most:
        what = "the matrices of this run expand" if total else f"{where}: the matrix expands"
        raise GraphError(f"{what} to {size} instances, more than the limit of {most}; "
                         f"set {limits.MAX_MATRIX} to raise it", location=location)


def matrix_size_errors(workflow: Workflow) -> list[WorkflowError]:
    """Validate-time: matrices whose size is known without inputs must be within the limit."""
    errors: list[WorkflowError] = []
    for job in workflow.jobs.values():
        if job.strategy is None:
            continue
        try:
            check_size(matrix_size(job.strategy.matrix), where=f"job '{job.name}'",
                       location=workflow.locate(job.path + ("strategy", "matrix")))
        except GraphError as exc:
            errors.append(exc)
    return errors


def _matches(combo: dict, partial: dict) -> bool:
    return all(k in combo and combo[k] == v for k, v in partial.items())


@record
class Plan(Record):
    """What the engine runs: instances per job, in a deterministic order."""

    workflow: Workflow
    order: list[str]
    instances: dict[str, list[JobInstance]] = field(default_factory=dict)
    dependents: dict[str, list[str]] = field(default_factory=dict)

    def all_instances(self) -> Iterable[JobInstance]:
        for name in self.order:
            yield from self.instances[name]


def make_plan(workflow: Workflow, inputs: dict[str, Any], secrets: Iterable[str] = ()) -> Plan:
    """Expand every matrix (its values may be expressions over inputs) into job instances; ``secrets`` are masked in their keys."""
    from workflow_runner.expressions import Context, render

    order = topological_order(workflow.jobs)
    if order is None:
        raise GraphError(f"dependency cycle: {' -> '.join(find_cycle(workflow) or [])}")
    plan = Plan(workflow, order, dependents=dependents_of(workflow.jobs))
    hidden = tuple(secrets)
    ctx = Context(values={"inputs": inputs, "env": {}, "matrix": {}, "needs": {}})
    total = 0
    for name in order:
        job = workflow.jobs[name]
        if job.strategy is None or job.strategy.matrix is None:
            plan.instances[name] = [JobInstance(job)]
            continue
        where = f"job '{name}'"
        matrix = render(job.strategy.matrix, ctx)
        if isinstance(matrix, str):
            try:
                matrix = json.loads(matrix)
            except ValueError:
                raise GraphError(f"{where}: strategy.matrix must be a mapping", location=job.loc) from None
        combos = expand_matrix(matrix, where=where, location=workflow.locate(job.path + ("strategy", "matrix")))
        plan.instances[name] = [JobInstance(job, combo, i, hidden) for i, combo in enumerate(combos)]
        total += len(combos)
        check_size(total, where=where, location=workflow.locate(job.path + ("strategy", "matrix")), total=True)
    return plan
