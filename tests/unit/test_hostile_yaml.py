"""Hostile YAML: merge keys as YAML 1.1 defines them, alias bombs, huge numbers, non-name keys.

Each case ends in the right value or in one located error — never a silent
drop, a traceback, or a loader that runs out of memory.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_runner.errors import LoadError
from workflow_runner.loader import load_text

# ------------------------------------------------------------------ merge keys (https://yaml.org/type/merge.html)


def test_merge_list_earlier_mapping_wins_and_explicit_key_wins():
    tree = load_text("d1: &d1 {A: one, B: b1}\nd2: &d2 {A: two, C: c2}\n"
                     "env:\n  <<: [*d1, *d2]\n  B: own\n", "w.yaml")
    assert dict(tree["env"]) == {"A": "one", "B": "own", "C": "c2"}


def test_merge_inline_mapping():
    tree = load_text("env:\n  <<: {A: x}\n  B: y\n", "w.yaml")
    assert dict(tree["env"]) == {"A": "x", "B": "y"}


def test_merge_explicit_key_before_merge_still_wins():
    tree = load_text("d: &d {A: merged, B: kept}\nenv:\n  A: explicit\n  <<: *d\n", "w.yaml")
    assert dict(tree["env"]) == {"A": "explicit", "B": "kept"}


def test_merged_keys_keep_their_locations():
    tree = load_text("d: &d\n  A: one\nenv:\n  <<: *d\n", "w.yaml")
    assert (tree["env"].value_locs["A"].line, tree["env"].value_locs["A"].col) == (2, 6)


@pytest.mark.parametrize("value", ["[1, 2]", "1", "x", "[{A: 1}, 2]", "[[1]]", "~"])
def test_bad_merge_is_a_located_error(value):
    with pytest.raises(LoadError) as err:
        load_text(f"env:\n  <<: {value}\n", "w.yaml")
    assert "merge key" in err.value.message
    assert (err.value.location.line, err.value.location.col) == (2, 7)


names = st.sampled_from(["A", "B", "C", "D", "E"])
mappings = st.dictionaries(names, st.integers(0, 9), max_size=4)


@settings(max_examples=150, deadline=None)
@given(sources=st.lists(mappings, min_size=1, max_size=4), explicit=mappings, before=st.booleans())
def test_merge_semantics_property(sources, explicit, before):
    """Whatever the mappings: explicit keys win, then the earliest mapping of the list that has the key."""
    anchors = "".join(f"s{i}: &s{i} {json.dumps(m)}\n" for i, m in enumerate(sources))
    merge = "  <<: [" + ", ".join(f"*s{i}" for i in range(len(sources))) + "]\n"
    own = "".join(f"  {k}: {v}\n" for k, v in explicit.items())
    text = anchors + "out:\n" + (merge + own if not before else own + merge)
    if not explicit and not sources:
        return
    expected: dict = dict(explicit)
    for source in sources:
        for k, v in source.items():
            expected.setdefault(k, v)
    assert dict(load_text(text, "w.yaml")["out"]) == expected


def test_merge_in_a_workflow_reaches_the_step_env(wfrun, write):
    wf = write("w.yaml", "jobs:\n  a:\n    env: &d1 {A: one, B: b1}\n    steps: [{run: 'true'}]\n"
                         "  b:\n    env: &d2 {A: two, C: c2}\n    steps: [{run: 'true'}]\n"
                         "  j:\n    env:\n      <<: [*d1, *d2]\n      B: own\n      D: {<<: {X: y}}\n"
                         "    steps:\n      - run: echo \"A=$A B=$B C=$C\"\n")
    r = wfrun("validate", wf)
    assert r.code == 2 and "'jobs.j.env.D' must be a string" in r.err  # the inline merge made D a mapping
    wf.write_text(wf.read_text().replace("      D: {<<: {X: y}}\n", "      <<: {Z: z}\n"))
    assert wfrun("validate", wf).code == 2  # two '<<' keys in one mapping is a duplicate key
    wf.write_text(wf.read_text().replace("      <<: {Z: z}\n", ""))
    r = wfrun(wf, "--no-live")
    assert r.code == 0, r.err
    assert "A=one B=own C=c2" in r.out


# ------------------------------------------------------------------ aliases


def bomb(levels: int, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\njobs: {x: {steps: [{run: 'true'}]}}\n"


def test_billion_laughs_is_a_located_error():
    with pytest.raises(LoadError) as err:
        load_text(bomb(9), "bomb.yaml")
    assert "alias" in err.value.message and "WFRUN_MAX_YAML_ALIAS_SIZE" in err.value.message
    assert err.value.location.file == "bomb.yaml" and err.value.location.line is not None


def test_long_string_bomb_is_counted_by_size():
    text = "s: &s '" + "x" * 100_000 + "'\n" + "l: &l [" + ", ".join(["*s"] * 200) + "]\n"
    with pytest.raises(LoadError, match="alias"):
        load_text(text, "w.yaml")


def test_alias_limit_can_be_raised(monkeypatch):
    monkeypatch.setenv("WFRUN_MAX_YAML_ALIAS_SIZE", "100000000")
    assert len(load_text(bomb(7), "w.yaml")["a6"]) == 9


def test_too_many_aliases(monkeypatch):
    monkeypatch.setenv("WFRUN_MAX_YAML_ALIASES", "10")
    with pytest.raises(LoadError, match="too many YAML aliases"):
        load_text("a: &a 1\nl: [" + ", ".join(["*a"] * 11) + "]\n", "w.yaml")


def test_ordinary_aliases_still_load():
    tree = load_text(bomb(4), "w.yaml")
    assert len(tree["a3"]) == 9 and tree["a3"][0][0][0][0] == "lol"


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n", "a: &a {b: [1, {c: *a}]}\n"])
def test_recursive_alias_is_a_located_error(text):
    with pytest.raises(LoadError, match="contains it") as err:
        load_text(text, "w.yaml")
    assert err.value.location.line == 1


# ------------------------------------------------------------------ numbers


@pytest.mark.parametrize("text, message", [
    ("v: " + "9" * 5000, "integer of 5000 digits"),
    ("v: -" + "9" * 5000, "integer of 5001 digits"),
    ("v: !!int " + "9" * 5000, "integer of 5000 digits"),
    ("v: !!float " + "9" * 400, "out of range for a float"),
    ("v: !!float 1e999", "out of range for a float"),
    ("v: !!float abc", "not a valid float"),
])
def test_huge_numbers_are_located_errors(text, message):
    with pytest.raises(LoadError, match=message) as err:
        load_text(text + "\n", "w.yaml")
    assert (err.value.location.line, err.value.location.col) == (1, 4)


def test_float_infinity_literal_still_loads():
    assert load_text("v: !!float .inf\nw: !!float 1.5\n", "w.yaml") == {"v": float("inf"), "w": 1.5}


def test_huge_number_through_the_cli_is_one_line(wfrun, write):
    wf = write("w.yaml", "jobs:\n  a:\n    timeout-minutes: !!float " + "9" * 400 + "\n    steps: [{run: 'true'}]\n")
    r = wfrun("validate", wf)
    assert r.code == 2 and "Traceback" not in r.err
    assert r.err.strip().endswith("out of range for a float") and len(r.err.strip().splitlines()) == 1


def test_status_of_a_huge_run_number(wfrun):
    r = wfrun("status", "9" * 23)
    assert r.code == 2 and "Traceback" not in r.err
    assert "not found" in r.err and len(r.err.strip().splitlines()) == 1


# ------------------------------------------------------------------ keys that are not names


@pytest.mark.parametrize("text, where", [
    ("jobs:\n  ~:\n    steps: [{run: 'true'}]\n", (2, 3)),
    ("jobs:\n  1:\n    steps: [{run: 'true'}]\n", (2, 3)),
    ("jobs:\n  a:\n    env: {1: x}\n    steps: [{run: 'true'}]\n", (3, 11)),
    ("jobs:\n  a:\n    env: {~: x}\n    steps: [{run: 'true'}]\n", (3, 11)),
    ("jobs:\n  a:\n    steps: [{run: 'true', 2.5: x}]\n", (3, 27)),
    ("on:\n  execute:\n    inputs:\n      false: {type: string}\njobs: {}\n", (4, 7)),
])
def test_non_name_keys_are_located_errors(text, where):
    with pytest.raises(LoadError, match="must be a name") as err:
        load_text(text, "w.yaml")
    assert (err.value.location.line, err.value.location.col) == where


def test_null_job_name_fails_validation_not_the_run(wfrun, write):
    wf = write("w.yaml", "jobs:\n  ~:\n    steps: [{run: 'true'}]\n")
    for args in (("validate", wf), (wf,)):
        r = wfrun(*args)
        assert r.code == 2 and "Traceback" not in r.err, r.err
        assert "w.yaml:2:3: a mapping key must be a name, not null" in r.err


# ------------------------------------------------------------------ linear costs (item 16)


def test_many_block_scalars_load_in_linear_time():
    """120,000 block scalars (7 MB): seconds when each looks only at the next line (a copy of the rest made it minutes)."""
    import subprocess
    import sys

    code = ("from workflow_runner.loader import load_text\n"
            "n = 120000\n"
            "text = 'jobs:\\n  a:\\n    steps:\\n' + ''.join('      - run: |\\n          echo %d\\n' % i for i in range(n))\n"
            "steps = load_text(text, 'w.yaml')['jobs']['a']['steps']\n"
            "assert len(steps) == n and steps[-1]['run'] == 'echo %d\\n' % (n - 1)\n"
            "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_format_over_megabytes_of_braces_is_correct_and_prompt(tmp_path):
    """8 MB of '{{' through format(): seconds when linear (the quadratic scan needed minutes)."""
    import subprocess
    import sys

    code = ("from workflow_runner.expressions.functions import format_\n"
            "out = format_('{{' * (4 << 20) + '{0}' + '}}' * 10, 'x')\n"
            "assert out == '{' * (4 << 20) + 'x' + '}' * 10\nprint('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_quote_escapes_in_a_large_literal():
    from workflow_runner.expressions.template import compile_string

    template = compile_string("${{ format('{0}', '" + "''" * (2 << 20) + "') }}")
    from workflow_runner.expressions import Context, render

    assert render(template, Context(values={})) == "'" * (2 << 20)
