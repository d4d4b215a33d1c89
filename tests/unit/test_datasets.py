"""Datasets: confine(), safe archive extraction (traversal, links, bombs), verified de-duplicated storage, dataset: refs."""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import subprocess
import sys
import tarfile
import textwrap
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from workflow_runner.datasets import ChecksumMismatch, DatasetError, DatasetStore, UploadTooLarge, resolve_dataset_refs
from workflow_runner.errors import InputError
from workflow_runner.safe_extract import ArchiveError, ExtractLimits, extract, member_path
from workflow_runner.serve.confine import confine
from workflow_runner.serve.run_outputs import HashCache, index_files, is_outputs_record

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ archive builders


def make_tar(path: Path, members: list[tuple[str, str, bytes | str]], mode: str = "w:gz") -> Path:
    """members: (kind, name, data-or-linkname); kind in file, dir, sym, hard, chr."""
    with tarfile.open(path, mode) as tar:
        for kind, name, data in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
                         "chr": tarfile.CHRTYPE}[kind]
            if kind in ("sym", "hard"):
                info.linkname = data
            tar.addfile(info)
    return path


def make_zip(path: Path, members: list[tuple[str, bytes]], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, target)
    return path


def zero_zip(path: Path, size: int) -> Path:
    """A zip bomb: ``size`` zero bytes deflated (level 1: about 230:1, and quick to make), written in chunks."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf, zf.open("zeros.bin", "w", force_zip64=True) as out:
        chunk = bytes(1 << 20)
        for _ in range(size // len(chunk)):
            out.write(chunk)
    return path


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ------------------------------------------------------------------ confine


def test_confine_accepts_inside_paths_and_in_tree_links(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.txt").write_text("x")
    (tmp_path / "link").symlink_to("a/f.txt")
    assert confine(tmp_path, "a/f.txt") == (tmp_path / "a" / "f.txt").resolve()
    assert confine(tmp_path, "link") == (tmp_path / "a" / "f.txt").resolve()
    assert confine(tmp_path, "a/./f.txt") == (tmp_path / "a" / "f.txt").resolve()


# the refusals are tested in test_serve_confine.py (one confine() for every file-serving route)


# ------------------------------------------------------------------ extraction: names and links


@pytest.mark.parametrize("members, why", [
    ([("file", "../evil.txt", b"x")], "'..'"),
    ([("file", "ok/../../evil.txt", b"x")], "'..'"),
    ([("file", "/tmp/evil-abs.txt", b"x")], "absolute"),
    ([("sym", "link", "/etc/passwd")], "absolute"),
    ([("sym", "link", "../../etc/passwd")], "outside"),
    ([("sym", "s", "."), ("sym", "l", "s/..")], "through other links"),
    ([("dir", "sub", b""), ("sym", "d", "sub"), ("file", "d/x", b"through")], "already a link"),
    ([("hard", "h", "/etc/passwd")], "hard link"),
    ([("hard", "h", "../outside")], "'..'"),
    ([("chr", "dev", "")], "device"),
])
def test_tar_escapes_are_refused(tmp_path, members, why):
    archive = make_tar(tmp_path / "bad.tar.gz", members)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(ArchiveError, match=why):
        extract(archive, dest, "tar")
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/evil-abs.txt").exists()


def test_tar_with_safe_links_and_formats_extracts(tmp_path):
    members = [("dir", "d", b""), ("file", "d/a.txt", b"alpha"), ("sym", "d/rel", "a.txt"),
               ("hard", "d/hard", "d/a.txt"), ("file", "./top.txt", b"top")]
    for mode, name in (("w:gz", "x.tar.gz"), ("w:xz", "x.tar.xz"), ("w", "x.tar"), ("w:bz2", "x.tar.bz2")):
        dest = tmp_path / name.replace(".", "_")
        dest.mkdir()
        stats = extract(make_tar(tmp_path / name, members, mode), dest, "tar")
        assert (dest / "d" / "rel").read_text() == "alpha" and (dest / "d" / "hard").read_text() == "alpha"
        assert (dest / "top.txt").read_text() == "top"
        assert stats.files == 5 and stats.bytes == len(b"alpha") * 2 + len(b"top")


def test_zip_escapes_are_refused(tmp_path):
    for name, members, links, why in [
        ("dots.zip", [("../evil.txt", b"x")], None, "'..'"),
        ("abs.zip", [("/tmp/evil-abs.txt", b"x")], None, "absolute"),
        ("link.zip", [], {"l": "/etc/passwd"}, "absolute"),
        ("link2.zip", [], {"l": "../../x"}, "outside"),
    ]:
        dest = tmp_path / name.replace(".", "_")
        dest.mkdir()
        with pytest.raises(ArchiveError, match=why):
            extract(make_zip(tmp_path / name, members, links), dest, "zip")
    assert not (tmp_path / "evil.txt").exists()


def test_member_names_are_normalized():
    assert str(member_path("./a//b/./c")) == "a/b/c"
    assert member_path("./") is None
    for bad in ("../x", "a/../../x", "/x", "C:\\x", "a\\b", "a\x00"):
        with pytest.raises(ArchiveError):
            member_path(bad)


# ------------------------------------------------------------------ extraction: bombs


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    return zero_zip(tmp_path_factory.mktemp("bomb") / "bomb.zip", 256 << 20)


def test_zip_bomb_stops_at_the_ratio_in_bounded_memory(tmp_path, bomb):
    dest = tmp_path / "dest"
    dest.mkdir()
    limits = ExtractLimits(max_ratio=20, ratio_floor=1 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match="20x the archive's size"):
            extract(bomb, dest, "zip", limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak} bytes while refusing a 256 MiB bomb"
    written = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    assert written <= 20 * bomb.stat().st_size + (1 << 20), written  # stopped while extracting, within one chunk


def test_zip_bomb_refused_under_rlimit_as(tmp_path, bomb):
    """In a process that cannot grow by 64 MiB, a 256 MiB bomb is refused by the bytes limit, not by MemoryError."""
    script = textwrap.dedent(f"""
        import resource, sys
        from pathlib import Path
        from workflow_runner.safe_extract import ArchiveError, ExtractLimits, extract
        vm = int([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmSize')][0]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + (64 << 20), vm + (64 << 20)))
        dest = Path({str(tmp_path / 'dest')!r}); dest.mkdir()
        try:
            extract(Path({str(bomb)!r}), dest, 'zip', ExtractLimits(max_bytes=128 << 20, max_ratio=1e9))
        except ArchiveError as exc:
            print('refused:', exc)
            sys.exit(0)
        sys.exit(3)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "exceeds 134217728 bytes" in proc.stdout


def test_tar_gz_bomb_and_file_count_are_bounded(tmp_path):
    big = tmp_path / "big.tar.gz"
    with tarfile.open(big, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("zeros")
        info.size = 64 << 20
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    dest = tmp_path / "d1"
    dest.mkdir()
    with pytest.raises(ArchiveError, match="8388608 bytes"):
        extract(big, dest, "tar", ExtractLimits(max_bytes=8 << 20))
    many = make_tar(tmp_path / "many.tar", [("file", f"f{i}", b"") for i in range(50)], "w")
    dest = tmp_path / "d2"
    dest.mkdir()
    with pytest.raises(ArchiveError, match="more than 20 entries"):
        extract(many, dest, "tar", ExtractLimits(max_files=20))
    many_zip = make_zip(tmp_path / "many.zip", [(f"f{i}", b"") for i in range(50)])
    dest = tmp_path / "d3"
    dest.mkdir()
    with pytest.raises(ArchiveError, match="50 entries, more than 20"):
        extract(many_zip, dest, "zip", ExtractLimits(max_files=20))


def test_huge_pax_header_is_refused_before_it_is_read(tmp_path):
    archive = tmp_path / "pax.tar.gz"
    with tarfile.open(archive, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("x")
        info.pax_headers = {"comment": "z" * (8 << 20)}
        tar.addfile(info, io.BytesIO(b""))
    dest = tmp_path / "d"
    dest.mkdir()
    with pytest.raises(ArchiveError, match="header"):
        extract(archive, dest, "tar")


def big_dictionary_xz(path: Path) -> Path:
    """A valid .tar.xz whose block header asks for a 1.5 GiB dictionary (props byte 40, header CRC fixed)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("a.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"alpha"))
    xz = bytearray(lzma.compress(buf.getvalue()))
    start, size = 12, (xz[12] + 1) * 4  # the block header follows the 12-byte stream header
    assert xz[start + 2:start + 4] == b"\x21\x01", "LZMA2 filter with one props byte"
    xz[start + 4] = 40
    xz[start + size - 4:start + size] = zlib.crc32(bytes(xz[start:start + size - 4])).to_bytes(4, "little")
    path.write_bytes(bytes(xz))
    assert lzma.decompress(bytes(xz)) == buf.getvalue()  # still valid for an unbounded decoder
    return path


def test_xz_dictionary_over_the_memory_limit_is_refused(tmp_path):
    dest = tmp_path / "d"
    dest.mkdir()
    with pytest.raises(ArchiveError, match="xz: .*memory limit"):
        extract(big_dictionary_xz(tmp_path / "dict.tar.xz"), dest, "tar")


# ------------------------------------------------------------------ the store


def upload(store: DatasetStore, name: str, data: bytes, sha: str | None = None):
    pending = store.begin(name, sha or hashlib.sha256(data).hexdigest())
    for i in range(0, len(data), 1000):
        pending.write(data[i:i + 1000])
    return pending.commit()


def test_checksum_mismatch_stores_nothing(tmp_path):
    store = DatasetStore(tmp_path)
    data = make_tar(tmp_path / "a.tar.gz", [("file", "a.txt", b"alpha")]).read_bytes()
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ChecksumMismatch, match="mismatch"):
        upload(store, "a.tar.gz", data, wrong)
    assert [p.name for p in store.root.iterdir()] == [".incoming"]
    assert list((store.root / ".incoming").iterdir()) == []
    assert store.get(wrong) is None and store.list() == []


def test_same_bytes_are_stored_once(tmp_path):
    store = DatasetStore(tmp_path)
    data = make_tar(tmp_path / "a.tar.gz", [("file", "d/a.txt", b"alpha")]).read_bytes()
    first, created = upload(store, "a.tar.gz", data)
    again, created_again = upload(store, "renamed.tgz", data)
    assert (created, created_again) == (True, False)
    assert again == first and first.kind == "archive" and first.files == 1 and first.bytes == 5
    assert Path(first.path, "d", "a.txt").read_text() == "alpha"
    assert [p.name for p in store.root.iterdir() if not p.name.startswith(".")] == [first.sha256]
    assert list((store.root / ".incoming").iterdir()) == []


def test_plain_file_and_refused_archive(tmp_path):
    store = DatasetStore(tmp_path, limits=ExtractLimits(max_bytes=1000))
    info, _ = upload(store, "../../notes.txt", b"plain text")
    assert info.kind == "file" and info.name == "notes.txt" and Path(info.path).read_bytes() == b"plain text"
    bad = make_tar(tmp_path / "b.tar.gz", [("file", "../evil", b"x")]).read_bytes()
    with pytest.raises(DatasetError, match="archive refused: .*'..'"):
        upload(store, "b.tar.gz", bad)
    assert store.get(hashlib.sha256(bad).hexdigest()) is None
    assert sorted(p.name for p in store.root.iterdir()) == [".incoming", info.sha256]
    with pytest.raises(UploadTooLarge):
        upload(DatasetStore(tmp_path, max_upload=10), "x", b"eleven bytes")


def test_dataset_refs_resolve_to_paths_and_unknown_ones_name_the_input(tmp_path):
    store = DatasetStore(tmp_path)
    info, _ = upload(store, "n.txt", b"numbers")
    values = {"data": f"dataset:{info.sha256.upper()}", "list": ["dataset:x-not-a-ref", 3], "other": "plain"}
    assert resolve_dataset_refs(values, tmp_path) == {"data": info.path, "list": ["dataset:x-not-a-ref", 3],
                                                      "other": "plain"}
    with pytest.raises(InputError) as exc:
        resolve_dataset_refs({"group": {"d": "dataset:" + "0" * 64}}, tmp_path)
    assert str(exc.value).startswith("inputs.group.d: dataset 000") and "not found" in str(exc.value)
    with pytest.raises(InputError, match="inputs.d: dataset reference needs the full 64-digit sha256, got 7"):
        resolve_dataset_refs({"d": "dataset:abc1234"}, tmp_path)


# ------------------------------------------------------------------ run outputs index


def test_index_skips_raw_outputs_records_and_links_and_caches_hashes(tmp_path):
    out = tmp_path / "outputs"
    (out / "job").mkdir(parents=True)
    (out / "job" / "01-step.0").write_text("token=raw-secret\n")
    (out / "weights").mkdir()
    (out / "weights" / "model.pth").write_bytes(b"W" * 5000)
    (out / "escape").symlink_to("/etc/passwd")
    cache = HashCache()
    first = index_files(tmp_path, cache)
    assert [f["path"] for f in first] == ["outputs/weights/model.pth"]
    assert first[0]["sha256"] == hashlib.sha256(b"W" * 5000).hexdigest() and first[0]["size"] == 5000
    assert index_files(tmp_path, cache) == first and cache.hashed == 1
    (out / "weights" / "model.pth").write_bytes(b"V" * 5001)
    assert index_files(tmp_path, cache)[0]["sha256"] == hashlib.sha256(b"V" * 5001).hexdigest()
    assert cache.hashed == 2
    from pathlib import PurePosixPath
    assert is_outputs_record(PurePosixPath("sub/x/outputs/j/12-s.3"))
    assert not is_outputs_record(PurePosixPath("outputs/manifest.json"))
    assert json.dumps(first)  # JSON-ready
