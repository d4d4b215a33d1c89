"""Input resolution (DESIGN.md §4): defaults, coercion, errors with their source, expressions, visibility.

Pure and fast: every workflow is a small YAML file written to tmp_path and loaded
with ``validate.load_workflow``; values arrive as ``inputs.Sources`` layers named
like the CLI names them (``--config NAME``, the inputs file path, ``--set``).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from workflow_runner import inputs, validate
from workflow_runner.errors import ErrorGroup, ExpressionError, InputError, WorkflowError

ROOT = Path(__file__).resolve().parents[2]
JOB_RUNNER_V4 = ROOT / "marketplace" / "job_runner" / "v4.0.yaml"

HEAD = """\
name: t
jobs:
  a:
    steps:
      - run: echo
'on':
  execute:
    inputs:
"""
FIRST_INPUT_LINE = HEAD.count("\n") + 1  # the first input definition's line (its key is at column 7)

LOCAL = inputs.local_resource()
BLANK_RESOURCE = {k: "" for k in ("id", "ip", "name", "namespace", "user", "type", "provider", "schedulerType", "uri")}


@pytest.fixture
def make(tmp_path):
    """make(inputs_yaml) -> (Workflow, path): the YAML is the body of on.execute.inputs."""
    count = [0]

    def _make(body: str):
        count[0] += 1
        path = tmp_path / f"wf{count[0]}.yaml"
        path.write_text(HEAD + textwrap.indent(textwrap.dedent(body), " " * 6))
        return validate.load_workflow(path), path

    return _make


def resolve(wf, *layers, clusters=None, strict=True):
    return inputs.resolve(wf, inputs.Sources(list(layers)), clusters=clusters, strict=strict)


def sets(*items: str) -> tuple[str, dict]:
    return ("--set", inputs.parse_set(list(items)))


def one_error(excinfo) -> WorkflowError:
    """The single error raised (not an ErrorGroup: a bad value is reported once)."""
    err = excinfo.value
    assert not isinstance(err, ErrorGroup), f"expected one error, got:\n{err}"
    return err


# ---------------------------------------------------------------- defaults


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("{type: string, default: hi}", "hi"),
        ("{type: string, default: 12}", "12"),
        ("{type: editor, default: \"line1\\nline2\\n\"}", "line1\nline2\n"),
        ("{type: number, default: 3}", 3),
        ("{type: number, default: 2.5}", 2.5),
        ("{type: number, default: '7'}", 7),
        ("{type: number, default: 4.0}", 4),
        ("{type: integer, default: 2}", 2),
        ("{type: boolean, default: true}", True),
        ("{type: boolean, default: false}", False),
        ("{type: boolean}", False),
        ("{type: dropdown, default: b, options: [a, b]}", "b"),
        ("{type: dropdown, default: all, options: [{label: Only, value: vllm}, {label: All, value: all}]}", "all"),
        ("{type: dropdown, option-key: id, default: k2, options: {one: {id: k1}, two: {id: k2}}}", "k2"),
        ("{type: dropdown, default: 2, options: [1, 2, 3]}", 2),
        ("{type: multi-dropdown, default: [a, c], options: [a, b, c]}", ["a", "c"]),
        ("{type: list, template: {x: {type: number}}}", []),
        ("{type: list, default: [{x: 1}], template: {x: {type: number}, y: {type: string, default: z}}}",
         [{"x": 1, "y": "z"}]),
        ("{type: list, default: ['1', 2], template: {type: integer}}", [1, 2]),
        ("{type: password, default: hunter22}", "hunter22"),
        ("{type: string, optional: true}", None),
        ("{type: slurm-partitions, optional: true}", None),
        ("{type: compute-clusters}", LOCAL),
        ("{type: compute-resources}", LOCAL),
    ],
)
def test_default_of_each_type(make, spec, expected):
    wf, _ = make(f"x: {spec}\n")
    assert resolve(wf).values == {"x": expected}


def test_header_has_no_value(make):
    wf, _ = make("h: {type: header, label: Section}\nx: {type: string, default: v}\n")
    assert resolve(wf).values == {"x": "v"}


def test_local_resource_is_the_embedded_default():
    local = inputs.local_resource()
    assert local["ip"] == "" and local["schedulerType"] == "" and local["type"] == "local"
    assert set(local) == set(BLANK_RESOURCE)


# ---------------------------------------------------------------- coercion from --set


DROPDOWN = "{type: dropdown, options: [a, b]}"
LABELLED = "{type: dropdown, options: [{label: Only vLLM, value: vllm}, {label: Everything, value: all}]}"
KEYED = "{type: dropdown, option-key: id, options: {first: {id: k1}, second: {id: k2}}}"
NUMERIC = "{type: dropdown, options: [1, 2, 3]}"
MULTI = "{type: multi-dropdown, options: [a, b, c]}"
GROUPS = "{type: list, template: {x: {type: number}, y: {type: string, default: z}}}"
INTS = "{type: list, template: {type: integer}}"


@pytest.mark.parametrize(
    "spec, item, expected",
    [
        ("{type: number}", "x=1.5", 1.5),
        ("{type: number}", "x=2", 2),
        ("{type: number}", "x=1e3", 1000),
        ("{type: number}", 'x="7"', 7),
        ("{type: number}", "x= 8 ", 8),
        ("{type: number}", "x=-3", -3),
        ("{type: integer}", "x=3.0", 3),
        ("{type: integer}", "x=010", 10),
        ("{type: integer}", 'x="08"', 8),
        ("{type: boolean}", "x=true", True),
        ("{type: boolean}", "x=false", False),
        ("{type: boolean}", "x=yes", True),
        ("{type: boolean}", "x=Off", False),
        ("{type: boolean}", "x=1", True),
        ("{type: boolean}", "x=0", False),
        ("{type: boolean}", 'x="true"', True),
        ("{type: string}", "x=123", "123"),
        ("{type: string}", "x=1.5", "1.5"),
        ("{type: string}", "x=true", "true"),
        ("{type: string}", "x=a=b", "a=b"),
        ("{type: string}", "x=", ""),
        ("{type: string}", 'x="quoted"', "quoted"),
        ("{type: editor}", "x=echo hi", "echo hi"),
        ("{type: slurm-partitions}", "x=debug", "debug"),
        (DROPDOWN, "x=a", "a"),
        (LABELLED, "x=all", "all"),
        (KEYED, "x=k1", "k1"),
        (NUMERIC, "x=2", 2),
        (NUMERIC, 'x="3"', 3),
        (MULTI, "x=a,c", ["a", "c"]),
        (MULTI, "x= b , a ", ["b", "a"]),
        (MULTI, 'x=["c"]', ["c"]),
        (MULTI, 'x="[\\"a\\", \\"b\\"]"', ["a", "b"]),
        (MULTI, "x=[]", []),
        (GROUPS, 'x=[{"x": "2"}, {"x": 3, "y": "w"}]', [{"x": 2, "y": "z"}, {"x": 3, "y": "w"}]),
        (GROUPS, 'x="[{\\"x\\": 1}]"', [{"x": 1, "y": "z"}]),
        (INTS, 'x=[1, "2"]', [1, 2]),
        ("{type: compute-clusters}", "x=localhost", LOCAL),
        ("{type: compute-clusters}", "x=local", LOCAL),
        ("{type: compute-clusters}", 'x=""', LOCAL),
        ("{type: compute-clusters}", 'x={"ip": "h", "schedulerType": "slurm"}',
         {**BLANK_RESOURCE, "ip": "h", "schedulerType": "slurm"}),
        ("{type: compute-clusters}", 'x={"ip": "h", "user": "u", "port": 2222}',
         {**BLANK_RESOURCE, "ip": "h", "user": "u", "port": 2222}),
        ("{type: password}", "x=s3cret", "s3cret"),
    ],
)
def test_coercion_from_set(make, spec, item, expected):
    wf, _ = make(f"x: {spec}\n")
    assert resolve(wf, sets(item)).values == {"x": expected}


def test_coercion_from_an_inputs_file_keeps_json_types(make, tmp_path):
    wf, _ = make(f"n: {{type: number}}\nb: {{type: boolean}}\nm: {MULTI}\nl: {GROUPS}\n")
    file = tmp_path / "in.json"
    file.write_text(json.dumps({"n": "4.5", "b": "no", "m": '["b"]', "l": '[{"x": "1"}]'}))
    values = resolve(wf, (str(file), inputs.load_values_file(str(file)))).values
    assert values == {"n": 4.5, "b": False, "m": ["b"], "l": [{"x": 1, "y": "z"}]}


def test_compute_clusters_missing_is_the_local_resource(make):
    wf, _ = make("resource: {type: compute-clusters, optional: false}\n")
    values = resolve(wf).values
    assert values["resource"] == LOCAL
    assert values["resource"]["ip"] == ""


def test_compute_clusters_named_cluster_expands_from_clusters(make):
    wf, _ = make("resource: {type: compute-clusters}\n")
    clusters = {"mycluster": {"ip": "login.example.org", "user": "alice", "schedulerType": "slurm", "port": 2222,
                              "identity_file": "~/.ssh/id_x"}}
    values = resolve(wf, sets("resource=mycluster"), clusters=clusters).values
    assert values["resource"] == {
        **BLANK_RESOURCE, "name": "mycluster", "ip": "login.example.org", "user": "alice",
        "schedulerType": "slurm", "port": 2222, "identity_file": "~/.ssh/id_x",
    }


def test_compute_clusters_named_cluster_may_override_its_name(make):
    wf, _ = make("resource: {type: compute-clusters}\n")
    values = resolve(wf, sets("resource=c1"), clusters={"c1": {"ip": "h", "name": "Cluster One"}}).values
    assert values["resource"]["name"] == "Cluster One"


def test_compute_clusters_localhost_wins_over_a_cluster_of_that_name(make):
    wf, _ = make("resource: {type: compute-clusters}\n")
    values = resolve(wf, sets("resource=localhost"), clusters={"localhost": {"ip": "elsewhere"}}).values
    assert values["resource"] == LOCAL


# ---------------------------------------------------------------- passwords


def test_password_is_collected_in_secrets_and_masked(make):
    wf, _ = make("token: {type: password}\nname: {type: string}\n")
    resolved = resolve(wf, sets("token=topsecret", "name=x-topsecret-y"))
    assert resolved.values == {"token": "topsecret", "name": "x-topsecret-y"}
    assert resolved.secrets == ["topsecret"]
    assert resolved.masked() == {"token": "***", "name": "x-***-y"}
    assert resolved.values["token"] == "topsecret"  # masking copies


def test_password_default_is_a_secret_collected_once(make):
    # defaults over other inputs take several passes; the secret is still listed once
    wf, _ = make("a: {type: integer, default: 1}\nb: {type: integer, default: '${{ inputs.a + 1 }}'}\n"
                 "pw: {type: password, default: hunter22}\n")
    resolved = resolve(wf)
    assert resolved.secrets == ["hunter22"]


def test_password_inside_a_group_and_a_list_is_masked(make):
    wf, _ = make("""\
        g:
          type: group
          items:
            tok: {type: password}
        creds:
          type: list
          template:
            user: {type: string}
            key: {type: password}
        """)
    resolved = resolve(wf, sets("g.tok=abcd1234", 'creds=[{"user": "u", "key": "k3y-value"}]'))
    assert sorted(resolved.secrets) == ["abcd1234", "k3y-value"]
    assert resolved.masked() == {"g": {"tok": "***"}, "creds": [{"user": "u", "key": "***"}]}


def test_empty_password_is_not_a_secret(make):
    wf, _ = make("pw: {type: password}\n")
    resolved = resolve(wf, sets('pw=""'))
    assert resolved.values == {"pw": ""}
    assert resolved.secrets == []
    assert resolved.masked() == {"pw": ""}


def test_mask_helper():
    assert inputs.mask({"a": ["xsecretx", 1, None]}, ["secret"]) == {"a": ["x***x", 1, None]}
    assert inputs.mask("secret", []) == "secret"


# ---------------------------------------------------------------- errors: value, source, message


@pytest.mark.parametrize(
    "spec, value, message",
    [
        ("{type: number}", "abc", "must be a number, got 'abc'"),
        ("{type: number}", True, "must be a number, got boolean true"),
        ("{type: number}", [1], "must be a number, got a list"),
        ("{type: integer}", 1.5, "must be an integer, got number 1.5"),
        ("{type: integer}", "0x10", "must be an integer, got '0x10'"),
        ("{type: integer, min: 1}", 0, "must be at least 1, got 0"),
        ("{type: number, max: 2.5}", 3, "must be at most 2.5, got 3"),
        ("{type: integer, min: 1, max: 64}", "65", "must be at most 64, got 65"),
        ("{type: boolean}", "maybe", "must be true or false, got 'maybe'"),
        ("{type: boolean}", 2, "must be true or false, got number 2"),
        ("{type: string}", {"a": 1}, "must be text, got a mapping"),
        ("{type: string}", ["a"], "must be text, got a list"),
        (DROPDOWN, "q", "must be one of 'a', 'b'; got 'q'"),
        ("{type: dropdown, options: [alpha, beta]}", "alpah", "must be one of 'alpha', 'beta'; got 'alpah' (did you mean 'alpha'?)"),
        (LABELLED, "Everything", "must be one of 'vllm', 'all'; got 'Everything'"),
        (KEYED, "first", "must be one of 'k1', 'k2'; got 'first'"),
        (NUMERIC, 4, "must be one of 1, 2, 3; got number 4"),
        (MULTI, "a,q", "must be one of 'a', 'b', 'c'; got 'q'"),
        (MULTI, 5, "must be a list of choices, got number 5"),
        (MULTI, "[a", "must be a list of choices, got '[a'"),
        (GROUPS, "notjson", "must be a list, got 'notjson'"),
        (GROUPS, {"x": 1}, "must be a list, got a mapping"),
        ("{type: compute-clusters}", 5, "must be a resource mapping (ip, user, schedulerType, ...) or a cluster name, got number 5"),
        ("{type: compute-clusters}", {"ip": "h", "schedulerType": "lsf"}, "has schedulerType 'lsf'; expected 'slurm', 'pbs' or ''"),
        ("{type: compute-clusters}", "mycluter",
         "names unknown cluster 'mycluter' (did you mean 'mycluster'?) (define it under 'clusters:' in the wfrun config)"),
        ("{type: group, items: {y: {type: string}}}", 5, "must be a mapping of its items, got number 5"),
    ],
)
@pytest.mark.parametrize("source", ["--set", "inputs.json", "--config big"])
def test_bad_value_names_input_and_source(make, spec, value, message, source):
    wf, _ = make(f"x: {spec}\n")
    with pytest.raises(InputError) as excinfo:
        resolve(wf, (source, {"x": value}), clusters={"mycluster": {"ip": "h"}})
    err = one_error(excinfo)
    assert str(err) == f"{source}: input 'x' {message}"
    assert str(err.location) == source


def test_error_names_the_layer_that_set_the_value(make, tmp_path):
    wf, _ = make("a: {type: integer}\nb: {type: integer}\n")
    with pytest.raises(ErrorGroup) as excinfo:
        resolve(wf, ("--config big", {"a": "x", "b": 1}), ("in.yaml", {"b": "y"}))
    assert [str(e) for e in excinfo.value.errors] == [
        "--config big: input 'a' must be an integer, got 'x'",
        "in.yaml: input 'b' must be an integer, got 'y'",
    ]


def test_error_inside_group_and_list_names_the_full_path_and_source(make):
    wf, _ = make(f"""\
        g:
          type: group
          items:
            inner:
              type: group
              items:
                n: {{type: number, max: 3, default: 1}}
        l: {GROUPS}
        """)
    with pytest.raises(InputError) as excinfo:
        resolve(wf, sets("g.inner.n=5"))
    assert str(one_error(excinfo)) == "--set: input 'g.inner.n' must be at most 3, got 5"
    with pytest.raises(InputError) as excinfo:
        resolve(wf, ("in.json", {"l": [{"x": 1}, {"x": "abc"}]}))
    assert str(one_error(excinfo)) == "in.json: input 'l.1.x' must be a number, got 'abc'"


def test_several_bad_values_are_reported_together(make):
    wf, _ = make("a: {type: integer}\nb: {type: boolean}\nc: {type: string}\n")
    with pytest.raises(ErrorGroup) as excinfo:
        resolve(wf, sets("a=x", "b=maybe"))
    path = wf.path
    assert [str(e) for e in excinfo.value.errors] == [
        "--set: input 'a' must be an integer, got 'x'",
        "--set: input 'b' must be true or false, got 'maybe'",
        f"{path}:{FIRST_INPUT_LINE + 2}:7: input 'c' is required but has no value "
        "(set it in --inputs FILE or with --set c=VALUE)",
    ]


def test_bad_default_points_at_the_default(make):
    wf, path = make("i:\n  type: integer\n  max: 5\n  default: 9\n")
    with pytest.raises(InputError) as excinfo:
        resolve(wf)
    err = one_error(excinfo)
    assert err.message == "default of input 'i' must be at most 5, got 9"
    assert str(err.location) == f"{path}:{FIRST_INPUT_LINE + 3}:18"


def test_bad_default_is_fine_when_the_user_overrides_it(make):
    wf, _ = make("i: {type: integer, max: 5, default: 9}\n")
    assert resolve(wf, sets("i=4")).values == {"i": 4}


def test_range_limits_may_be_expressions(make):
    wf, _ = make("lim: {type: integer, default: 3}\nv: {type: integer, default: 1, max: '${{ inputs.lim }}'}\n")
    assert resolve(wf, sets("v=3")).values == {"lim": 3, "v": 3}
    with pytest.raises(InputError) as excinfo:
        resolve(wf, sets("v=4"))
    assert str(one_error(excinfo)) == "--set: input 'v' must be at most 3, got 4"
    assert resolve(wf, sets("v=9", "lim=10")).values == {"lim": 10, "v": 9}


# ---------------------------------------------------------------- missing required values


def test_missing_required_points_at_the_definition(make):
    wf, path = make("name: {type: string, label: Name}\n")
    with pytest.raises(InputError) as excinfo:
        resolve(wf)
    err = one_error(excinfo)
    assert err.message == "input 'name' is required but has no value (set it in --inputs FILE or with --set name=VALUE)"
    assert str(err.location) == f"{path}:{FIRST_INPUT_LINE}:7"


def test_missing_required_inside_a_group_points_at_the_item(make):
    wf, path = make("""\
        g:
          type: group
          items:
            first: {type: string, default: ok}
            z: {type: number}
        """)
    with pytest.raises(InputError) as excinfo:
        resolve(wf)
    err = one_error(excinfo)
    assert err.message == "input 'g.z' is required but has no value (set it in --inputs FILE or with --set g.z=VALUE)"
    assert str(err.location) == f"{path}:{FIRST_INPUT_LINE + 4}:11"


@pytest.mark.parametrize(
    "spec",
    [
        "{type: string, optional: true}",
        "{type: string, hidden: true}",
        "{type: string, optional: '${{ inputs.flag }}'}",
        "{type: string, hidden: '${{ inputs.flag == true }}'}",
    ],
)
def test_optional_or_hidden_input_may_stay_empty(make, spec):
    wf, _ = make(f"flag: {{type: boolean, default: true}}\nx: {spec}\n")
    assert resolve(wf).values == {"flag": True, "x": None}


def test_optional_expression_that_is_false_makes_it_required(make):
    wf, _ = make("flag: {type: boolean, default: false}\nx: {type: string, optional: '${{ inputs.flag }}'}\n")
    with pytest.raises(InputError, match="input 'x' is required"):
        resolve(wf)


def test_strict_false_skips_the_required_check(make):
    wf, _ = make("name: {type: string}\nn: {type: number}\n")
    resolved = resolve(wf, strict=False)
    assert resolved.values == {"name": None, "n": None}


def test_strict_false_still_rejects_bad_values(make):
    wf, _ = make("n: {type: number}\n")
    with pytest.raises(InputError, match=r"^--set: input 'n' must be a number, got 'x'$"):
        resolve(wf, sets("n=x"), strict=False)


def test_set_null_counts_as_missing(make):
    wf, _ = make("name: {type: string, default: d}\n")
    with pytest.raises(InputError, match="input 'name' is required"):
        resolve(wf, sets("name=null"))


# ---------------------------------------------------------------- expressions over other inputs


SCHED = """\
resource: {type: compute-clusters}
scheduler: {type: boolean, default: false}
off:
  type: boolean
  default: ${{ inputs.resource.schedulerType != 'slurm' || inputs.scheduler == false }}
"""


@pytest.mark.parametrize(
    "layer, expected",
    [
        ({}, True),
        ({"resource": {"ip": "h", "schedulerType": "slurm"}}, True),
        ({"resource": {"ip": "h", "schedulerType": "pbs"}, "scheduler": True}, True),
        ({"scheduler": True}, True),
        ({"resource": {"ip": "h", "schedulerType": "slurm"}, "scheduler": True}, False),
        ({"resource": {"ip": "h", "schedulerType": "slurm"}, "scheduler": "true"}, False),
    ],
)
def test_expression_default_over_other_inputs(make, layer, expected):
    wf, _ = make(SCHED)
    assert resolve(wf, ("--set", layer)).values["off"] is expected


def test_expression_default_is_overridden_by_the_user(make):
    wf, _ = make(SCHED)
    assert resolve(wf, sets("off=false")).values["off"] is False


@pytest.mark.parametrize(
    "body",
    [
        "a: {type: integer, default: 1}\n"
        "b: {type: integer, default: '${{ inputs.a + 1 }}'}\n"
        "c: {type: integer, default: '${{ inputs.b * 10 }}'}\n",
        # defined in reverse: only a fixed point gets c right
        "c: {type: integer, default: '${{ inputs.b * 10 }}'}\n"
        "b: {type: integer, default: '${{ inputs.a + 1 }}'}\n"
        "a: {type: integer, default: 1}\n",
    ],
    ids=["in-order", "reversed"],
)
@pytest.mark.parametrize(
    "items, expected",
    [
        ((), {"a": 1, "b": 2, "c": 20}),
        (("a=5",), {"a": 5, "b": 6, "c": 60}),
        (("b=0",), {"a": 1, "b": 0, "c": 0}),
        (("a=5", "c=2"), {"a": 5, "b": 6, "c": 2}),
    ],
)
def test_chained_defaults_reach_a_fixed_point(make, body, items, expected):
    wf, _ = make(body)
    assert resolve(wf, sets(*items)).values == expected


def test_expression_default_reads_a_group_item(make):
    wf, _ = make("""\
        g:
          type: group
          items:
            n: {type: integer, default: 2}
        twice: {type: integer, default: '${{ inputs.g.n * 2 }}'}
        label: {type: string, default: 'n=${{ inputs.g.n }}'}
        """)
    assert resolve(wf, sets("g.n=21")).values == {"g": {"n": 21}, "twice": 42, "label": "n=21"}


def test_expression_default_that_fails_is_an_expression_error(make):
    wf, _ = make("x:\n  type: number\n  default: ${{ fromJSON('{bad') }}\n")
    with pytest.raises(ExpressionError) as excinfo:
        resolve(wf)
    err = one_error(excinfo)  # and not also "input 'x' is required"
    assert err.message.startswith("fromJSON: invalid JSON")
    assert str(err.location).startswith(f"{wf.path}:{FIRST_INPUT_LINE + 2}:")


# ---------------------------------------------------------------- hidden / ignore / groups


def test_ignore_dot_hidden_removes_the_input(make):
    wf, _ = make("""\
        use_existing: {type: boolean, default: false}
        script:
          type: editor
          default: echo hi
          hidden: ${{ inputs.use_existing == true }}
          ignore: ${{ .hidden }}
        script_path:
          type: string
          hidden: ${{ inputs.use_existing == false }}
          ignore: ${{ .hidden }}
        """)
    resolved = resolve(wf)
    assert resolved.values == {"use_existing": False, "script": "echo hi"}
    assert resolved.ignored == ["script_path"]
    assert resolved.hidden == []  # ignored inputs are not listed as hidden
    resolved = resolve(wf, sets("use_existing=true", "script_path=/x.sh"))
    assert resolved.values == {"use_existing": True, "script_path": "/x.sh"}
    assert resolved.ignored == ["script"]


def test_ignored_required_input_is_not_required(make):
    wf, _ = make("off: {type: boolean, default: true}\nx: {type: string, ignore: '${{ inputs.off }}'}\n")
    assert resolve(wf).values == {"off": True}
    with pytest.raises(InputError, match="input 'x' is required"):
        resolve(wf, sets("off=false"))


def test_hidden_input_keeps_its_value(make):
    wf, _ = make("port: {type: number, default: 15, hidden: true}\n")
    resolved = resolve(wf)
    assert resolved.values == {"port": 15}
    assert resolved.hidden == ["port"] and resolved.ignored == []


def test_literal_ignore_true_removes_the_input(make):
    wf, _ = make("x: {type: string, default: v, ignore: true}\ny: {type: string, default: w, ignore: false}\n")
    assert resolve(wf).values == {"y": "w"}


GROUPS_TREE = """\
scheduler: {type: boolean, default: false}
outer:
  type: group
  hidden: ${{ inputs.scheduler == false }}
  items:
    x: {type: string, default: gx}
    inner:
      type: group
      items:
        y: {type: number, default: 2, max: 3}
        w: {type: string, optional: true, ignore: "${{ inputs.outer.x == 'drop' }}"}
    z: {type: string, ignore: "${{ inputs.scheduler == false }}"}
gone:
  type: group
  ignore: ${{ inputs.scheduler == false }}
  items:
    q: {type: string}
"""


def test_groups_and_nested_groups_default_and_ignore(make):
    wf, _ = make(GROUPS_TREE)
    resolved = resolve(wf)
    assert resolved.values == {"scheduler": False, "outer": {"x": "gx", "inner": {"y": 2, "w": None}}}
    assert resolved.ignored == ["outer.z", "gone"]
    assert resolved.hidden == ["outer"]


def test_ignore_inside_a_group_reads_inputs_outside_it(make):
    # `inputs.scheduler` in an item's ignore: is the top-level input, not a sibling
    wf, _ = make(GROUPS_TREE)
    resolved = resolve(wf, sets("scheduler=true", "outer.z=zz", "gone.q=qq", "outer.x=drop"))
    assert resolved.values == {
        "scheduler": True,
        "outer": {"x": "drop", "inner": {"y": 2}, "z": "zz"},
        "gone": {"q": "qq"},
    }
    assert resolved.ignored == ["outer.inner.w"]
    assert resolved.hidden == []


def test_group_item_required_when_its_ignore_is_false(make):
    wf, path = make(GROUPS_TREE)
    with pytest.raises(ErrorGroup) as excinfo:
        resolve(wf, sets("scheduler=true"))
    assert [e.message for e in excinfo.value.errors] == [
        "input 'outer.z' is required but has no value (set it in --inputs FILE or with --set outer.z=VALUE)",
        "input 'gone.q' is required but has no value (set it in --inputs FILE or with --set gone.q=VALUE)",
    ]
    assert str(excinfo.value.errors[0].location) == f"{path}:{FIRST_INPUT_LINE + 11}:11"


def test_nested_group_values_merge_with_defaults(make):
    wf, _ = make(GROUPS_TREE)
    values = resolve(wf, ("in.json", {"outer": {"inner": {"y": 3}}})).values
    assert values["outer"] == {"x": "gx", "inner": {"y": 3, "w": None}}


# ---------------------------------------------------------------- precedence


def test_precedence_config_then_file_then_set(make):
    wf, _ = make("""\
        a: {type: integer, default: 0}
        b: {type: integer, default: 0}
        c: {type: integer, default: 0}
        d: {type: integer, default: 0}
        g:
          type: group
          items:
            x: {type: string, default: dx}
            y: {type: string, default: dy}
        """)
    layers = [
        ("--config big", {"a": 1, "b": 1, "c": 1, "g": {"x": "cfg"}}),
        ("in.json", {"b": 2, "c": 2, "g": {"y": "file"}}),
        ("--set", {"c": 3}),
    ]
    assert resolve(wf, *layers).values == {"a": 1, "b": 2, "c": 3, "d": 0, "g": {"x": "cfg", "y": "file"}}


def test_sources_origin_is_the_last_layer_that_set_a_path():
    sources = inputs.Sources([("--config c", {"a": 1, "g": {"x": 1}}), ("f.yaml", {"g": {"y": 2}, "l": [{"k": 1}]}),
                              ("--set", {"a": 3})])
    assert sources.origin("a") == "--set"
    assert sources.origin("g.x") == "--config c"
    assert sources.origin("g.y") == "f.yaml"
    assert sources.origin("l.0.k") == "f.yaml"
    assert sources.origin("l.5.k") == "inputs"
    assert sources.origin("nope") == "inputs"
    assert sources.merged() == {"a": 3, "g": {"x": 1, "y": 2}, "l": [{"k": 1}]}


def test_preset_values(make, tmp_path):
    path = tmp_path / "presets.yaml"
    path.write_text(HEAD + "      a: {type: integer, default: 0}\n      b: {type: string, default: x}\n"
                    "configurations:\n  small: {a: 1}\n  nested:\n    inputs: {a: 2, b: y}\n")
    wf = validate.load_workflow(path)
    assert inputs.preset(wf, "small") == {"a": 1}
    assert inputs.preset(wf, "nested") == {"a": 2, "b": "y"}
    values = resolve(wf, ("--config nested", inputs.preset(wf, "nested")), sets("b=z")).values
    assert values == {"a": 2, "b": "z"}
    with pytest.raises(InputError) as excinfo:
        inputs.preset(wf, "smal")
    assert str(excinfo.value) == "--config: unknown configuration 'smal' (did you mean 'small'?) (known: small, nested)"


def test_preset_when_none_are_defined(make):
    wf, _ = make("a: {type: integer, default: 0}\n")
    with pytest.raises(InputError) as excinfo:
        inputs.preset(wf, "x")
    assert str(excinfo.value) == "--config: unknown configuration 'x' (known: none defined)"


# ---------------------------------------------------------------- unknown keys


def test_unknown_user_keys_are_warnings_with_did_you_mean(make):
    wf, _ = make(GROUPS_TREE)
    resolved = resolve(wf, ("in.json", {"schedular": True, "outer": {"inner": {"yy": 1}}}), sets("zzz=1"))
    assert resolved.warnings == [
        "in.json: unknown input 'schedular' (did you mean 'scheduler'?)",
        "in.json: unknown input 'outer.inner.yy' (did you mean 'y'?)",
        "--set: unknown input 'zzz'",
    ]
    assert resolved.values["scheduler"] is False


def test_known_keys_give_no_warning(make):
    wf, _ = make(GROUPS_TREE)
    assert resolve(wf, sets("scheduler=false", "outer.inner.y=1")).warnings == []


# ---------------------------------------------------------------- parse_set


@pytest.mark.parametrize(
    "items, expected",
    [
        (["a=1"], {"a": 1}),
        (["a=1.5"], {"a": 1.5}),
        (["a=x"], {"a": "x"}),
        (["a=true"], {"a": True}),
        (["a=null"], {"a": None}),
        (["a="], {"a": ""}),
        (['a=""'], {"a": ""}),
        (['a="1"'], {"a": "1"}),
        (["a=01"], {"a": "01"}),
        (["a=x=y"], {"a": "x=y"}),
        (["a=[1, 2]"], {"a": [1, 2]}),
        (['a={"x": {"y": 1}}'], {"a": {"x": {"y": 1}}}),
        (["a.b.c=x"], {"a": {"b": {"c": "x"}}}),
        (["a.b=1", "a.c=2"], {"a": {"b": 1, "c": 2}}),
        ([" a.b =1"], {"a": {"b": 1}}),
        (["a=1", "a=2"], {"a": 2}),
        (["a.b=2", "a=1"], {"a": 1}),
        ([], {}),
    ],
)
def test_parse_set(items, expected):
    assert inputs.parse_set(items) == expected


@pytest.mark.parametrize(
    "items, message",
    [
        (["a"], "expects NAME=VALUE, got 'a'"),
        (["a..b=1"], "empty name part in 'a..b'"),
        ([".a=1"], "empty name part in '.a'"),
        (["=1"], "empty name part in ''"),
        (["a=1", "a.b=2"], "'a.b' conflicts with an earlier value"),
    ],
)
def test_parse_set_errors(items, message):
    with pytest.raises(InputError) as excinfo:
        inputs.parse_set(items)
    assert str(excinfo.value) == f"--set: {message}"


# ---------------------------------------------------------------- load_values_file


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("in.json", '{"a": 1, "b": {"c": [1, "x"]}}', {"a": 1, "b": {"c": [1, "x"]}}),
        ("in.yaml", "a: 1\nb:\n  c: [1, x]\n", {"a": 1, "b": {"c": [1, "x"]}}),
        ("in.yml", "time: 04:00:00\nflag: yes\n", {"time": "04:00:00", "flag": "yes"}),
        ("in.yaml", '{"a": 1}', {"a": 1}),
        ("in", "a: 1\n", {"a": 1}),
        ("in.json", "", {}),
        ("in.yaml", "  \n", {}),
        ("in.yaml", "# nothing set yet\n", {}),
        ("in.yaml", "---\n", {}),
    ],
)
def test_load_values_file(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    assert inputs.load_values_file(str(path)) == expected


@pytest.mark.parametrize(
    "name, text, where, message",
    [
        ("in.json", "[1, 2]", "", "the inputs file must hold a mapping of input names to values"),
        ("in.json", "null", "", "the inputs file must hold a mapping of input names to values"),
        ("in.yaml", "5\n", "", "the inputs file must hold a mapping of input names to values"),
        ("in.yaml", "- a\n- b\n", ":1:1", "the inputs file must hold a mapping of input names to values"),
        ("in.json", '{"a": 1,\n "b" 2}', ":2:6", "invalid JSON: Expecting ':' delimiter"),
        ("in.json", "{bad", ":1:2", "invalid JSON: Expecting property name enclosed in double quotes"),
        ("in.yaml", "a: [1\n", ":2:1", "invalid YAML: did not find expected ',' or ']'"),
        ("in.yaml", "a: 1\na: 2\n", ":2:1", "duplicate key 'a'"),
    ],
)
def test_load_values_file_errors_name_the_file(tmp_path, name, text, where, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as excinfo:
        inputs.load_values_file(str(path))
    assert str(excinfo.value) == f"{path}{where}: {message}"


def test_load_values_file_missing(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(InputError) as excinfo:
        inputs.load_values_file(str(path))
    assert str(excinfo.value) == f"{path}: cannot read inputs file: No such file or directory"


# ---------------------------------------------------------------- the real job_runner v4.0


SLURM_ITEMS = ["account", "partition", "qos", "time", "nodes", "cpus_per_task", "gres", "mem", "constraint", "array",
               "scheduler_directives"]
PBS_ITEMS = ["account", "queue", "walltime", "select", "scheduler_directives"]


@pytest.fixture(scope="module")
def job_runner():
    assert JOB_RUNNER_V4.is_file(), JOB_RUNNER_V4
    return validate.load_workflow(JOB_RUNNER_V4, "action")


def test_job_runner_v4_no_values(job_runner):
    resolved = inputs.resolve(job_runner)
    assert resolved.values == {
        "resource": LOCAL,
        "shebang": "#!/bin/bash",
        "rundir": "${PWD}",
        "use_existing_script": False,
        "script": 'echo "$(date) Running in directory ${PWD} on ${HOSTNAME}"\n',
        "scheduler": False,
        "inject_markers": True,
        "poll_interval": 15,
        "max_relaunches": 2,
        "slurm": {"is_disabled": True},
        "pbs": {"is_disabled": True},
    }
    assert resolved.ignored == ["script_path", *(f"slurm.{i}" for i in SLURM_ITEMS), *(f"pbs.{i}" for i in PBS_ITEMS)]
    assert resolved.hidden == ["scheduler", "poll_interval", "max_relaunches", "slurm", "slurm.is_disabled", "pbs",
                               "pbs.is_disabled"]
    assert resolved.secrets == [] and resolved.warnings == []


def test_job_runner_v4_slurm_resource_with_scheduler(job_runner):
    layer = ("--set", {"resource": {"ip": "h", "schedulerType": "slurm"}, "scheduler": True})
    resolved = inputs.resolve(job_runner, inputs.Sources([layer]))
    values = resolved.values
    assert values["resource"] == {**BLANK_RESOURCE, "ip": "h", "schedulerType": "slurm"}
    assert values["scheduler"] is True
    assert values["slurm"] == {
        "is_disabled": False, "account": None, "partition": None, "qos": None, "time": "04:00:00", "nodes": 1,
        "cpus_per_task": 4, "gres": None, "mem": None, "constraint": None, "array": None, "scheduler_directives": None,
    }
    assert values["pbs"] == {"is_disabled": True}
    assert resolved.ignored == ["script_path", *(f"pbs.{i}" for i in PBS_ITEMS)]
    assert "slurm" not in resolved.hidden and "pbs" in resolved.hidden


def test_job_runner_v4_slurm_values_from_set(job_runner):
    layer = sets('resource={"ip": "h", "schedulerType": "slurm"}', "scheduler=true", "slurm.partition=debug",
                 "slurm.cpus_per_task=8", "slurm.time=00:10:00")
    slurm = inputs.resolve(job_runner, inputs.Sources([layer])).values["slurm"]
    assert (slurm["partition"], slurm["cpus_per_task"], slurm["time"]) == ("debug", 8, "00:10:00")
    with pytest.raises(InputError) as excinfo:
        inputs.resolve(job_runner, inputs.Sources([sets('resource={"ip": "h", "schedulerType": "slurm"}',
                                                        "scheduler=true", "slurm.cpus_per_task=512")]))
    assert str(excinfo.value) == "--set: input 'slurm.cpus_per_task' must be at most 256, got 512"


def test_job_runner_v4_pbs_resource_with_scheduler(job_runner):
    layer = ("--set", {"resource": {"ip": "h", "schedulerType": "pbs"}, "scheduler": True})
    values = inputs.resolve(job_runner, inputs.Sources([layer])).values
    assert values["slurm"] == {"is_disabled": True}
    assert values["pbs"] == {"is_disabled": False, "account": None, "queue": None, "walltime": "04:00:00",
                             "select": None, "scheduler_directives": None}


def test_job_runner_v4_existing_script(job_runner):
    resolved = inputs.resolve(job_runner, inputs.Sources([sets("use_existing_script=true", "script_path=/x.sh")]))
    assert resolved.values["script_path"] == "/x.sh"
    assert "script" not in resolved.values
    assert resolved.ignored[0] == "script"
