"""The inputs vocabulary of real platform files: attributes, picker types, dependent dropdowns, job early-cancel."""

from __future__ import annotations

import json
import time

import pytest

from workflow_runner.cli import main


@pytest.fixture
def cli(write, capsys, monkeypatch, tmp_path):
    """cli(workflow_text, *args, config=None) -> (code, out, err), in process with its own config and home."""
    monkeypatch.setenv("WFRUN_HOME", str(tmp_path / "home"))

    def run(text: str, *args: str, config: str | None = None):
        path = tmp_path / "config.yaml"
        if config is not None:
            path.write_text(config)
        monkeypatch.setenv("WFRUN_CONFIG", str(path if config is not None else tmp_path / "none.yaml"))
        wf = write("wf.yaml", text)
        code = main([args[0], str(wf), *args[1:]])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def inputs_file(body: str) -> str:
    indented = "\n".join("      " + line for line in body.strip("\n").splitlines())
    return f"'on':\n  execute:\n    inputs:\n{indented}\njobs:\n  a:\n    steps:\n      - run: 'true'\n"


DEPENDENT = inputs_file("""
resource:
  type: compute-clusters
node_type:
  type: dropdown
  optional: true
  default: ""
  option-key: ${{ inputs.resource.ip }}
  options:
    blueback.example.mil: [standard, bigmem]
    narwhal.example.mil:
      - {label: Standard, value: std}
""")
CLUSTERS = """\
clusters:
  blueback: {ip: blueback.example.mil, user: u, schedulerType: pbs}
  narwhal: {ip: narwhal.example.mil, user: u, schedulerType: pbs}
"""


def test_option_key_picks_the_choices_by_another_inputs_value(cli):
    code, out, err = cli(DEPENDENT, "inputs", "--set", "resource=blueback", "--set", "node_type=bigmem", config=CLUSTERS)
    assert code == 0, err
    assert json.loads(out)["node_type"] == "bigmem"
    code, out, err = cli(DEPENDENT, "inputs", "--set", "resource=narwhal", "--set", "node_type=std", config=CLUSTERS)
    assert code == 0, err
    assert json.loads(out)["node_type"] == "std"


def test_an_empty_optional_dependent_dropdown_is_fine(cli):
    code, out, err = cli(DEPENDENT, "inputs")  # local resource: no entry for its ip, default ""
    assert code == 0, err
    assert json.loads(out)["node_type"] == ""
    code, out, err = cli(DEPENDENT, "inputs", "--set", "resource=narwhal", config=CLUSTERS)
    assert code == 0, err


def test_a_value_outside_the_selected_choices_is_an_error(cli):
    code, _, err = cli(DEPENDENT, "inputs", "--set", "resource=narwhal", "--set", "node_type=bigmem", config=CLUSTERS)
    assert code == 2
    assert "--set: input 'node_type' must be one of 'std'; got 'bigmem'" in err
    code, _, err = cli(DEPENDENT, "inputs", "--set", "node_type=bigmem")
    assert code == 2
    assert "input 'node_type' has no choices here (its option-key selects none of its options); got 'bigmem'" in err


ATTRIBUTES = inputs_file("""
resource:
  type: compute-clusters
  include-workspace: true
  autoselect: true
  provider: [existing]
  default: workspace
settings:
  type: group
  collapsed: true
  items:
    walltime:
      type: string
      default: '01:00:00'
      prefillDefault: 'true'
      placeholder: HH:MM:SS
      description: Longer help
    notes:
      type: string
      textarea: true
      optional: true
    cores:
      type: number
      slider: true
      min: 1
      max: 8
      step: 1
      default: 2
""")


def test_ui_attributes_validate_and_do_not_change_values(cli):
    code, out, err = cli(ATTRIBUTES, "validate", "--strict")
    assert code == 0, err
    code, out, err = cli(ATTRIBUTES, "inputs")
    assert code == 0, err
    values = json.loads(out)
    assert values["resource"]["ip"] == "" and values["resource"]["name"] == "local"  # workspace = this machine
    assert values["settings"] == {"walltime": "01:00:00", "notes": None, "cores": 2}


def test_a_boolean_ui_flag_still_rejects_other_text(cli):
    code, _, err = cli(ATTRIBUTES.replace("prefillDefault: 'true'", "prefillDefault: 'yes please'"), "validate")
    assert code == 2
    assert "prefillDefault' has an invalid value 'yes please'" in err


PICKERS = inputs_file("""
k8s:
  type: group
  items:
    cluster:
      type: kubernetes-clusters
    namespace:
      type: kubernetes-namespaces
      clusterName: ${{ inputs.k8s.cluster }}
      autoselect: true
    pvc:
      type: kubernetes-pvc
      clusterName: ${{ inputs.k8s.cluster }}
      namespace: ${{ inputs.k8s.namespace }}
      optional: true
groups:
  type: organization-groups
  optional: true
bucket:
  type: bucket
  optional: true
scratch:
  type: storage
  optional: true
""")


def test_picker_types_take_values_from_the_command_line(cli):
    code, out, err = cli(PICKERS, "inputs", "--set", "k8s.cluster=prod", "--set", "k8s.namespace=ml", "--set", "bucket=s3://b")
    assert code == 0, err
    values = json.loads(out)
    assert values["k8s"] == {"cluster": "prod", "namespace": "ml", "pvc": None}
    assert values["bucket"] == "s3://b"


def test_a_missing_picker_value_names_the_config_section(cli):
    code, _, err = cli(PICKERS, "inputs")
    assert code == 2
    assert ("input 'k8s.cluster' (kubernetes-clusters) is required but has no value: set it in --inputs FILE or with "
            "--set k8s.cluster=NAME, or name it in a 'kubernetes-clusters:' section of the wfrun config") in err
    assert "'k8s.namespace' (kubernetes-namespaces) is required" in err


CONFIG = """\
kubernetes-clusters: [prod]
kubernetes-namespaces: [default, ml]
bucket:
  results: s3://my-results
organization-groups: [team-a, team-b]
"""


def test_picker_values_from_the_user_config(cli):
    code, out, err = cli(PICKERS, "inputs", "--set", "bucket=results", "--set", "groups=team-b", config=CONFIG)
    assert code == 0, err
    values = json.loads(out)
    assert values["k8s"]["cluster"] == "prod"  # the only entry
    assert values["k8s"]["namespace"] == "default"  # autoselect: the first
    assert values["bucket"] == "s3://my-results"  # a map entry's value
    code, out, err = cli(PICKERS, "inputs", config=CONFIG)
    assert code == 0, err
    assert json.loads(out)["bucket"] == "s3://my-results"  # the only entry, by its name
    assert values["groups"] == "team-b"


def test_a_name_missing_from_the_config_section_is_an_error(cli):
    code, _, err = cli(PICKERS, "inputs", "--set", "groups=team-aa", config=CONFIG)
    assert code == 2
    assert ("input 'groups' names unknown organization-groups 'team-aa' (did you mean 'team-a'?) "
            "(known under 'organization-groups:' in the wfrun config: team-a, team-b)") in err


def test_a_bad_config_section_is_an_error(cli):
    code, _, err = cli(PICKERS, "inputs", config="bucket: just-one\n")
    assert code == 2
    assert "'bucket' must be a list of names or a mapping of names to values" in err


JOB_EARLY_CANCEL = """\
jobs:
  service:
    early-cancel: any-job-failed
    steps:
      - name: start
        run: 'true'
      - name: serve
        run: sleep 30
      - name: own
        early-cancel: ${{ false }}
        if: ${{ always }}
        run: echo own
  work:
    steps: [{run: sleep 0.5; exit 2}]
"""


def test_job_level_early_cancel_applies_to_each_step(wfrun, write):
    path = write("wf.yaml", JOB_EARLY_CANCEL)
    assert wfrun("validate", "--strict", path).code == 0
    t0 = time.monotonic()
    result = wfrun("run", path, "--grace", "2")
    assert time.monotonic() - t0 < 20
    assert result.code == 1
    steps = {s["name"]: s["status"] for s in result.job("service")["steps"]}
    assert steps == {"start": "completed", "serve": "canceled", "own": "completed"}
    assert result.job("service")["status"] == "canceled"


def test_a_job_early_cancel_value_is_checked(wfrun, write):
    path = write("wf.yaml", JOB_EARLY_CANCEL.replace("early-cancel: any-job-failed", "early-cancel: sometimes"))
    result = wfrun("validate", path)
    assert result.code == 2
    assert f"{path}:3:19: 'jobs.service.early-cancel' must be one of: any-job-failed; got 'sometimes'" in result.err
