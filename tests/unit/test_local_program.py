"""targets/local._program: the shell a local step execs is the one exec's own PATH search would find."""

from __future__ import annotations

import os
import stat

from workflow_runner.targets import local


def _tool(folder, name="bash"):
    path = folder / name
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_first_executable_on_the_steps_path_is_found_once_per_path(tmp_path, monkeypatch):
    monkeypatch.setattr(local, "_PROGRAMS", {})
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    (first / "bash").write_text("not executable")
    found = _tool(second)
    env = {b"PATH": f"{first}:{second}".encode()}
    assert local._program("bash", env) == str(found)
    found.unlink()
    assert local._program("bash", env) == str(found)  # remembered for this PATH (run() searches again if it fails)
    other = _tool(first, "sh")
    assert local._program("sh", {b"PATH": str(first).encode()}) == str(other)


def test_what_exec_must_decide_is_left_to_exec(tmp_path, monkeypatch):
    monkeypatch.setattr(local, "_PROGRAMS", {})
    _tool(tmp_path)
    assert local._program("/bin/bash", {}) == "/bin/bash"
    assert local._program("no-such-shell-here", {b"PATH": str(tmp_path).encode()}) == "no-such-shell-here"
    # A relative entry is relative to the step's directory, where exec looks after chdir.
    assert local._program("bash", {b"PATH": f"bin:{tmp_path}".encode()}) == "bash"
    assert local._program("bash", {b"PATH": f":{tmp_path}".encode()}) == "bash"
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "bash").mkdir()
    assert local._program("bash", {b"PATH": f"{tmp_path / 'dir'}:{tmp_path}".encode()}) == str(tmp_path / "bash")
    assert os.path.isabs(local._program("bash", dict(os.environb)))
