"""Look for a secret everywhere wfrun leaves text: files (and their names) under WFRUN_HOME, outputs, command lines.

The forms looked for are written out here, independently of ``workflow_runner.masking``
(a bug there must not hide itself): what wfrun's own encodings make of a secret.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Iterator

MIN_LINE = 3


def encodings(secret: str) -> dict[str, bytes]:
    """Name → UTF-8 bytes of every form of ``secret`` that must not appear.

    - ``raw``: as given;
    - ``json``/``json-ascii``: JSON-escaped (toJSON, events.jsonl, run.json, the store's JSON columns);
    - ``repr``: the body of Python's ``repr`` (error messages quoting a value);
    - ``line N``: each line of a multi-line secret with at least 3 non-blank characters — output is
      masked line by line, so a line is what a log holds; shorter lines say next to nothing and would
      match unrelated text.
    """
    forms = {
        "raw": secret,
        "json": json.dumps(secret, ensure_ascii=False)[1:-1],
        "json-ascii": json.dumps(secret)[1:-1],
        "repr": repr(secret)[1:-1],
    }
    if "\n" in secret:
        for i, line in enumerate(secret.split("\n")):
            if len(line.strip()) >= MIN_LINE:
                forms[f"line {i}"] = line
    return {name: text.encode("utf-8", "surrogateescape") for name, text in forms.items()}


def found_in(data: bytes, secrets: list[str]) -> list[str]:
    """'form of secret N' for each encoding of each secret in ``data``."""
    return [f"{name} of secret {i}" for i, s in enumerate(secrets) for name, form in encodings(s).items() if form in data]


def scan_home(home: Path, secrets: list[str]) -> list[str]:
    """Every file under ``home`` (read as bytes: runs.db and its WAL too) and every path name that holds a secret."""
    hits = []
    for path in sorted(home.rglob("*")):
        rel = str(path.relative_to(home)).encode("utf-8", "surrogateescape")
        hits += [f"{path.relative_to(home)} (its name): {h}" for h in found_in(rel, secrets)]
        if path.is_file():
            hits += [f"{path.relative_to(home)}: {h}" for h in found_in(path.read_bytes(), secrets)]
    return hits


class CmdlineSampler:
    """Reads /proc/*/cmdline of every process every few milliseconds while a run goes on (a background thread).

    ``skip`` holds pids not to look at; :meth:`paused` stops looking while a command whose arguments
    the user typed (``wfrun run --detach --set pw=…``) comes and goes.
    """

    def __init__(self, secrets: list[str], interval: float = 0.01) -> None:
        self.secrets = secrets
        self.interval = interval
        self.skip: set[int] = set()
        self.hits: set[str] = set()
        self.seen: set[bytes] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> "CmdlineSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self.sample()
            time.sleep(self.interval)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        with self._lock:
            yield

    def sample(self) -> None:
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) in self.skip or int(pid) == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            self.seen.add(cmdline)
            for hit in found_in(cmdline, self.secrets):
                self.hits.add(f"pid {pid}: {hit}: {cmdline[:200]!r}")
        self.samples += 1
