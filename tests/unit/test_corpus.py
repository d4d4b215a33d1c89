"""Conformance: the real public ACTIVATE workflows of ../shared/reference/corpus/ validate and resolve.

The files are staged in their repositories' layout (from SOURCES.md), so that a
``uses: workflow/<name>`` finds its sibling as it does on the platform. Every
file must pass ``wfrun validate`` (one process for all of them) except the few
with a genuine bug that the platform would also hit, listed in KNOWN_BROKEN with
the reason; then ``wfrun inputs`` resolves each valid file once, with generated
values for its required inputs (:func:`generated_values`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from workflow_runner.cli import main
from workflow_runner.expressions import Template

pytestmark = pytest.mark.reference

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("WFRUN_CORPUS") or ROOT.parent / "shared" / "reference" / "corpus")

KNOWN_BROKEN = {
    "parallelworks__activate-benchmark__workflow.yaml": (
        "reads steps.benchmark.outputs from another job and needs.steps.run-benchmarks: neither exists, "
        "so the platform renders them empty at run time (SOURCES.md: 'suspicious expressions')"
    ),
}

_ROW = re.compile(r"^\| *\d+ *\| *`([^`]+)` *\| *([^ |]+) *\| *`([^`]+)` *\| *`([0-9a-f]+)`")


def stage(into: Path) -> list[Path]:
    """Copy every corpus file to ``into/<owner>/<repo>@<commit>/<path>``, its place in its repository."""
    staged = []
    for line in (CORPUS / "SOURCES.md").read_text().splitlines():
        match = _ROW.match(line)
        if not match:
            continue
        local, repo, path, commit = match.groups()
        target = into / f"{repo}@{commit[:7]}" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CORPUS / local, target)
        staged.append(target)
    return staged


def generated_values(defs: dict[str, Any]) -> dict[str, Any]:
    """Values for the inputs that need one: a value of the declared type; the first option of a dropdown.

    Inputs with a default, optional ones and resource pickers (which default to
    this machine) are left out; a list gets one entry (so ``inputs.list.[index]``
    expressions in its template are exercised), groups are filled recursively.
    """
    out: dict[str, Any] = {}
    for name, spec in defs.items():
        if not isinstance(spec, dict):
            continue
        kind = spec.get("type", "string")
        if kind == "group":
            inner = generated_values(spec.get("items") or {})
            if inner:
                out[name] = inner
            continue
        if kind == "list":
            template = spec.get("template")
            if "default" not in spec and isinstance(template, dict) and "type" not in template:
                out[name] = [generated_values(template)]
            continue
        if _has_default(spec) or spec.get("optional") is True or kind in ("header", "compute-clusters", "compute-resources"):
            continue
        value = _value_of_type(kind, spec)
        if value is not None:
            out[name] = value
    return out


def _has_default(spec: dict) -> bool:
    """A default that gives a value here: not one read from the organization (``${{ org.HF_TOKEN }}``, no org locally)."""
    default = spec.get("default")
    if isinstance(default, Template):
        return not any(path[0] == "org" for path, _ in default.references())
    return "default" in spec


def _value_of_type(kind: str, spec: dict) -> Any:
    if kind in ("number", "integer"):
        low = spec.get("min")
        return low if isinstance(low, (int, float)) and not isinstance(low, bool) else 1
    if kind == "boolean":
        return False
    if kind in ("dropdown", "multi-dropdown"):
        options = spec.get("options")
        if not isinstance(options, list) or not options:
            return None  # an expression or an option-key map: its choices depend on other inputs
        first = options[0]
        first = first.get("value", first.get("label")) if isinstance(first, dict) else first
        return [first] if kind == "multi-dropdown" else first
    return "generated"


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    return stage(tmp_path_factory.mktemp("corpus"))


def test_the_corpus_is_all_there(staged):
    assert len(staged) == len(list(CORPUS.glob("*.yaml"))) == 164


def test_every_corpus_file_validates_but_the_known_broken(staged, tmp_path):
    env = {**os.environ, "WFRUN_HOME": str(tmp_path / "home"), "WFRUN_CONFIG": str(tmp_path / "none.yaml")}
    proc = subprocess.run([sys.executable, "-m", "workflow_runner", "validate", *map(str, staged)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert "Traceback" not in proc.stderr
    ok = {Path(line.split(": ok")[0]) for line in proc.stdout.splitlines() if ": ok" in line}
    failing = {_local_name(p) for p in staged if p not in ok}
    errors = [line for line in proc.stderr.splitlines() if not line.startswith(("warning:", "hint:"))]
    assert failing == set(KNOWN_BROKEN), "\n".join(errors)
    assert len(KNOWN_BROKEN) <= 3


def test_every_valid_corpus_file_resolves_its_inputs(staged, tmp_path, monkeypatch, capsys):
    from workflow_runner.validate import load_workflow

    monkeypatch.setenv("WFRUN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WFRUN_CONFIG", str(tmp_path / "none.yaml"))
    failures = []
    resolved = 0
    for path in staged:
        if _local_name(path) in KNOWN_BROKEN:
            continue
        values = tmp_path / "values.json"
        values.write_text(json.dumps(generated_values(load_workflow(path).inputs)))
        code = main(["inputs", str(path), "--inputs", str(values)])
        out, err = capsys.readouterr()
        if code != 0:
            failures.append(f"{_local_name(path)}: {err.strip()}")
            continue
        assert isinstance(json.loads(out), dict)
        resolved += 1
    assert not failures, "\n".join(failures)
    assert resolved == 164 - len(KNOWN_BROKEN)


def _local_name(staged_path: Path) -> str:
    """The corpus file name of a staged copy (owner__repo__path with '/' as '__', plus any history suffix)."""
    return _NAMES[staged_path]


_NAMES: dict[Path, str] = {}


@pytest.fixture(autouse=True, scope="module")
def _names(staged):
    for line in (CORPUS / "SOURCES.md").read_text().splitlines():
        match = _ROW.match(line)
        if match:
            local, repo, path, commit = match.groups()
            for p in staged:
                if p.as_posix().endswith(f"{repo}@{commit[:7]}/{path}"):
                    _NAMES[p] = local
