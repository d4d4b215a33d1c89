"""Every file under tests/broken/ is wrong in one way; wfrun must say where and what, in one line, exit 2.

Each file's header says how to run it and what to expect:
    # cmd: validate | inputs [args...]
    # expect: LINE:COL: message          (or just a message, when the location is 'at:')
    # at: --set | --config               (where the error points, instead of the file)
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from workflow_runner.cli import main

BROKEN = Path(__file__).resolve().parent.parent / "broken"
FILES = sorted(BROKEN.glob("*.yaml"))


def header(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if not line.startswith("# ") or ":" not in line:
            break
        key, _, value = line[2:].partition(":")
        out[key.strip()] = value.strip()
    return out


def test_there_are_at_least_40_broken_files():
    assert len(FILES) >= 40


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_broken_file(path, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("WFRUN_HOME", str(tmp_path))
    monkeypatch.setenv("WFRUN_CONFIG", str(tmp_path / "none.yaml"))
    spec = header(path)
    cmd, *extra = shlex.split(spec["cmd"])
    code = main([cmd, str(path), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    where = spec.get("at") or str(path)
    expect = spec["expect"]
    wanted = f"{where}:{expect}" if expect[:1].isdigit() else f"{where}: {expect}"
    if "dependency cycle" in expect and not expect[:1].isdigit():
        wanted = expect
    lines = [line.removeprefix("wfrun: ") for line in err.splitlines() if line.strip() and not line.startswith("warning")]
    assert any(line.startswith(wanted) or (wanted in line and not expect[:1].isdigit()) for line in lines), (
        f"expected a line starting with:\n  {wanted}\ngot:\n  " + "\n  ".join(lines)
    )
