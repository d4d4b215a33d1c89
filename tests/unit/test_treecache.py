"""Parsed trees kept between processes (workflow_runner/treecache.py): same tree, fewer parses, no trust in foreign files."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from workflow_runner import loader, treecache
from workflow_runner.errors import LoadError

ROOT = Path(__file__).resolve().parents[2]

WORKFLOW = """\
jobs:
  build:
    steps:
      - name: compile
        run: |
          make ${{ inputs.target }}
  test:
    needs: [build]
    steps: [{run: "pytest -q"}]
"""


def parse_count(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every real parse (loader.load_text) that treecache.load makes."""
    calls: list[str] = []
    real = treecache.load_text

    def counting(text: str, filename: str) -> loader.YMap:
        calls.append(filename)
        return real(text, filename)

    monkeypatch.setattr(treecache, "load_text", counting)
    return calls


def same_tree(a: object, b: object) -> None:
    """Equal values, and the same location of every key, value and string origin, all the way down."""
    assert type(a) is type(b)
    assert a == b
    if isinstance(a, loader.YMap):
        assert (a.loc, a.key_locs, a.value_locs, a.origins) == (b.loc, b.key_locs, b.value_locs, b.origins)  # type: ignore[union-attr]
        for key in a:
            same_tree(a[key], b[key])  # type: ignore[index]
    elif isinstance(a, loader.YList):
        assert (a.loc, a.value_locs, a.origins) == (b.loc, b.value_locs, b.origins)  # type: ignore[union-attr]
        for x, y in zip(a, b):  # type: ignore[call-overload]
            same_tree(x, y)


def test_an_unchanged_file_is_parsed_once_and_gives_the_same_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    wf = tmp_path / "wf.yaml"
    wf.write_text(WORKFLOW)
    calls = parse_count(monkeypatch)
    first = treecache.load(wf, tmp_path / "cache")
    second = treecache.load(wf, tmp_path / "cache")
    assert calls == [str(wf)]
    same_tree(first, loader.load_file(wf))
    same_tree(second, first)
    assert str(second["jobs"]["build"]["steps"][0].value_locs["run"]) == f"{wf}:5:14"


def test_an_edit_or_another_name_is_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    wf = tmp_path / "wf.yaml"
    wf.write_text(WORKFLOW)
    calls = parse_count(monkeypatch)
    treecache.load(wf, tmp_path / "cache")
    wf.write_text(WORKFLOW.replace("pytest -q", "pytest -x"))
    assert treecache.load(wf, tmp_path / "cache")["jobs"]["test"]["steps"][0]["run"] == "pytest -x"
    other = tmp_path / "copy.yaml"
    other.write_text(WORKFLOW)
    copy = treecache.load(other, tmp_path / "cache")
    assert copy.loc.file == str(other)  # locations name the file they were read from
    assert len(calls) == 3


def test_yaml_errors_are_reported_every_time_and_never_kept(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("jobs:\n  a: [unclosed\n")
    for _ in range(2):
        with pytest.raises(LoadError, match="invalid YAML"):
            treecache.load(bad, tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())
    with pytest.raises(LoadError, match="file not found"):
        treecache.load(tmp_path / "missing.yaml", tmp_path / "cache")


class _Marker:
    """A pickle that creates a file when it is loaded: what an attacker would plant in the cache."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.path,))


def test_a_planted_pickle_is_never_run_and_the_file_is_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    wf = tmp_path / "wf.yaml"
    wf.write_text(WORKFLOW)
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    marker = tmp_path / "pwned"
    (cache / treecache.key(wf.read_bytes(), str(wf))).write_bytes(pickle.dumps(_Marker(marker)))
    calls = parse_count(monkeypatch)
    tree = treecache.load(wf, cache)
    assert not marker.exists()
    assert calls == [str(wf)] and tree["jobs"]["test"]["needs"] == ["build"]


def test_a_folder_others_can_write_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    wf = tmp_path / "wf.yaml"
    wf.write_text(WORKFLOW)
    cache = tmp_path / "cache"
    treecache.load(wf, cache)
    assert len(list(cache.iterdir())) == 1 and (cache.stat().st_mode & 0o777) == 0o700
    cache.chmod(0o777)
    calls = parse_count(monkeypatch)
    treecache.load(wf, cache)
    treecache.load(wf, cache)
    assert calls == [str(wf), str(wf)]  # parsed each time: another user could have written the pickle


def test_a_damaged_entry_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    wf = tmp_path / "wf.yaml"
    wf.write_text(WORKFLOW)
    cache = tmp_path / "cache"
    treecache.load(wf, cache)
    entry = next(cache.iterdir())
    entry.write_bytes(entry.read_bytes()[:40])
    calls = parse_count(monkeypatch)
    same_tree(treecache.load(wf, cache), loader.load_file(wf))
    assert calls == [str(wf)]


def test_the_cache_keeps_a_bounded_number_of_trees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(treecache, "KEEP", 4)
    cache = tmp_path / "cache"
    for i in range(12):
        wf = tmp_path / f"wf{i}.yaml"
        wf.write_text(WORKFLOW)
        treecache.load(wf, cache)
        assert len(list(cache.iterdir())) <= 4


def test_a_cache_that_cannot_be_written_costs_only_a_parse(tmp_path: Path):
    wf = tmp_path / "wf.yaml"
    wf.write_text(WORKFLOW)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    same_tree(treecache.load(wf, blocker / "cache"), loader.load_file(wf))
    same_tree(treecache.load(wf, None), loader.load_file(wf))


def test_a_second_run_of_an_unchanged_file_does_not_load_the_yaml_parser(tmp_path: Path):
    """The point of the cache: start-up of a repeated run skips importing ruamel.yaml and parsing."""
    wf = tmp_path / "wf.yaml"
    wf.write_text(WORKFLOW)
    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    code = ("import sys; from workflow_runner.validate import load_workflow; "
            f"load_workflow({str(wf)!r}); print('ruamel.yaml' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs == ["True\n", "False\n"]


def test_a_large_file_is_parsed_each_time_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Above LARGEST, pickling costs more than it saves: the cache is for the start-up of everyday files."""
    monkeypatch.setattr(treecache, "LARGEST", 100)
    wf = tmp_path / "wf.yaml"
    wf.write_text(WORKFLOW)
    calls = parse_count(monkeypatch)
    treecache.load(wf, tmp_path / "cache")
    treecache.load(wf, tmp_path / "cache")
    assert calls == [str(wf), str(wf)] and not (tmp_path / "cache").exists()
