"""Fetch every ``github/…`` workflow a workflow references, recursively, before it is checked or run.

A fetched workflow may itself call ``github/…`` (or ``workflow/…`` siblings that
do), so the walk follows each called file. It runs before validation of a run,
so ``with:`` is checked against the fetched file, and every ref is pinned to one
commit for the whole run. Other ``uses:`` problems are left to validation, which
reports them with their positions; only fetch errors are raised here.
"""

from __future__ import annotations

from pathlib import Path

from workflow_runner.uses import github
from workflow_runner.uses import resolve as uses_resolve
from workflow_runner.errors import ErrorGroup, Location, WorkflowError
from workflow_runner.expressions import Template
from workflow_runner.model import Workflow


async def prefetch(wf: Workflow, *, offline: bool | None = None, checkouts: bool = False) -> list[tuple[str, github.Pin]]:
    """(uses text, pin) for each github reference reachable from ``wf``; GitError on the first that fails.

    ``checkouts`` also pins ``parallelworks/checkout`` repositories named literally
    (``wfrun fetch``: so a local checkout works offline later). A run does not
    pre-pin them: a checkout on a remote host needs no network here.
    """
    from workflow_runner.validate import load_workflow

    out: list[tuple[str, github.Pin]] = []
    seen: set[Path] = set()
    todo = [wf]
    while todo:
        current = todo.pop()
        for called, kind in await _called(current, out, offline, checkouts):
            key = called.resolve()
            if key in seen:
                continue
            seen.add(key)
            try:
                todo.append(load_workflow(called, kind))
            except (WorkflowError, ErrorGroup):
                continue  # validation reports it
    return out


async def _called(wf: Workflow, out: list[tuple[str, github.Pin]], offline: bool | None,
                  checkouts: bool) -> list[tuple[Path, str]]:
    """(file, kind) called by ``wf``'s steps; github ones are pinned (fetched if needed) on the way."""
    base = wf.path.parent if wf.path else Path.cwd()
    files: list[tuple[Path, str]] = []
    for job in wf.jobs.values():
        for step in job.steps:
            text = (step.uses or "").strip()
            loc = wf.locate(step.path + ("uses",))
            with_ = step.with_ if isinstance(step.with_, dict) else {}
            if text == "parallelworks/checkout" and checkouts:
                repo, branch = with_.get("repo"), with_.get("branch") or "HEAD"
                if isinstance(repo, str) and isinstance(branch, str):
                    out.append((f"{text} {repo}@{branch}", await _pin(repo, branch, f"{text} {repo}@{branch}", offline, loc)))
                continue
            if text.startswith("github/"):
                owner, repo, ref = uses_resolve.github_parts(text, text[len("github/"):], loc)
                pin = await _pin(github.github_url(owner, repo), ref, text, offline, loc)
                out.append((text, pin))
                rel = with_.get("$yaml", "workflow.yaml")
                if isinstance(rel, Template):
                    continue
                files.append((uses_resolve.repo_file(text, pin.root, str(rel), pin.commit, loc), "workflow"))
                continue
            try:
                ref_ = uses_resolve.resolve(text, base_dir=base, location=loc, with_=with_) if text else None
            except WorkflowError:
                continue
            if ref_ is not None and ref_.path is not None:
                files.append((ref_.path, "action" if ref_.kind == "marketplace" else "workflow"))
    return files


async def _pin(url: str, ref: str, what: str, offline: bool | None, loc: Location | None) -> github.Pin:
    try:
        return await github.pin(url, ref, what=what, offline=offline)
    except github.GitError as exc:
        raise github.GitError(exc.message, location=loc) from None
