"""Extract an uploaded tar/tar.gz/tar.xz/tar.bz2/zip archive without trusting it.

An archive from a client is hostile until proven otherwise. Extraction refuses:

- member names that are absolute, contain ``..``, a NUL or a backslash;
- symlinks whose target is absolute or leads outside the extraction folder
  (checked on the name when met, and again on the real path once everything is
  written, since a chain of in-tree links can still point out);
- hard links to anything but a regular file extracted earlier from the same archive;
- device files, FIFOs, sockets, encrypted zip entries;
- writing *through* a link: parents are created one component at a time and a
  link found on the way is an error; files are opened ``O_NOFOLLOW | O_EXCL``.

Decompression bombs are bounded by :class:`ExtractLimits`: total bytes written,
number of entries, and the ratio of bytes written to the archive's size. They
are counted on the bytes actually decompressed, chunk by chunk, not on what
headers claim, and memory stays bounded: data is copied in 1 MiB chunks, a
single header read (tar pax/GNU long names) above 4 MiB is refused, and a zip's
central directory is sized from its end record before :mod:`zipfile` loads it.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import lzma
import os
import posixpath
import stat
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

CHUNK = 1 << 20
MAX_HEADER_READ = 4 << 20
XZ_MEMLIMIT = 256 << 20
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tbz")
ZIP_SUFFIXES = (".zip",)


class ArchiveError(ValueError):
    """The archive is refused; the message names the member and the reason."""


@dataclass(frozen=True)
class ExtractLimits:
    """Bounds against decompression bombs (the ratio is only checked past ``ratio_floor`` bytes)."""

    max_bytes: int = 50 << 30
    max_files: int = 200_000
    max_ratio: float = 200.0
    ratio_floor: int = 64 << 20


@dataclass
class ExtractStats:
    files: int = 0
    bytes: int = 0


def archive_kind(name: str) -> str | None:
    """'tar' or 'zip' from the file name's suffix, else None (stored as a plain file)."""
    lower = name.lower()
    if lower.endswith(ZIP_SUFFIXES):
        return "zip"
    if lower.endswith(TAR_SUFFIXES):
        return "tar"
    return None


def extract(archive: Path, dest: Path, kind: str, limits: ExtractLimits = ExtractLimits()) -> ExtractStats:
    """Extract ``archive`` into the existing, empty folder ``dest``; ArchiveError if anything is refused.

    On error ``dest`` is left partly filled: the caller extracts into a staging
    folder and removes it.
    """
    writer = _Writer(dest, limits, archive.stat().st_size)
    try:
        if kind == "zip":
            _extract_zip(archive, writer)
        else:
            _extract_tar(archive, writer)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise ArchiveError(f"corrupt or unreadable archive: {exc}") from None
    except OSError as exc:
        if exc.errno not in (None, errno.ENAMETOOLONG, errno.EILSEQ):  # the disk (ENOSPC, EACCES), not the archive
            raise
        raise ArchiveError(f"corrupt or unreadable archive: {exc}") from None  # BadGzipFile, bz2 data errors
    writer.check_links()
    return writer.stats


# ------------------------------------------------------------------ members


def member_path(name: str) -> PurePosixPath | None:
    """The normalized relative path of a member, None for the archive's root entry ('./'); else ArchiveError."""
    if "\x00" in name or "\\" in name:
        raise ArchiveError(f"{name!r}: NUL or backslash in member name")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"{name!r}: absolute member name")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{name!r}: '..' in member name")
    return PurePosixPath(*parts) if parts else None


class _Writer:
    """Creates members under ``dest``, counting what it writes against the limits."""

    def __init__(self, dest: Path, limits: ExtractLimits, archive_size: int) -> None:
        self.dest = dest
        self.limits = limits
        self.allowed = min(limits.max_bytes, max(limits.ratio_floor, int(limits.max_ratio * max(archive_size, 1))))
        self.stats = ExtractStats()
        self.regular: set[PurePosixPath] = set()
        self.links: list[PurePosixPath] = []

    def entry(self, name: str) -> None:
        self.stats.files += 1
        if self.stats.files > self.limits.max_files:
            raise ArchiveError(f"{name!r}: more than {self.limits.max_files} entries")

    def count(self, name: str, n: int) -> None:
        self.stats.bytes += n
        if self.stats.bytes > self.allowed:
            why = (f"{self.limits.max_bytes} bytes" if self.allowed == self.limits.max_bytes
                   else f"{self.limits.max_ratio:g}x the archive's size")
            raise ArchiveError(f"{name!r}: extracted data exceeds {why} (decompression bomb?)")

    def folder(self, rel: PurePosixPath) -> Path:
        """Create ``rel`` as a folder, component by component, refusing links and files on the way."""
        cur = self.dest
        for part in rel.parts:
            cur = cur / part
            try:
                st = os.lstat(cur)
            except FileNotFoundError:
                os.mkdir(cur, 0o755)
                continue
            if not stat.S_ISDIR(st.st_mode):
                raise ArchiveError(f"{str(rel)!r}: {part!r} is already a link or a file in this archive")
        return cur

    def file(self, rel: PurePosixPath, src: IO[bytes], mode: int) -> None:
        path = self.folder(rel.parent) / rel.name
        self._replaceable(rel, path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755 if mode & 0o100 else 0o644)
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(CHUNK):
                self.count(str(rel), len(chunk))
                out.write(chunk)
        self.regular.add(rel)

    def symlink(self, rel: PurePosixPath, target: str) -> None:
        if not target or target.startswith("/") or "\x00" in target:
            raise ArchiveError(f"{str(rel)!r}: symlink to absolute or empty target {target!r}")
        if posixpath.normpath(posixpath.join(str(rel.parent), target)).split("/")[0] == "..":
            raise ArchiveError(f"{str(rel)!r}: symlink {target!r} leads outside the archive")
        path = self.folder(rel.parent) / rel.name
        if os.path.lexists(path):
            raise ArchiveError(f"{str(rel)!r}: symlink over an existing entry")
        os.symlink(target, path)
        self.links.append(rel)

    def hardlink(self, rel: PurePosixPath, target_name: str) -> None:
        try:
            target = member_path(target_name)
        except ArchiveError as exc:
            raise ArchiveError(f"{str(rel)!r}: hard link refused: {exc}") from None
        if target is None or target not in self.regular:
            raise ArchiveError(f"{str(rel)!r}: hard link to {target_name!r}, not a file extracted before it")
        source = self.dest / target
        self.count(str(rel), os.lstat(source).st_size)
        path = self.folder(rel.parent) / rel.name
        self._replaceable(rel, path)
        os.link(source, path, follow_symlinks=False)
        self.regular.add(rel)

    def _replaceable(self, rel: PurePosixPath, path: Path) -> None:
        """A later tar member may replace an earlier regular file (tar -r appends); nothing else."""
        if not os.path.lexists(path):
            return
        if rel in self.regular and stat.S_ISREG(os.lstat(path).st_mode):
            os.unlink(path)
            return
        raise ArchiveError(f"{str(rel)!r}: replaces an existing folder or link")

    def check_links(self) -> None:
        root = os.path.realpath(self.dest)
        for rel in self.links:
            real = os.path.realpath(self.dest / rel)
            if real != root and not real.startswith(root + os.sep):
                raise ArchiveError(f"{str(rel)!r}: symlink leads outside the archive (through other links)")


# ------------------------------------------------------------------ tar


class _BoundedReads(io.RawIOBase):
    """A decompressed stream whose single reads are capped: tarfile reads a pax or GNU long-name header whole."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > MAX_HEADER_READ:
            raise ArchiveError(f"tar header of {size} bytes refused (over {MAX_HEADER_READ})")
        return self.raw.read(size)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()


class _XzReader(io.RawIOBase):
    """xz decompression under a memory limit: the header picks the dictionary size (up to 1.5 GiB),
    and ``lzma.open`` has no way to refuse it. Forward seeks only (all tarfile needs, reading in order)."""

    def __init__(self, path: Path) -> None:
        self.file = open(path, "rb")
        self.dec = lzma.LZMADecompressor(memlimit=XZ_MEMLIMIT)
        self.pos = 0

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        want = size if size >= 0 else MAX_HEADER_READ
        while want > 0:
            if self.dec.eof:  # concatenated xz streams
                rest = self.dec.unused_data
                self.dec = lzma.LZMADecompressor(memlimit=XZ_MEMLIMIT)
                data = rest or self.file.read(CHUNK)
                if not data:
                    break
            else:
                data = self.file.read(CHUNK) if self.dec.needs_input else b""
                if self.dec.needs_input and not data:
                    raise EOFError("xz stream ends before its end marker")
            try:
                out = self.dec.decompress(data, max_length=want)
            except lzma.LZMAError as exc:
                raise ArchiveError(f"xz: {exc} (memory limit {XZ_MEMLIMIT} bytes)") from None
            parts.append(out)
            want -= len(out)
        data = b"".join(parts)
        self.pos += len(data)
        return data

    def readable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        target = offset if whence == 0 else self.pos + offset
        if target < self.pos:
            raise ArchiveError("xz: backward seek")
        while self.pos < target and self.read(min(CHUNK, target - self.pos)):
            pass
        return self.pos

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        self.file.close()
        super().close()


def _open_decompressed(archive: Path) -> Any:
    with open(archive, "rb") as f:
        magic = f.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(archive, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return _XzReader(archive)
    if magic.startswith(b"BZh"):
        return bz2.open(archive, "rb")
    return open(archive, "rb")


def _extract_tar(archive: Path, writer: _Writer) -> None:
    with _open_decompressed(archive) as raw, tarfile.open(fileobj=_BoundedReads(raw), mode="r:") as tar:
        while (m := tar.next()) is not None:
            writer.entry(m.name)
            tar.members.clear()  # tarfile keeps every TarInfo; we never need them again
            rel = member_path(m.name)
            if rel is None:
                continue
            if m.isdir():
                writer.folder(rel)
            elif m.isreg():
                src = tar.extractfile(m)
                assert src is not None
                writer.file(rel, src, m.mode)
            elif m.issym():
                writer.symlink(rel, m.linkname)
            elif m.islnk():
                writer.hardlink(rel, m.linkname)
            else:
                raise ArchiveError(f"{m.name!r}: device, FIFO or other special file refused")


# ------------------------------------------------------------------ zip


def _zip_directory_size(archive: Path) -> tuple[int, int]:
    """(entries, central directory bytes) from the end record (zip64 too), read before zipfile loads the directory."""
    size = archive.stat().st_size
    with open(archive, "rb") as f:
        tail_len = min(size, 65536 + 22)
        f.seek(size - tail_len)
        tail = f.read(tail_len)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            raise ArchiveError("not a zip archive (no end of central directory)")
        _, _, _, _, entries, cd_size, _, _ = struct.unpack("<4s4H2LH", tail[at:at + 22])
        if entries == 0xFFFF or cd_size == 0xFFFFFFFF:
            loc = tail[at - 20:at] if at >= 20 else b""
            if not loc.startswith(b"PK\x06\x07"):
                raise ArchiveError("zip64 archive without its locator")
            (offset,) = struct.unpack("<Q", loc[8:16])
            f.seek(offset)
            rec = f.read(56)
            if not rec.startswith(b"PK\x06\x06") or len(rec) < 56:
                raise ArchiveError("zip64 end record missing")
            entries, cd_size = struct.unpack("<QQ", rec[32:48])
    return entries, cd_size


def _extract_zip(archive: Path, writer: _Writer) -> None:
    entries, cd_size = _zip_directory_size(archive)
    if entries > writer.limits.max_files:
        raise ArchiveError(f"zip has {entries} entries, more than {writer.limits.max_files}")
    if cd_size > max(1 << 20, 1024 * writer.limits.max_files):
        raise ArchiveError(f"zip central directory of {cd_size} bytes refused")
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            writer.entry(info.filename)
            rel = member_path(info.filename)
            if rel is None:
                continue
            if info.flag_bits & 0x1:
                raise ArchiveError(f"{info.filename!r}: encrypted entry refused")
            kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
            if info.is_dir() or kind == stat.S_IFDIR:
                writer.folder(rel)
            elif kind == stat.S_IFLNK:
                if info.file_size > 4096:
                    raise ArchiveError(f"{info.filename!r}: symlink target too long")
                with zf.open(info) as src:
                    writer.symlink(rel, src.read(4097).decode("utf-8", "replace"))
            elif kind in (0, stat.S_IFREG):
                with zf.open(info) as src:
                    writer.file(rel, src, (info.external_attr >> 16) & 0o777)
            else:
                raise ArchiveError(f"{info.filename!r}: device, FIFO or other special file refused")
