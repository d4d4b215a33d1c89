"""The run directory's remote root: nesting comes from child(), not from folder names in the path."""

from __future__ import annotations

from workflow_runner.state.rundir import RunDir


def test_a_home_under_a_folder_named_sub_is_no_nested_run(tmp_path):
    home = tmp_path / "sub" / "wfrun"
    top = RunDir.numbered("w", 7, home=home)
    assert top.remote_root("/home/u") == "/home/u/pw/jobs/w/00007"
    inner = top.child("called").child("deeper")
    assert inner.remote_root("/home/u/") == "/home/u/pw/jobs/w/00007/sub/called/sub/deeper"
