"""Start, re-run and cancel runs for ``wfrun serve`` — always as ordinary, independent wfrun processes.

The server never runs a workflow itself: it starts ``wfrun run FILE --detach
--inputs -`` (the values on its standard input, never in argv: passwords!) and
``wfrun rerun RUN --failed --inputs -`` in a new session with their output in
the run directory. Those processes own their runs exactly as if started from a
terminal, so ``wfrun status``/``cancel`` work on them and killing the server
(even ``kill -9``) stops none of them. The server only reaps them (a thread per
child, so no zombie looks alive to the store's liveness check).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from workflow_runner.masking import mask_text
from workflow_runner.serve.data import get_run, workflow_tree
from workflow_runner.serve.settings import ServeSettings
from workflow_runner.state.store import RunStore

STARTED = re.compile(r"^run (\d+)\b", re.M)
"""The first line ``wfrun run --detach`` prints: ``run N started in the background (pid …)``."""
START_TIMEOUT = 300.0
"""Seconds the foreground half of ``--detach`` may take (it fetches github/… refs, checks the workflow)."""


def _env(settings: ServeSettings) -> dict[str, str]:
    return {**os.environ, "WFRUN_HOME": str(settings.home), "NO_COLOR": "1"}


def _errors_of(stderr: str, secrets: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """wfrun's stderr lines as (errors, warnings); the ``wfrun:`` prefix dropped, secrets masked."""
    errors, warnings = [], []
    for line in mask_text(stderr, secrets).splitlines():
        text = line.removeprefix("wfrun: ").strip()
        if not text:
            continue
        if text.startswith("warning: "):
            warnings.append(text.removeprefix("warning: "))
        else:
            errors.append({"message": text, "input": None, "location": None})
    return errors, warnings


def _secrets_in(inputs: Any) -> list[str]:
    """Every string in the submitted values: masked in anything echoed back from wfrun's stderr."""
    out: list[str] = []
    if isinstance(inputs, dict):
        for v in inputs.values():
            out += _secrets_in(v)
    elif isinstance(inputs, list):
        for v in inputs:
            out += _secrets_in(v)
    elif isinstance(inputs, str) and len(inputs) >= 4:
        out.append(inputs)
    return out


def start_run(settings: ServeSettings, wf_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Check ``inputs`` like the form does (422 with per-field errors), then start the run; its number."""
    tree = workflow_tree(settings.root, wf_id, inputs)
    if tree["errors"]:
        raise HTTPException(422, {"message": "the inputs are not valid", "errors": tree["errors"]})
    cmd = [sys.executable, "-m", "workflow_runner", "run", tree["file"], "--detach", "--inputs", "-"]
    try:
        proc = subprocess.run(cmd, input=json.dumps(inputs), capture_output=True, text=True, timeout=START_TIMEOUT,
                              env=_env(settings), cwd=settings.root, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise HTTPException(504, f"wfrun run did not start the run within {START_TIMEOUT:g}s") from None
    errors, warnings = _errors_of(proc.stderr, _secrets_in(inputs))
    found = STARTED.search(proc.stdout)
    if proc.returncode != 0 or found is None:
        raise HTTPException(422, {"message": f"wfrun run exited with {proc.returncode}", "errors": errors})
    return {"run": int(found.group(1)), "warnings": warnings}


def rerun_failed(settings: ServeSettings, store: RunStore, run: int, inputs: dict[str, Any]) -> dict[str, Any]:
    """``wfrun rerun RUN --failed`` in the background: a new attempt of the run, only its unfinished jobs run.

    ``inputs`` gives the password values again (they are never stored). Waits
    until the new attempt has begun (or the process failed), so a client that
    reads the run next sees it running.
    """
    from workflow_runner import inputpath

    row = get_run(store, run)
    if not row.final:
        raise HTTPException(409, f"run {run} is still {row.status}; cancel it first")
    if row.status == "completed":
        raise HTTPException(409, f"run {run} completed; nothing failed to re-run")
    missing = [p for p in row.secret_paths or [] if inputpath.get(inputs, p) is None]
    if missing:
        raise HTTPException(422, {"message": f"run {run} used password input(s) {', '.join(missing)}, which are never"
                                             " stored; give them again in 'inputs'",
                                  "errors": [{"message": "required (password, not stored)", "input": p, "location": None}
                                             for p in missing]})
    if not row.run_dir:
        raise HTTPException(409, f"run {run} has no run directory")
    out_path = Path(row.run_dir) / "wfrun.out"
    before = out_path.stat().st_size if out_path.exists() else 0
    cmd = [sys.executable, "-m", "workflow_runner", "rerun", str(run), "--failed", "--inputs", "-", "--no-live"]
    with open(out_path, "ab") as log:
        child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=_env(settings),
                                 cwd=settings.root, start_new_session=True)
    assert child.stdin is not None
    try:
        child.stdin.write(json.dumps(inputs).encode())
        child.stdin.close()
    except BrokenPipeError:
        pass
    threading.Thread(target=child.wait, name=f"reap-{child.pid}", daemon=True).start()
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        current = store.get_run(run)
        if current is not None and current.attempt > row.attempt:
            return {"run": run, "attempt": current.attempt, "pid": child.pid}
        code = child.poll()
        if code is not None:
            with open(out_path, "rb") as f:
                f.seek(before)
                tail = f.read(20_000).decode("utf-8", "replace")
            errors, _ = _errors_of(tail, _secrets_in(inputs))
            raise HTTPException(422, {"message": f"wfrun rerun exited with {code}", "errors": errors})
        time.sleep(0.05)
    return {"run": run, "attempt": None, "pid": child.pid}


def cancel(store: RunStore, run: int) -> dict[str, Any]:
    """``wfrun cancel RUN`` without waiting: flag it in the store and SIGTERM its wfrun (cleanups still run)."""
    from workflow_runner.commands.cancel import cancel_run

    row = get_run(store, run)
    out = io.StringIO()
    cancel_run(store, row.id, wait=0, out=out)
    current = store.get_run(run) or row
    return {"run": run, "status": current.status, "cancel_requested": current.cancel_requested,
            "message": out.getvalue().strip()}
