"""``uses:`` → what to run: a marketplace definition, a sibling workflow, a GitHub checkout, a built-in.

Search path for ``marketplace/<slug>/<version>``: each directory of
``$WFRUN_MARKETPLACE_PATH`` (``:``-separated), then ``$WFRUN_HOME/marketplace``,
then the ``marketplace/`` bundled with wfrun; the file is ``<dir>/<slug>/<version>.yaml``.
Names are checked component by component and the resolved file must stay inside
its directory (symlinks included): ``uses:`` cannot read arbitrary files.

``github/<owner>/<repo>@<ref>`` resolves to a file (``with: {$yaml: …}``) of the
cached checkout its ref is pinned to (actions/github.py fetches; resolving never
touches the network), with the same containment checks.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from workflow_runner.bundled import marketplace_dir
from workflow_runner.errors import Location, UsesError, did_you_mean
from workflow_runner.records import ReadOnly, frozen
from workflow_runner.state.rundir import wfrun_home

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

BUILTINS = {"parallelworks/cancel-jobs", "parallelworks/checkout", "parallelworks/update-session"}
PLATFORM_ONLY = {"parallelworks/scheduler-agent", "parallelworks/wait-for-agent"}
PLATFORM_MARKETPLACE = {"script_submitter", "session_runner"}
"""Platform marketplace actions real workflows call that wfrun does not bundle: a warning at validation
(like a platform-only built-in), an error only if the step runs, unless a definition is on the search path."""


@frozen
class ActionRef(ReadOnly):
    kind: str
    """marketplace | workflow | github | builtin | platform"""
    text: str
    path: Path | None = None
    unavailable: str | None = None
    """Why this reference cannot run here (github not cached, platform-only); a warning at validation."""
    commit: str | None = None
    """For github: the commit the checkout is of."""


def search_path() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("WFRUN_MARKETPLACE_PATH", "").split(os.pathsep) if p]
    return [*extra, wfrun_home() / "marketplace", marketplace_dir()]


def resolve(uses: str, *, base_dir: Path, location: Location | None = None, with_: dict | None = None) -> ActionRef:
    text = uses.strip()
    if text in BUILTINS:
        return ActionRef("builtin", text)
    if text in PLATFORM_ONLY:
        return ActionRef("platform", text, unavailable=f"'{text}' is a platform built-in that wfrun cannot run")
    head, _, rest = text.partition("/")
    if head == "marketplace":
        return _marketplace(text, rest, location)
    if head == "workflow":
        return ActionRef("workflow", text, _workflow(text, rest, base_dir, location))
    if head == "github":
        return _github(text, rest, location, with_ or {})
    if head == "parallelworks":
        known = sorted(BUILTINS | PLATFORM_ONLY)
        raise UsesError(f"unknown built-in action '{text}'{did_you_mean(text, known)}", location=location)
    raise UsesError(
        f"unknown uses: target '{text}' (expected marketplace/<slug>/<version>, workflow/<name>, "
        "github/<owner>/<repo>@<ref> or a built-in like parallelworks/checkout)",
        location=location,
    )


def self_call(uses: str, chain: tuple[Path, ...], target: Path, location: Location | None) -> UsesError:
    """A called workflow that is already on the call path (``wfrun validate`` and the run both refuse it)."""
    path = " → ".join(p.name for p in (*chain, target))
    return UsesError(f"uses: {uses}: the workflow calls itself ({path}); recursion is not supported", location=location)


def _check_parts(text: str, parts: list[str], location: Location | None) -> None:
    for part in parts:
        if part in ("", ".", "..") or not _NAME.match(part):
            raise UsesError(f"uses: '{text}' leaves its search path or has an invalid name part '{part}'", location=location)


def _inside(path: Path, root: Path, text: str, location: Location | None) -> Path:
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise UsesError(f"uses: '{text}' resolves outside its search path", location=location)
    return resolved


def _marketplace(text: str, rest: str, location: Location | None) -> ActionRef:
    parts = rest.split("/")
    if len(parts) != 2:
        raise UsesError(f"uses: '{text}' must be marketplace/<slug>/<version>", location=location)
    _check_parts(text, parts, location)
    slug, version = parts
    versions: set[str] = set()
    slugs: set[str] = set()
    for root in search_path():
        for suffix in (".yaml", ".yml"):
            candidate = root / slug / f"{version}{suffix}"
            if candidate.is_file():
                return ActionRef("marketplace", text, _inside(candidate, root, text, location))
        if (root / slug).is_dir():
            versions.update(p.stem for p in (root / slug).glob("*.y*ml"))
        if root.is_dir():
            slugs.update(p.name for p in root.iterdir() if p.is_dir())
    if slug in PLATFORM_MARKETPLACE and not versions:
        why = f"'{text}' is a platform marketplace action not bundled with wfrun (add its definition to $WFRUN_MARKETPLACE_PATH)"
        return ActionRef("platform", text, unavailable=why)
    if versions:
        raise UsesError(
            f"marketplace action '{slug}' has no version '{version}' (available: {', '.join(sorted(versions))})",
            location=location,
        )
    raise UsesError(f"unknown marketplace action '{slug}'{did_you_mean(slug, slugs)}", location=location)


def _workflow(text: str, rest: str, base_dir: Path, location: Location | None) -> Path:
    if rest.startswith("/") or not rest:
        raise UsesError(f"uses: '{text}' must name a workflow file next to this one", location=location)
    parts = rest.split("/")
    _check_parts(text, parts, location)
    base = base_dir / rest
    candidates = [base] if base.suffix in (".yaml", ".yml") else [base.with_name(base.name + ".yaml"), base.with_name(base.name + ".yml"), base / "workflow.yaml"]
    for candidate in candidates:
        if candidate.is_file():
            return _inside(candidate, base_dir, text, location)
    siblings = [p.stem for p in base_dir.glob("*.y*ml")]
    raise UsesError(f"uses: '{text}': no workflow file '{rest}.yaml' next to this workflow{did_you_mean(rest, siblings)}", location=location)


def _github(text: str, rest: str, location: Location | None, with_: dict) -> ActionRef:
    """The cached checkout of the ref (pinned for this run, else what it resolved to last): no network here.

    Fetching happens before validation of a run (``github.pin``); ``wfrun validate``
    only reads the cache and warns when the ref was never fetched.
    """
    from workflow_runner.uses import github

    owner, repo, ref = github_parts(text, rest, location)
    rel = with_.get("$yaml", "workflow.yaml")
    if not isinstance(rel, str):
        return ActionRef("github", text, None, unavailable=f"'{text}': $yaml is an expression; it is resolved when the step runs")
    check_yaml_path(text, rel, location)
    url = github.github_url(owner, repo)
    pin = github.cached(url, ref)
    if pin is None:
        why = "--offline and not in the cache" if github.SESSION.offline else "not fetched yet (wfrun fetch WORKFLOW, or run it)"
        return ActionRef("github", text, None, unavailable=f"'{text}' is {why}")
    return ActionRef("github", text, repo_file(text, pin.root, rel, pin.commit, location), commit=pin.commit)


def github_parts(text: str, rest: str, location: Location | None) -> tuple[str, str, str]:
    match = re.match(r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)@([A-Za-z0-9_./-]+)$", rest)
    if not match or ".." in rest or rest.endswith("/") or "//" in rest:
        raise UsesError(f"uses: '{text}' must be github/<owner>/<repo>@<ref>", location=location)
    owner, repo, ref = match.groups()
    _check_parts(text, [owner, repo], location)
    return owner, repo, ref


def check_yaml_path(text: str, rel: str, location: Location | None) -> list[str]:
    """The parts of a ``$yaml:`` path, refused when it is absolute or has ``..``/``.git`` (no cache needed)."""
    parts = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
        raise UsesError(f"uses: {text}: $yaml '{rel}' leaves the repository (a relative path inside it is expected)", location=location)
    return parts


def repo_file(text: str, root: Path, rel: str, commit: str, location: Location | None) -> Path:
    """``$yaml:`` inside the checkout: no absolute path, no ``..``, no ``.git``, no symlink out."""
    candidate = root.joinpath(*check_yaml_path(text, rel, location))
    if not candidate.resolve().is_relative_to(root.resolve()):
        raise UsesError(f"uses: {text}: $yaml '{rel}' leaves the repository (a symlink out)", location=location)
    if not candidate.is_file():
        near = [str(p.relative_to(root)) for p in root.rglob("*.y*ml") if ".git" not in p.relative_to(root).parts][:500]
        raise UsesError(f"uses: {text}: $yaml '{rel}' is not in the repository at commit {commit[:12]}{did_you_mean(rel, near)}",
                        location=location)
    return candidate.resolve()
