"""Content-addressed datasets under ``$WFRUN_HOME/datasets/``, and ``dataset:<sha256>`` input values.

Layout::

    $WFRUN_HOME/datasets/<sha256>/meta.json     what it is (written before the folder appears)
    $WFRUN_HOME/datasets/<sha256>/data/         an archive's extracted tree, or data/<name> for a plain file
    $WFRUN_HOME/datasets/.incoming/, .staging-* uploads and extractions in progress

The key is the sha256 of the bytes the client uploaded (the archive, not its
contents), so the same upload is stored once: a second one is verified and
dropped. An upload is hashed while it streams to a temporary file; only when
the digest equals the sha256 the client declared is it extracted (see
:mod:`workflow_runner.safe_extract`) into a staging folder that is renamed into
place in one step, so a reader never sees a half-written dataset, and a
mismatch or a refused archive leaves nothing behind.

A workflow input whose value is ``dataset:<sha256>`` is replaced, when a run
starts, by the local path of that dataset (:func:`resolve_dataset_refs`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workflow_runner.errors import InputError, Location
from workflow_runner.records import ReadOnly, frozen
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # tarfile, zipfile, lzma…: loaded when a dataset is stored, not at every run's start
    from workflow_runner.safe_extract import ExtractLimits

# Patterns as text, compiled by re when first used: most runs use no dataset.
_SHA256 = r"^[0-9a-f]{64}$"
REF_PREFIX = "dataset:"
_HEXISH = r"^[0-9a-fA-F]+$"
_NAME = r"[^A-Za-z0-9_.+-]+"


class DatasetError(ValueError):
    """A refused upload or lookup; ``status`` is the HTTP status the API answers with."""

    status = 400


class ChecksumMismatch(DatasetError):
    pass


class UploadTooLarge(DatasetError):
    status = 413


@frozen
class DatasetInfo(ReadOnly):
    """A stored dataset, addressed by the sha256 of its upload."""

    sha256: str
    name: str
    kind: str  # "archive" (extracted) or "file"
    bytes: int
    files: int
    created: float
    stored_path: str  # relative to the datasets folder: "<sha>/data" or "<sha>/data/<name>"
    path: str  # the absolute local path a run sees

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_sha(text: str) -> str:
    """A lower-case sha256, or DatasetError."""
    sha = text.strip().lower()
    if not re.match(_SHA256, sha):
        raise DatasetError(f"not a sha256 (64 hex digits): {text!r}")
    return sha


def clean_name(name: str | None) -> str:
    """The base name an upload is stored under: no folders, no dot files."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = re.sub(_NAME, "_", base).lstrip(".")[:120]
    return cleaned or "data"


class DatasetStore:
    """The datasets folder of one wfrun home."""

    def __init__(self, home: Path, *, limits: ExtractLimits | None = None, max_upload: int = 100 << 30) -> None:
        from workflow_runner.safe_extract import ExtractLimits

        self.root = Path(home) / "datasets"
        self.limits = limits or ExtractLimits()
        self.max_upload = max_upload

    def get(self, sha: str) -> DatasetInfo | None:
        folder = self.root / parse_sha(sha)
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return None
        return self._info(meta)

    def list(self) -> list[DatasetInfo]:
        if not self.root.is_dir():
            return []
        found = [self.get(p.name) for p in self.root.iterdir() if re.match(_SHA256, p.name)]
        return sorted((i for i in found if i is not None), key=lambda i: i.created, reverse=True)

    def begin(self, name: str | None, declared_sha: str) -> "PendingUpload":
        """Start an upload of ``name`` whose bytes must hash to ``declared_sha``."""
        sha = parse_sha(declared_sha)
        incoming = self.root / ".incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        import tempfile  # uploads only; a run resolving references never loads it

        fd, tmp = tempfile.mkstemp(dir=incoming, prefix=sha[:12] + "-")
        return PendingUpload(self, clean_name(name), sha, Path(tmp), os.fdopen(fd, "wb"))

    def _info(self, meta: dict[str, Any]) -> DatasetInfo:
        stored = meta["stored_path"]
        return DatasetInfo(meta["sha256"], meta["name"], meta["kind"], meta["bytes"], meta["files"], meta["created"],
                           stored, str(self.root / stored))

    def store_verified(self, tmp: Path, sha: str, name: str) -> tuple[DatasetInfo, bool]:
        """Extract or move the verified upload into place; (info, True if new, False if it existed)."""
        from workflow_runner.safe_extract import archive_kind, extract

        existing = self.get(sha)
        if existing is not None:
            return existing, False
        import shutil
        import tempfile

        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".staging-"))
        try:
            data = staging / "data"
            data.mkdir()
            kind = archive_kind(name)
            if kind:
                stats = extract(tmp, data, kind, self.limits)
                files, size, stored = stats.files, stats.bytes, f"{sha}/data"
            else:
                size, files, stored = tmp.stat().st_size, 1, f"{sha}/data/{name}"
                os.replace(tmp, data / name)
            meta = {"sha256": sha, "name": name, "kind": "archive" if kind else "file", "bytes": size,
                    "files": files, "created": time.time(), "stored_path": stored}
            (staging / "meta.json").write_text(json.dumps(meta, indent=2))
            try:
                os.rename(staging, self.root / sha)
            except OSError:  # stored meanwhile by a concurrent upload of the same bytes
                existing = self.get(sha)
                if existing is None:
                    raise
                return existing, False
            return self._info(meta), True
        finally:
            shutil.rmtree(staging, ignore_errors=True)


class PendingUpload:
    """An upload in progress: :meth:`write` chunks as they arrive, then :meth:`commit` (or :meth:`abort`)."""

    def __init__(self, store: DatasetStore, name: str, sha: str, tmp: Path, out: Any) -> None:
        self.store, self.name, self.sha, self.tmp, self.out = store, name, sha, tmp, out
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.store.max_upload:
            self.abort()
            raise UploadTooLarge(f"upload exceeds {self.store.max_upload} bytes")
        self.hasher.update(chunk)
        self.out.write(chunk)

    def commit(self) -> tuple[DatasetInfo, bool]:
        """Verify the digest, then store; (info, created). Nothing is kept on any error."""
        from workflow_runner.safe_extract import ArchiveError

        try:
            self.out.close()
            actual = self.hasher.hexdigest()
            if actual != self.sha:
                raise ChecksumMismatch(f"sha256 mismatch: declared {self.sha}, received bytes hash to {actual}")
            return self.store.store_verified(self.tmp, self.sha, self.name)
        except ArchiveError as exc:
            raise DatasetError(f"archive refused: {exc}") from None
        finally:
            self.abort()

    def abort(self) -> None:
        self.out.close()
        self.tmp.unlink(missing_ok=True)


# ------------------------------------------------------------------ dataset:<sha256> inputs


def resolve_dataset_refs(values: Any, home: Path, path: str = "inputs") -> Any:
    """``values`` with every string ``dataset:<sha256>`` replaced by that dataset's local path.

    An unknown dataset, or a ``dataset:`` reference that is not a full sha256,
    is an InputError naming the input (``inputs.data: dataset 1a2b… not found``).
    Other strings are left alone.
    """
    if isinstance(values, dict):
        return {k: resolve_dataset_refs(v, home, f"{path}.{k}") for k, v in values.items()}
    if isinstance(values, list):
        return [resolve_dataset_refs(v, home, f"{path}[{i}]") for i, v in enumerate(values)]
    if not isinstance(values, str) or not values.startswith(REF_PREFIX):
        return values
    ref = values[len(REF_PREFIX):].strip()
    if not re.match(_SHA256, ref.lower()):
        if re.match(_HEXISH, ref):
            raise InputError(f"dataset reference needs the full 64-digit sha256, got {len(ref)} digits",
                             location=Location(path))
        return values
    info = DatasetStore(home).get(ref.lower())
    if info is None:
        raise InputError(f"dataset {ref.lower()} not found in {Path(home) / 'datasets'} (upload it with "
                         f"POST /api/datasets of 'wfrun serve')", location=Location(path))
    return info.path
