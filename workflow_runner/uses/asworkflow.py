"""An action definition run as a workflow: ``wfrun marketplace/job_runner/v4.0.yaml --set …``.

A definition bound to Python (``wfrun: {builtin: …}``, such as job_runner) has inputs but no
jobs, so run as it was it did nothing and reported success. An action *is* a workflow with
inputs: this makes it one — one job, one step ``uses: marketplace/<slug>/<version>`` whose
``with:`` passes every top-level input through — so it runs with its inputs from
``--inputs``/``--set`` exactly as a workflow step calling it would. The inputs keep their
positions in the definition, so an input error points into the file the user named.

Only a definition on the marketplace search path can be called by ``uses:``; any other is
a clear exit-2 error that says where to put it.
"""

from __future__ import annotations

from pathlib import Path

from workflow_runner import model
from workflow_runner.errors import Location, UsesError, raise_all
from workflow_runner.loader import YList, YMap
from workflow_runner.model import Workflow


def is_bound_action(wf: Workflow) -> bool:
    """A definition whose behaviour is Python (``wfrun: builtin``) and that has no jobs of its own."""
    return wf.builtin is not None and not wf.jobs


def marketplace_ref(path: Path) -> str | None:
    """The ``marketplace/<slug>/<version>`` that resolves to ``path``, or None when none does."""
    from workflow_runner.uses.resolve import resolve, search_path

    target = path.resolve()
    for root in search_path():
        try:
            rel = target.relative_to(root.resolve())
        except (ValueError, OSError):
            continue
        if len(rel.parts) != 2 or rel.suffix not in (".yaml", ".yml"):
            continue
        text = f"marketplace/{rel.parts[0]}/{Path(rel.parts[1]).stem}"
        try:
            ref = resolve(text, base_dir=path.parent)
        except UsesError:
            continue
        if ref.path is not None and ref.path.resolve() == target:
            return text
    return None


def as_workflow(action: Workflow) -> Workflow:
    """A workflow of one job that calls ``action`` with every one of its inputs (UsesError if it cannot be called)."""
    path = action.path
    where = Location(str(path)) if path else None
    ref = marketplace_ref(path) if path else None
    if ref is None:
        raise UsesError(
            f"this is an action definition (bound to wfrun's built-in '{action.builtin}'), not a workflow, and it is not "
            "on the marketplace search path, so nothing can call it: put it at $WFRUN_MARKETPLACE_PATH/<slug>/<version>.yaml "
            "and run it with 'wfrun <that file> --set NAME=VALUE', or call it from a workflow step with "
            "'uses: marketplace/<slug>/<version>' and 'with:' its inputs",
            location=where)
    src = action.tree
    tree = YMap(src.loc)
    for key in ("name", "on"):
        if key in src:
            tree[key] = src[key]
            if key in src.key_locs:
                tree.key_locs[key] = src.key_locs[key]
            if key in src.value_locs:
                tree.value_locs[key] = src.value_locs[key]
    if "name" not in tree:
        tree["name"] = action.name
    step = YMap(src.loc)
    step["name"] = str(src.get("name") or ref)
    step["uses"] = ref
    with_ = YMap(src.loc)
    for name, spec in action.inputs.items():
        if isinstance(spec, dict) and spec.get("type") == "header":
            continue
        with_[name] = "${{ inputs[" + _quoted(str(name)) + "] }}"
    step["with"] = with_
    steps = YList(src.loc)
    steps.append(step)
    steps.value_locs.append(src.loc)
    job = YMap(src.loc)
    job["steps"] = steps
    jobs = YMap(src.loc)
    jobs[_job_name(action)] = job
    tree["jobs"] = jobs
    wf, errors = model.build(tree, path)
    raise_all(errors)
    return wf


def _job_name(action: Workflow) -> str:
    name = "".join(c if c.isalnum() or c in "_-" else "_" for c in action.name) or "action"
    return name if name[0].isalpha() or name[0] == "_" else f"_{name}"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
