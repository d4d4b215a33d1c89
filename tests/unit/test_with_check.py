"""A ``uses:`` step's ``with:`` is checked against the called action's input tree (unknown keys, literal types)."""

from __future__ import annotations

import textwrap

from workflow_runner.validate import check

JOB_RUNNER = """\
on:
  execute:
    inputs:
      cluster:
        type: compute-clusters
      part:
        type: string
        default: long
jobs:
  main:
    steps:
      - name: submit
        uses: marketplace/job_runner/v4.0
        with:
          resource: ${{ inputs.cluster }}
          script: echo hi
"""


def _errors(tmp_path, text: str, name: str = "wf.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    _, report = check(path)
    return [str(e) for e in report.errors]


def test_nested_typo_is_an_error_at_its_line_with_did_you_mean(tmp_path, wfrun):
    path = tmp_path / "wf.yaml"
    path.write_text(JOB_RUNNER + "          slurm:\n            partiton: long\n")
    result = wfrun("validate", "--strict", path)
    assert result.code == 2, result.err
    assert f"{path}:18:13: 'marketplace/job_runner/v4.0' has no input 'slurm.partiton' (did you mean 'partition'?)" in result.err
    run = wfrun("run", path)
    assert run.code == 2 and "did you mean 'partition'" in run.err
    assert not (wfrun.home / "jobs").exists() or not any((wfrun.home / "jobs").rglob("events.jsonl"))


def test_top_level_typo_is_an_error_not_a_warning(tmp_path):
    errors = _errors(tmp_path, JOB_RUNNER.replace("script: echo hi", "scirpt: echo hi"))
    assert errors == [f"{tmp_path / 'wf.yaml'}:16:11: 'marketplace/job_runner/v4.0' has no input 'scirpt' (did you mean 'script'?)"]


def test_literal_of_the_wrong_type_is_an_error(tmp_path):
    text = JOB_RUNNER + "          poll_interval: fast\n          inject_markers: maybe\n          slurm: long\n"
    errors = _errors(tmp_path, text)
    file = tmp_path / "wf.yaml"
    assert f"{file}:17:26: 'marketplace/job_runner/v4.0': input 'poll_interval' must be a number, got 'fast'" in errors
    assert f"{file}:18:27: 'marketplace/job_runner/v4.0': input 'inject_markers' must be true or false, got 'maybe'" in errors
    assert any(e.startswith(f"{file}:19:18: ") and "input 'slurm' is a group" in e for e in errors), errors
    assert len(errors) == 3, errors


def test_expressions_and_right_literals_pass(tmp_path):
    text = JOB_RUNNER + textwrap.indent(textwrap.dedent("""\
        poll_interval: 5
        inject_markers: "true"
        slurm:
          partition: ${{ inputs.part }}
          nodes: ${{ inputs.part }}
          time: "01:00:00"
        pbs: ${{ inputs.part }}
    """), " " * 10)
    assert _errors(tmp_path, text) == []


def test_sub_workflow_groups_and_list_rows(tmp_path):
    (tmp_path / "callee.yaml").write_text(textwrap.dedent("""\
        on:
          execute:
            inputs:
              opts:
                type: group
                items:
                  level:
                    type: dropdown
                    default: low
                    options: [low, high]
              rows:
                type: list
                template:
                  name: {type: string}
                  size: {type: number}
        jobs:
          a:
            steps:
              - run: echo ${{ inputs.opts.level }}
    """))
    errors = _errors(tmp_path, """\
        jobs:
          call:
            steps:
              - uses: workflow/callee
                with:
                  opts:
                    levle: high
                  rows:
                    - name: a
                      size: big
                    - nmae: b
    """)
    file = tmp_path / "wf.yaml"
    assert f"{file}:7:13: 'workflow/callee' has no input 'opts.levle' (did you mean 'level'?)" in errors
    assert f"{file}:10:21: 'workflow/callee': input 'rows.0.size' must be a number, got 'big'" in errors
    assert f"{file}:11:15: 'workflow/callee' has no input 'rows.1.nmae' (did you mean 'name'?)" in errors
    assert len(errors) == 3, errors


def test_dropdown_literal_outside_its_options(tmp_path):
    (tmp_path / "callee.yaml").write_text(textwrap.dedent("""\
        on:
          execute:
            inputs:
              level: {type: dropdown, default: low, options: [low, high]}
        jobs:
          a:
            steps:
              - run: echo ${{ inputs.level }}
    """))
    errors = _errors(tmp_path, "jobs:\n  c:\n    steps:\n      - uses: workflow/callee\n        with:\n          level: hihg\n")
    assert len(errors) == 1 and errors[0].startswith(f"{tmp_path / 'wf.yaml'}:6:18: 'workflow/callee': input 'level' must be one of")
    assert "did you mean 'high'" in errors[0]


def test_a_key_the_callee_reads_without_declaring_passes_through(tmp_path, wfrun):
    (tmp_path / "callee.yaml").write_text(textwrap.dedent("""\
        on:
          execute:
            inputs:
              who: {type: string, default: x}
        jobs:
          a:
            steps:
              - run: echo "extra=${{ inputs.extra }} who=${{ inputs.who }}"
    """))
    main = tmp_path / "wf.yaml"
    main.write_text("jobs:\n  c:\n    steps:\n      - uses: workflow/callee\n        with:\n          extra: 5\n          who: me\n")
    assert _errors(tmp_path, main.read_text()) == []
    result = wfrun("run", "--no-live", main)
    assert result.code == 0, result.err
    assert "extra=5 who=me" in result.out
