"""Git repositories fetched into ``$WFRUN_HOME``, keyed by the commit a ref resolved to.

Used by ``uses: github/<owner>/<repo>@<ref>`` (the platform reads
``https://github.com/<owner>/<repo>``) and by ``parallelworks/checkout``.

Cache layout (one repository)::

    $WFRUN_HOME/github/<owner>/<repo>/<commit>/      shallow checkout of that commit (with its .git)
    $WFRUN_HOME/github/<owner>/<repo>/refs/<ref>.json {ref, kind, commit, url}: what the ref resolved to last

Repositories that are not on github.com live under ``$WFRUN_HOME/git/<hash of url>/``.

Why commit-keyed: a branch moves, so it is re-resolved (one ``git ls-remote``) at
each run and a new commit gets its own directory; a tag or a full SHA names one
commit, so a cached one is reused with no network at all. ``--offline`` never
touches the network and uses what the ref pointed to last. A commit directory is
built in a temporary sibling and renamed into place, and pointer files are
replaced atomically, so two runs fetching the same repository cannot see half a
checkout.

Git runs as an argv list (never a shell string), with prompts disabled
(``GIT_TERMINAL_PROMPT=0``) and a timeout, so a private or unreachable
repository is an error, not a hang.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

from workflow_runner.errors import UsesError
from workflow_runner.records import ReadOnly, frozen
from workflow_runner.pinrecord import RECORD, read_pins  # noqa: F401 (read_pins: state.queries and cli import it from here)
from workflow_runner.state.rundir import wfrun_home

SHA = re.compile(r"^[0-9a-f]{40}$")
_GITHUB_URL = re.compile(r"^https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")


@frozen
class Pin(ReadOnly):
    """What a ref resolved to for this run: the commit and where its checkout is."""

    url: str
    ref: str
    kind: str
    """branch | tag | commit"""
    commit: str
    path: str

    @property
    def root(self) -> Path:
        return Path(self.path)


@dataclass
class Session:
    """Per-process fetch policy and the pins made so far (a run uses one commit per ref throughout)."""

    offline: bool = False
    pins: dict[tuple[str, str], Pin] = field(default_factory=dict)
    record_dir: Path | None = None
    """The run directory pins are recorded in (set once the run has one)."""


SESSION = Session()


def set_offline(offline: bool) -> None:
    SESSION.offline = offline


class GitError(UsesError):
    pass


def timeout() -> float:
    try:
        return float(os.environ.get("WFRUN_GIT_TIMEOUT", "120"))
    except ValueError:
        return 120.0


def github_url(owner: str, repo: str) -> str:
    return f"https://github.com/{owner}/{repo}"


def cache_dir(url: str) -> Path:
    """Where ``url``'s commits are cached: github/<owner>/<repo> for GitHub, git/<hash> for others."""
    match = _GITHUB_URL.match(url)
    if match and ".." not in match.groups():
        return wfrun_home() / "github" / match.group(1) / match.group(2)
    return wfrun_home() / "git" / hashlib.sha256(url.encode()).hexdigest()[:20]


def _pointer(url: str, ref: str) -> Path:
    return cache_dir(url) / "refs" / (quote(ref, safe="") + ".json")


def cached(url: str, ref: str) -> Pin | None:
    """The pin of this process, else what the cache says ``ref`` resolved to last (no network)."""
    pin = SESSION.pins.get((url, ref))
    if pin is not None:
        return pin
    root = cache_dir(url)
    if SHA.match(ref):
        return Pin(url, ref, "commit", ref, str(root / ref)) if (root / ref).is_dir() else None
    try:
        data = json.loads(_pointer(url, ref).read_text())
        pin = Pin(url, ref, str(data["kind"]), str(data["commit"]), str(root / str(data["commit"])))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pin if SHA.match(pin.commit) and pin.root.is_dir() else None


def remember(pins: dict) -> None:
    """Pin refs to the commits an earlier run used (``wfrun resume``), if those are still cached."""
    for entry in pins.values():
        try:
            pin = Pin(**{k: entry[k] for k in ("url", "ref", "kind", "commit", "path")})
        except (KeyError, TypeError):
            continue
        if pin.root.is_dir():
            SESSION.pins[(pin.url, pin.ref)] = pin


async def pin(url: str, ref: str, *, what: str, offline: bool | None = None) -> Pin:
    """Resolve ``ref`` of ``url`` to a cached commit checkout, fetching only what is needed.

    ``what`` names the reference in errors (``github/acme/actions@v1``).
    """
    offline = SESSION.offline if offline is None else offline
    known = SESSION.pins.get((url, ref))
    if known is not None:
        return known
    last = cached(url, ref)
    if last is not None and (offline or last.kind in ("tag", "commit")):
        return _keep(last)
    if offline:
        raise GitError(f"{what}: not in the cache ({cache_dir(url)}) and --offline forbids fetching "
                       "(run 'wfrun fetch WORKFLOW' where there is network)")
    if SHA.match(ref):
        kind, commit, refspec = "commit", ref, ref
    else:
        kind, commit, refspec = await _ls_remote(url, ref, what)
    root = cache_dir(url)
    if not (root / commit).is_dir():
        commit = await _fetch(url, refspec, root, what)
    pinned = Pin(url, ref, kind, commit, str(root / commit))
    if kind != "commit":
        _write_pointer(url, ref, pinned)
    return _keep(pinned)


def _keep(pin: Pin) -> Pin:
    SESSION.pins[(pin.url, pin.ref)] = pin
    return pin


def display(url: str, ref: str) -> str:
    """``github/<owner>/<repo>@<ref>`` for GitHub repositories (as ``uses:`` names them), else ``url@ref``."""
    match = _GITHUB_URL.match(url)
    return f"github/{match.group(1)}/{match.group(2)}@{ref}" if match else f"{url}@{ref}"


def record_pins(run_dir: Path | None = None) -> None:
    """Write this process's pins to ``run_dir/uses.json`` (nothing when the run fetched nothing).

    Without ``run_dir``: the run's directory, once known (a checkout step pins during the run).
    """
    if run_dir is not None:
        SESSION.record_dir = run_dir
    run_dir = SESSION.record_dir
    if not SESSION.pins or run_dir is None:
        return
    data = {display(p.url, p.ref): asdict(p) for p in SESSION.pins.values()}
    tmp = run_dir / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, run_dir / RECORD)


async def _ls_remote(url: str, ref: str, what: str) -> tuple[str, str, str]:
    if ref == "HEAD":  # the default branch (checkout without a branch)
        head = (await git("ls-remote", "--", url, "HEAD", what=what)).split("\t", 1)[0].strip()
        if not SHA.match(head):
            raise GitError(f"{what}: {url} has no default branch")
        return "branch", head, "HEAD"
    try:
        out = await git("ls-remote", "--", url, f"refs/heads/{ref}", f"refs/tags/{ref}", f"refs/tags/{ref}^{{}}", what=what)
    except GitError as exc:
        raise GitError(f"{what}: cannot read {url}: {exc.message.removeprefix(what + ': ')}") from None
    found: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        found[name.strip()] = sha.strip()
    if f"refs/heads/{ref}" in found:
        return "branch", found[f"refs/heads/{ref}"], f"refs/heads/{ref}"
    tag = found.get(f"refs/tags/{ref}^{{}}") or found.get(f"refs/tags/{ref}")
    if tag:
        return "tag", tag, f"refs/tags/{ref}"
    raise GitError(f"{what}: no branch or tag '{ref}' in {url}")


async def _fetch(url: str, refspec: str, root: Path, what: str) -> str:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        await git("init", "-q", str(tmp), what=what)
        try:
            await git("-C", str(tmp), "fetch", "-q", "--depth", "1", "--no-tags", "--", url, refspec, what=what)
        except GitError as exc:
            if SHA.match(refspec):
                raise GitError(f"{what}: commit {refspec} not found in {url} ({exc.message.split(': ', 1)[-1]})") from None
            raise
        commit = (await git("-C", str(tmp), "rev-parse", "FETCH_HEAD^{commit}", what=what)).strip()
        await git("-C", str(tmp), "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", commit, what=what)
        try:
            os.rename(tmp, root / commit)
        except OSError:
            if not (root / commit).is_dir():
                raise
            # another wfrun finished the same commit first: theirs is identical
        return commit
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _write_pointer(url: str, ref: str, pin: Pin) -> None:
    path = _pointer(url, ref)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}")
    tmp.write_text(json.dumps({"url": url, "ref": ref, "kind": pin.kind, "commit": pin.commit, "time": time.time()}))
    os.replace(tmp, path)


def git_env() -> dict[str, str]:
    """The environment git runs in: never prompt (for a password or a host key) — fail instead."""
    env = dict(os.environ)
    env.update(GIT_TERMINAL_PROMPT="0", GCM_INTERACTIVE="never", GIT_ASKPASS="true", SSH_ASKPASS="true",
               GIT_SSH_COMMAND=env.get("GIT_SSH_COMMAND") or "ssh -o BatchMode=yes")
    return env


async def git(*args: str, what: str, cwd: str | None = None) -> str:
    """Run the real git with ``args``; its output, or a one-line GitError naming ``what``."""
    limit = timeout()
    try:
        proc = await asyncio.create_subprocess_exec(
            "git", *args, cwd=cwd, env=git_env(), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    except OSError as exc:
        raise GitError(f"{what}: cannot run git ({exc.strerror})") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), limit)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise GitError(f"{what}: git {args[0] if args[0] != '-C' else args[2]} took longer than {limit:g}s "
                       "(set WFRUN_GIT_TIMEOUT to wait longer)") from None
    if proc.returncode != 0:
        raise GitError(f"{what}: {_reason(err.decode(errors='replace'))}")
    return out.decode(errors="replace")


def _reason(stderr: str) -> str:
    """git's most telling stderr line, reworded when it means 'no network'."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    text = " ".join(lines)
    for needle in ("Could not resolve host", "Failed to connect", "Network is unreachable", "Connection timed out",
                   "Could not resolve hostname", "Connection refused"):
        if needle in text:
            return f"cannot reach the repository (no network?): {lines[-1]}"
    fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    return (fatal or lines or ["git failed"])[-1]


def pin_now(url: str, ref: str, *, what: str, offline: bool | None = None) -> Pin:
    """:func:`pin` from synchronous code (``wfrun fetch``, the run's start)."""
    return asyncio.run(pin(url, ref, what=what, offline=offline))
