"""``parallelworks/checkout``: a repository at ``with: {repo, branch, path, sparse_checkout}``.

It uses the same machinery as ``uses: github/…`` (uses/github.py): the ref is
resolved here with ``git ls-remote`` (a tag or SHA from the cache), so the run
records the commit it checked out and ``--offline`` works from the cache.

- A step running on this machine clones from the cached commit (no second
  network fetch), then points ``origin`` at the real URL.
- A step on a remote host (``ssh:``) clones there, as the platform does, and
  then moves to the pinned commit when the local side could resolve one.

Every value reaches the script shell-quoted; the output ``path`` is the
checkout directory and ``commit`` the commit checked out.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from workflow_runner.engine.context import as_text
from workflow_runner.engine.stepcall import StepCall, StepOutcome
from workflow_runner.errors import UsesError
from workflow_runner.uses import github

NAME = "parallelworks/checkout"


async def run_checkout(call: StepCall, with_values: dict, definition: Any = None) -> StepOutcome:
    loc = call.locate("with")
    log = call.log
    repo = as_text(with_values.get("repo") or "")
    if not repo:
        raise UsesError(f"{NAME} needs with: repo", location=loc)
    branch = as_text(with_values.get("branch") or "")
    ref = branch or "HEAD"
    what = f"{NAME} {repo}@{ref}"
    local = call.placement.local
    pin: github.Pin | None
    try:
        pin = await github.pin(repo, ref, what=what)
    except github.GitError as exc:
        if local:
            raise UsesError(exc.message, location=loc) from None
        pin = None  # the remote host may reach what this machine cannot; it clones by itself
        log.note(f"warning: {exc.message}; the remote host clones the branch head")
    if pin is not None:
        github.record_pins()
        log.line(f"{what}: {pin.kind} at commit {pin.commit}")
    script = checkout_script(with_values, pin if local else None, pin.commit if pin else "")
    return await call.run_script(script)


def checkout_script(with_values: dict, cached: github.Pin | None = None, commit: str = "") -> str:
    """The shell script of a checkout: from the cached commit ``cached`` (local), else from the URL."""
    repo = as_text(with_values.get("repo") or "")
    if not repo:
        raise UsesError(f"{NAME} needs with: repo")
    branch = as_text(with_values.get("branch") or "")
    path = as_text(with_values.get("path") or Path(repo).stem)
    sparse = with_values.get("sparse_checkout") or []
    if isinstance(sparse, str):
        sparse = [sparse]
    q = shlex.quote
    sparse_set = ('git -C "$dest" sparse-checkout set ' + " ".join(q(as_text(s)) for s in sparse)) if sparse else ":"
    lines = [
        "set -e",
        f"repo={q(repo)}; dest={q(path)}; branch={q(branch)}; sha={q(commit)}",
        'dest="${dest/#\\~/$HOME}"',
    ]
    if cached is not None:
        lines += [
            f"src={q(cached.path)}",
            'if [ ! -d "$dest/.git" ]; then',
            '  mkdir -p "$(dirname "$dest")"',
            '  git clone -q --no-checkout ' + ("--sparse " if sparse else "") + '-- "$src" "$dest"',
            f"  {sparse_set}",
            "fi",
            'git -C "$dest" fetch -q --depth 1 "$src" "$sha"',
            'if [ -n "$branch" ]; then git -C "$dest" checkout -q -B "$branch" "$sha"; '
            'else git -C "$dest" -c advice.detachedHead=false checkout -q --detach "$sha"; fi',
            'git -C "$dest" remote set-url origin "$repo"',
        ]
    else:
        lines += [
            'if [ -d "$dest/.git" ]; then',
            '  git -C "$dest" fetch --depth 1 origin ${branch:+"$branch"}',
            '  git -C "$dest" checkout -q ${branch:+"$branch"}',
            '  git -C "$dest" pull -q --ff-only || true',
            "else",
            '  mkdir -p "$(dirname "$dest")"',
            '  git clone -q --depth 1 ${branch:+--branch "$branch"} ' + ("--sparse " if sparse else "") + '-- "$repo" "$dest"',
            f"  {sparse_set}",
            "fi",
            'if [ -n "$sha" ] && [ "$(git -C "$dest" rev-parse HEAD)" != "$sha" ]; then',
            '  if git -C "$dest" fetch -q --depth 1 origin "$sha"; then',
            '    git -C "$dest" -c advice.detachedHead=false checkout -q ${branch:+-B "$branch"} "$sha"',
            "  else",
            '    echo "wfrun: warning: commit $sha is not fetchable here; keeping $(git -C "$dest" rev-parse HEAD)" >&2',
            "  fi",
            "fi",
        ]
    lines += [
        'echo "path=$dest" >> "$OUTPUTS"',
        'echo "commit=$(git -C "$dest" rev-parse HEAD)" >> "$OUTPUTS"',
    ]
    return "\n".join(lines) + "\n"
