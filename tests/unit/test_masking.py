"""One masker, longest secret first, wherever secrets are masked (logs, events, the store, wfrun inputs)."""

from __future__ import annotations

import asyncio
import json

import pytest

from workflow_runner import inputs
from workflow_runner.engine.runstate import Shared
from workflow_runner.state.store import RunStore
from workflow_runner.targets.select import Targets


@pytest.mark.parametrize("secrets", [["abc", "abcdef"], ["abcdef", "abc"]])
def test_a_secret_that_contains_another_is_masked_whole(secrets):
    assert inputs.mask({"a": ["abcdef"], "b": "abc!"}, secrets) == {"a": ["***"], "b": "***!"}
    from workflow_runner.masking import Masker, mask_text

    assert Masker(secrets)("x abcdef y abc z") == "x *** y *** z"
    assert mask_text("abcdefabc", secrets) == "******"


def test_regex_characters_in_secrets_are_literal():
    from workflow_runner.masking import Masker

    masker = Masker(["a.c", "(x|y)", ""])
    assert masker("abc a.c (x|y) x") == "abc *** *** x"
    assert not Masker(["", ""]) and Masker([""])("text") == "text"


def test_the_engine_masks_longest_first_even_when_a_secret_is_added_later():
    shared = Shared(reporter=None, targets=Targets(), options=None, local_slots=asyncio.Semaphore(1), secrets=["abc"])
    assert shared.mask("abcdef") == "***def"
    shared.secrets.append("abcdef")  # a called workflow's password
    assert shared.mask("abcdef") == "***"


def test_the_store_masks_longest_first(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    run = store.new_run(workflow="w", file="w.yaml", argv=["--set", "p=abcdef"], inputs_masked={"note": "abcdef"},
                        secret_paths=[], secrets=["abc", "abcdef"])
    row = store.get_run(run)
    store.close()
    assert row.argv == ["--set", "p=***"] and row.inputs == {"note": "***"}


def test_a_run_masks_longest_first_in_its_output_and_logs(wfrun, write):
    wf = write("w.yaml", """
on:
  execute:
    inputs:
      short: {type: password}
      long: {type: password}
jobs:
  j:
    steps:
      - run: echo "long=${{ inputs.long }}"; echo "out=${{ inputs.long }}" >> $OUTPUTS
""")
    r = wfrun(wf, "--no-live", "--set", "short=Tok3n", "--set", "long=Tok3nXYZW")
    assert r.code == 0, r.err
    assert "long=***" in r.out and "XYZW" not in r.out
    log = next(wfrun.home.glob("jobs/w/*/logs/j/*.log")).read_text()
    assert "long=***" in log and "XYZW" not in log
    run_json = next(wfrun.home.glob("jobs/w/*/run.json")).read_text()
    assert "XYZW" not in run_json and "Tok3n" not in run_json
    assert "XYZW" not in json.dumps(json.loads(wfrun("status", "1", "--json").out))


SECRET = 'it\'s "q" \\ é\nline two'
APOSTROPHE = "it's é"  # repr() writes it in double quotes, unescaped; inside a text with both quotes escaped


@pytest.mark.parametrize("secret, form", [
    (SECRET, json.dumps(SECRET)[1:-1]),                      # toJSON, json.dumps of matrix values
    (SECRET, json.dumps(SECRET, ensure_ascii=False)[1:-1]),
    (SECRET, repr(SECRET)[1:-1]),                            # an error message quoting the value
    (APOSTROPHE, repr(APOSTROPHE + '"')[1:-2]),              # … in a text that made repr() escape the quote
    (SECRET, __import__("shlex").quote(SECRET)),             # job_runner's q filter
    (SECRET, "line two"),                                    # one line of output
])
def test_the_forms_wfrun_makes_of_a_secret_are_masked(secret, form):
    from workflow_runner.masking import Masker

    assert form != secret
    assert Masker([secret])(f"<{form}>") == "<***>"


def test_short_lines_of_a_multi_line_secret_are_not_masks_of_their_own():
    from workflow_runner.masking import Masker

    masker = Masker(["ab\n  \nxyz\n}\n"])
    assert masker("ab  } xyz") == "ab  } ***"
    assert masker("ab\n  \nxyz\n}\n") == "***"


def test_a_matrix_instance_with_a_secret_value_is_named_masked_and_numbered():
    from workflow_runner.graph import JobInstance
    from workflow_runner.model import Job

    job = Job(name="deploy", steps=(), needs=(), if_=None, ssh=None, working_directory=None, env={}, outputs=None,
              strategy=None, timeout=None, resources=None, path=("jobs", "deploy"), loc=None)
    secret = "x" * 40 + "tail"  # longer than a shown value: masked before it is cut, or its head would show
    plain = JobInstance(job, {"os": "linux", "n": 3}, 0, (secret,))
    assert plain.key == "deploy (linux, 3)"
    hidden = [JobInstance(job, {"os": "linux", "pw": value}, i, (secret,)) for i, value in enumerate([secret, {"k": secret}])]
    assert [i.key for i in hidden] == ["deploy (linux, ***) #1", 'deploy (linux, {"k": "***"}) #2']
