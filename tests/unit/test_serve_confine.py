"""confine(): the one place request paths are checked against their directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workflow_runner.serve.confine import PathRejected, confine


@pytest.fixture
def root(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    (run / "sub").mkdir(parents=True)
    (run / "sub" / "a.txt").write_text("a")
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", run / "escape")
    os.symlink(tmp_path, run / "updir")
    os.symlink(run / "sub" / "a.txt", run / "inner")
    return run


def test_plain_and_nested_paths_resolve_inside(root: Path) -> None:
    assert confine(root, "sub/a.txt") == (root / "sub" / "a.txt").resolve()
    assert confine(root, "") == root.resolve()
    assert confine(root, "missing.txt") == (root / "missing.txt").resolve()


def test_symlink_inside_root_is_allowed(root: Path) -> None:
    assert confine(root, "inner") == (root / "sub" / "a.txt").resolve()


@pytest.mark.parametrize(
    "bad,status",
    [
        ("../secret.txt", 400),
        ("sub/../../secret.txt", 400),
        ("/etc/passwd", 400),
        ("~/x", 400),
        ("sub\\..\\x", 400),
        ("a\x00b", 400),
        ("escape", 403),
        ("updir/secret.txt", 403),
    ],
)
def test_escapes_are_rejected_with_a_reason(root: Path, bad: str, status: int) -> None:
    with pytest.raises(PathRejected) as info:
        confine(root, bad)
    assert info.value.status_code == status
    assert info.value.detail
