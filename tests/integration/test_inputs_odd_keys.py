"""An inputs file whose keys are no input paths ('' , 'a..b') is an unknown input (exit 2), not a traceback.

Found by the fuzz of ``wfrun serve`` (POST /api/workflows/resolve with ``{"": null}``).
"""

from __future__ import annotations

import json

import pytest

WF = """\
'on':
  execute:
    inputs:
      name: {type: string, default: x}
jobs:
  a:
    steps:
      - run: echo ${{ inputs.name }}
"""


@pytest.mark.parametrize("key", ["", "a..b", "[0]"])
def test_odd_input_keys_are_unknown_inputs(wfrun, write, tmp_path, key):
    wf = write("wf.yaml", WF)
    values = tmp_path / "values.json"
    values.write_text(json.dumps({key: None}))
    r = wfrun("inputs", wf, "--inputs", values)
    assert r.code == 2
    assert r.err == f"wfrun: {values}: unknown input '{key}'\n"
