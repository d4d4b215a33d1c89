"""A ``uses:`` step's ``with:`` checked against the input tree of the action it calls.

Why an error and not a warning: a misspelt key (``slurm: {partiton: long}``,
``scirpt:``) is silently dropped and the action's default takes its place — the
job lands in the default partition, or the default script runs. Every key of
``with:``, in nested groups too, must name an input of the called workflow; a
literal value (not an expression) must fit the input's type. Both are checked
by ``wfrun validate`` and before a run starts, with the ``with:`` key's
file:line:col.

``$yaml`` is the github form's file name, not an input; it is skipped.
"""

from __future__ import annotations

from typing import Any

from workflow_runner import inputs as inputs_mod
from workflow_runner.errors import InputError, UsesError, WorkflowError, did_you_mean
from workflow_runner.expressions import Template
from workflow_runner.model import Step, Workflow

META_KEYS = {"$yaml"}
_READ: dict = {"type": "string"}
"""Stands for an input the called workflow reads without declaring it."""
SKIP_TYPES = inputs_mod.RESOURCE_TYPES | {"header"}
"""Resources name clusters of the user's config (checked when the run resolves them); headers hold no value."""


def check_with(wf: Workflow, step: Step, called: Workflow) -> list[WorkflowError]:
    """Unknown keys and mistyped literal values of ``step``'s ``with:`` (``wf`` holds the step)."""
    with_ = step.with_
    if not isinstance(with_, dict):
        return []
    errors: list[WorkflowError] = []
    top = {**called.inputs, **{name: _READ for name in read_undeclared(called) if name not in called.inputs}}
    _walk(wf, step, called, top, with_, step.path + ("with",), (), errors)
    return errors


def read_undeclared(called: Workflow) -> set[str]:
    """Top-level ``inputs.X`` the called workflow reads without declaring X.

    Real workflows do this (script_submitter reads ``inputs.define_cleanup_script``)
    and callers pass such keys in ``with:``: they are used, so they are not
    typos, and the run passes them through.
    """
    from workflow_runner.model import job_templates

    names = set(called.accepts)  # a built-in's declared extras (job_runner's env:)
    for job in called.jobs.values():
        for template, _ in job_templates(job):
            for path, _ in template.references():
                if path[0] == "inputs" and len(path) > 1 and path[1] not in called.inputs:
                    names.add(path[1])
    return names


def _walk(wf: Workflow, step: Step, called: Workflow, defs: dict, given: dict, at: tuple, dotted: tuple,
          errors: list[WorkflowError]) -> None:
    for key, value in given.items():
        name = str(key)
        if not dotted and name in META_KEYS:
            continue
        path = dotted + (name,)
        spec = defs.get(name)
        if not isinstance(spec, dict):
            loc = wf.locate(at + (key,), key=True)
            errors.append(UsesError(f"'{step.uses}' has no input '{'.'.join(path)}'{did_you_mean(name, defs)}",
                                    location=loc))
            continue
        if spec is _READ:
            continue  # read by the called workflow but not declared: no type to check
        kind = spec.get("type", "string")
        if kind == "group":
            if isinstance(value, dict):
                _walk(wf, step, called, spec.get("items") or {}, value, at + (key,), path, errors)
            elif value is not None and not isinstance(value, Template):
                errors.append(InputError(f"'{step.uses}': input '{'.'.join(path)}' is a group: give a mapping of its "
                                         f"items ({', '.join(map(str, spec.get('items') or {}))})",
                                         location=wf.locate(at + (key,))))
            continue
        if kind == "list" and isinstance(value, list) and _walk_rows(wf, step, called, spec, value, at + (key,), path, errors):
            continue
        if kind in SKIP_TYPES or _dynamic(value):
            continue
        why = inputs_mod.check_value(called, spec, value, ".".join(path))
        if why:
            errors.append(InputError(f"'{step.uses}': {why}", location=wf.locate(at + (key,))))


def _walk_rows(wf: Workflow, step: Step, called: Workflow, spec: dict, rows: list, at: tuple, dotted: tuple,
               errors: list[WorkflowError]) -> bool:
    """Rows of a ``list`` input whose template is a mapping of fields: each row is checked like a group.

    False when the template is a single typed item (the list is checked as one value).
    """
    template = spec.get("template")
    if not isinstance(template, dict) or not template or not all(isinstance(v, dict) for v in template.values()):
        return False
    for i, row in enumerate(rows):
        if isinstance(row, dict):
            _walk(wf, step, called, template, row, at + (i,), dotted + (str(i),), errors)
        elif not _dynamic(row):
            errors.append(InputError(f"'{step.uses}': input '{'.'.join(dotted)}' row {i + 1} must be a mapping of "
                                     f"{', '.join(map(str, template))}", location=wf.locate(at + (i,))))
    return True


def _dynamic(value: Any) -> bool:
    """Holds an expression anywhere: its type is known only when the step runs."""
    if isinstance(value, Template):
        return True
    if isinstance(value, dict):
        return any(_dynamic(v) for v in value.values())
    if isinstance(value, list):
        return any(_dynamic(v) for v in value)
    return False
