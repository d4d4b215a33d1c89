"""Hostile inputs files and --set values: one line naming the file or option, exit 2, never a traceback."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_runner.errors import InputError
from workflow_runner.inputs import load_values_file, parse_set

WORKFLOW = "on:\n  execute:\n    inputs:\n      a: {type: string, default: x}\njobs:\n  j:\n    steps: [{run: 'true'}]\n"


@pytest.mark.parametrize("name, content, message", [
    ("bad.json", b'{"a": "\xff\xfe"}', "the inputs file is not UTF-8 text (byte 0xff at offset 7)"),
    ("deep.json", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "values nested more than 200 levels deep"),
    ("deep.json", b'{"a": ' + b"[" * 300 + b"]" * 300 + b"}", "values nested more than 200 levels deep"),
    ("big.json", b'{"a": ' + b"9" * 5000 + b"}", "a number is too long"),
    ("big.yaml", b"a: " + b"9" * 5000 + b"\n", "big.yaml:1:4: an integer of 5000 digits is too long"),
    ("deep.yaml", b"a: " + b"[" * 300 + b"]" * 300 + b"\n", "deep.yaml:1:"),
])
def test_bad_inputs_file_is_one_line(wfrun, write, tmp_path, name, content, message):
    wf = write("w.yaml", WORKFLOW)
    (tmp_path / name).write_bytes(content)
    r = wfrun(wf, "--inputs", tmp_path / name)
    assert r.code == 2 and "Traceback" not in r.err, r.err[-2000:]
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and message in lines[0], lines


@pytest.mark.parametrize("item, message", [
    (".".join(["a"] * 20_000) + "=1", "nests more than 200 levels deep"),
    ("a=" + "[" * 300 + "]" * 300, "'a' nests more than 200 levels deep"),
])
def test_deep_set_is_one_line(wfrun, write, item, message):
    wf = write("w.yaml", WORKFLOW)
    r = wfrun(wf, "--set", item)
    assert r.code == 2 and "Traceback" not in r.err, r.err[-2000:]
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wfrun: --set: ") and message in lines[0], lines


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(1, 400))
def test_set_depth_property(depth):
    """Any depth: a nested dict up to the limit, one InputError past it — never a RecursionError."""
    item = ".".join(["k"] * depth) + "=1"
    if depth < 200:
        node = parse_set([item])
        for _ in range(depth):
            node = node["k"]
        assert node == 1
    else:
        with pytest.raises(InputError, match="levels deep"):
            parse_set([item])


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(1, 3000))
def test_inputs_file_depth_property(tmp_path_factory, depth):
    path = tmp_path_factory.mktemp("in") / "v.json"
    path.write_text('{"a": ' + "[" * depth + "]" * depth + "}")
    if depth < 200:
        assert "a" in load_values_file(str(path))
    else:
        with pytest.raises(InputError, match="levels deep"):
            load_values_file(str(path))
