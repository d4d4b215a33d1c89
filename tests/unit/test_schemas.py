"""The JSON Schemas in schemas/: workflow.schema.json and action.schema.json.

Checks that both are valid Draft 2020-12 schemas, that every real ACTIVATE
workflow in shared/reference/activate/ validates, that each kind of mistake
produces exactly one error at the JSON path the loader will report, and that
the schemas document every key (editors show titles/descriptions through
yaml-language-server).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
from referencing.jsonschema import DRAFT202012
from ruamel.yaml import YAML

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
# CI clones the repository next to shared/, as /work/main and /work/shared.
REFERENCE_DIR = Path(__file__).resolve().parents[3] / "shared" / "reference" / "activate"

REFERENCE_WORKFLOWS = [
    "parallelworks__activate-batch__workflow.yaml",
    "parallelworks__activate-rag-vllm__workflow__at-2d946da.yaml",
    "parallelworks__activate-ray__workflow.yaml",
    "parallelworks__interactive_session__workflow__tutorials__matrix__workflow.yaml",
    "parallelworks__interactive_session__workflow__tutorials__round-robin-failover__workflow.yaml",
    "parallelworks__job_runner__v3.5.yaml",
    "parallelworks__job_runner__v4.0.yaml",
    "parallelworks__workflows__tutorials__if-conditions__if-conditions.yaml",
]
REFERENCE_ACTIONS = [
    "parallelworks__job_runner__v3.5.yaml",
    "parallelworks__job_runner__v4.0.yaml",
]

# Input types named in DESIGN.md §4 (kubernetes-* stands for the two below).
DESIGN_INPUT_TYPES = {
    "string", "number", "integer", "boolean", "editor", "dropdown", "multi-dropdown",
    "password", "list", "group", "header", "compute-clusters", "compute-resources",
    "slurm-partitions", "slurm-accounts", "slurm-qos", "kubernetes-clusters",
    "kubernetes-namespaces", "bucket", "storage", "organization-groups",
}


# --------------------------------------------------------------------------- helpers


def to_json(value: Any) -> Any:
    """Plain JSON-able data from what the YAML loader returns."""
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def load_yaml(text: str) -> Any:
    """Load like the wfrun loader: YAML 1.2, and a YAML 1.1 bare `on:` (True) renamed to 'on'."""
    data = YAML(typ="safe", pure=True).load(text)
    if isinstance(data, dict) and True in data:
        data["on"] = data.pop(True)
    return to_json(data)


def load_schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


def errors_of(validator: jsonschema.Draft202012Validator, document: Any) -> list[tuple[tuple, str]]:
    """(JSON path, failing keyword) of every error, in a stable order."""
    found = [(tuple(error.absolute_path), str(error.validator)) for error in validator.iter_errors(document)]
    return sorted(found, key=repr)


def walk_subschemas(node: Any, path: str = "#") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, child in node.items():
            yield from walk_subschemas(child, f"{path}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from walk_subschemas(child, f"{path}/{index}")


@pytest.fixture(scope="module")
def workflow_schema() -> dict[str, Any]:
    return load_schema("workflow.schema.json")


@pytest.fixture(scope="module")
def action_schema() -> dict[str, Any]:
    return load_schema("action.schema.json")


@pytest.fixture(scope="module")
def registry(workflow_schema: dict[str, Any], action_schema: dict[str, Any]) -> referencing.Registry:
    return referencing.Registry().with_resources(
        (schema["$id"], DRAFT202012.create_resource(schema)) for schema in (workflow_schema, action_schema)
    )


@pytest.fixture(scope="module")
def workflow_validator(workflow_schema, registry) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(workflow_schema, registry=registry)


@pytest.fixture(scope="module")
def action_validator(action_schema, registry) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(action_schema, registry=registry)


# --------------------------------------------------------------------------- the schemas themselves


@pytest.mark.parametrize("name", ["workflow.schema.json", "action.schema.json"])
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://wfrun.dev/schemas/{name}"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", ["workflow.schema.json", "action.schema.json"])
def test_every_key_and_definition_is_documented(name: str) -> None:
    """Editors show title/description; every property, $def and map value carries both
    (or is a bare $ref to a definition that does)."""
    undocumented = []
    for path, node in walk_subschemas(load_schema(name)):
        if not isinstance(node, dict):
            continue
        documented_children = [
            (f"{path}/{group}/{key}", child)
            for group in ("properties", "$defs")
            for key, child in node.get(group, {}).items()
            if not path.endswith(("/if", "/then", "/else"))  # conditions are not shown to users
        ]
        for keyword in ("additionalProperties", "propertyNames"):
            if isinstance(node.get(keyword), dict):
                documented_children.append((f"{path}/{keyword}", node[keyword]))
        for child_path, child in documented_children:
            if set(child) == {"$ref"}:
                continue  # documented by its target, which this test also checks
            if not child.get("title") or not child.get("description"):
                undocumented.append(child_path)
    assert undocumented == []


def test_input_types_cover_design(workflow_schema: dict[str, Any]) -> None:
    types = set(workflow_schema["$defs"]["inputType"]["enum"])
    assert DESIGN_INPUT_TYPES <= types


def test_action_schema_accepts_every_workflow_key(workflow_schema, action_schema) -> None:
    """An action is a workflow plus metadata: the two key sets must not drift apart."""
    workflow_keys = set(workflow_schema["properties"])
    action_keys = set(action_schema["properties"])
    assert workflow_keys <= action_keys
    assert action_keys - workflow_keys == {"version", "outputs", "wfrun"}


def test_patterns_compile_as_python_regexes(workflow_schema, action_schema) -> None:
    for schema in (workflow_schema, action_schema):
        for _, node in walk_subschemas(schema):
            if isinstance(node, dict) and isinstance(node.get("pattern"), str):
                re.compile(node["pattern"])


# --------------------------------------------------------------------------- real workflows


@pytest.mark.reference
def test_reference_directory_is_present() -> None:
    assert REFERENCE_DIR.is_dir(), f"reference workflows missing: {REFERENCE_DIR}"
    assert sorted(path.name for path in REFERENCE_DIR.glob("*.yaml")) == sorted(REFERENCE_WORKFLOWS)


@pytest.mark.reference
@pytest.mark.parametrize("name", REFERENCE_WORKFLOWS)
def test_reference_workflow_validates(name: str, workflow_validator) -> None:
    document = load_yaml((REFERENCE_DIR / name).read_text(encoding="utf-8"))
    assert errors_of(workflow_validator, document) == []


@pytest.mark.reference
@pytest.mark.parametrize("name", REFERENCE_ACTIONS)
def test_reference_action_validates_as_action(name: str, action_validator) -> None:
    document = load_yaml((REFERENCE_DIR / name).read_text(encoding="utf-8"))
    assert errors_of(action_validator, document) == []


def test_yaml_1_1_bare_on_key_is_renamed(workflow_validator) -> None:
    document = load_yaml(
        "%YAML 1.1\n---\n"
        "on:\n  execute:\n    inputs:\n      n: {type: number}\n"
        "jobs:\n  a:\n    steps:\n      - run: echo\n"
    )
    assert "on" in document
    assert errors_of(workflow_validator, document) == []


# --------------------------------------------------------------------------- accepted forms

VALID_WORKFLOWS = {
    "needs as a single string": """
        jobs:
          a: {steps: [{run: echo}]}
          b: {needs: a, steps: [{run: echo}]}
    """,
    "expressions where numbers and booleans go": """
        jobs:
          a:
            strategy:
              matrix: {x: [1, 2]}
              max-parallel: ${{ inputs.n_workers }}
              fail-fast: ${{ inputs.ff }}
            resources: {cpus: '${{ inputs.cpus }}', memory: 4G, gpus: $<< inputs.gpus >>}
            steps:
              - run: echo
                ignore-errors: ${{ inputs.x }}
                early-cancel: ${{ inputs.cancel_mode }}
                retry: {max-retries: '${{ needs.a.outputs.N - 1 }}', interval: 2s, timeout: '${{ inputs.t }}'}
    """,
    "if as YAML boolean, keyword and bare expression": """
        jobs:
          a: {if: true, steps: [{if: false, run: echo}, {if: '${{ always }}', run: echo}]}
          b: {needs: [a], if: "success() && inputs.x", steps: [{run: echo}]}
    """,
    "durations in every accepted form": """
        timeout: 2d
        jobs:
          a:
            timeout: 1h30m
            steps:
              - {run: echo, timeout: 90}
              - {run: echo, timeout: '45'}
              - {run: echo, timeout: 0.5}
              - {run: echo, timeout: 5m}
              - {run: echo, timeout: '01:00:00'}
              - {run: echo, timeout: '1-12:00:00'}
              - {run: echo, timeout: '30:00'}
              - {run: echo, timeout: 1.5h}
              - {run: echo, timeout: '${{ inputs.limit }}'}
              - {run: echo, timeout: PT4H}
              - {run: echo, timeout: P1DT2H, retry: {interval: PT30S, timeout: PT1H30M15S}}
              - {run: echo, timeout: P2W, termination: {signal: TERM, before: PT0.5M}}
    """,
    "matrix with include, exclude, and expression axes": """
        jobs:
          a:
            strategy:
              matrix:
                os: [el8, el9]
                n: ${{ fromJSON(inputs.sizes) }}
                include: [{os: el9, extra: true}]
                exclude: [{os: el8, n: 1}]
            steps: [{run: echo}]
          b:
            strategy: {matrix: '${{ fromJSON(inputs.matrix) }}'}
            steps: [{run: echo}]
    """,
    "all top-level keys": """
        name: demo
        description: all top-level keys
        permissions: ['*']
        env: {A: x, B: 2, C: true}
        sessions: {session: {useTLS: false, redirect: true, anything: [1]}}
        configurations: {small: {n: 1, cluster: {scheduler: false}}}
        timeout: 1h
        'on': {execute: {inputs: {n: {type: number, default: 1}}}}
        jobs:
          a:
            name: Job A
            working-directory: /tmp
            ssh: {remoteHost: 'host:2222', jumpNodeHost: bastion}
            env: {X: '1'}
            outputs: {v: '${{ needs.a.steps.s.outputs.v }}'}
            steps:
              - id: s
                name: write
                run: echo v=1 >> $OUTPUTS
                cleanup: echo bye
                env: {Y: 'y'}
                working-directory: sub
                ssh: {remoteHost: other}
              - uses: marketplace/job_runner/v4.0
                with: {resource: '${{ inputs.resource }}', slurm: {partition: gpu}}
    """,
    "input trees: options forms, list templates, unknown attributes": """
        'on':
          execute:
            inputs:
              hdr: {type: header, label: Settings}
              plain: {type: dropdown, options: [a, b, 3]}
              labelled: {type: multi-dropdown, options: [{label: A, value: a}, {value: b}]}
              keyed: {type: dropdown, option-key: id, options: {x: {id: 1, name: X}, y: {id: 2, name: Y}}}
              dynamic: {type: dropdown, options: '${{ inputs.choices }}'}
              n: {type: integer, min: '${{ inputs.lo }}', max: 10, step: 1, optional: '${{ inputs.x }}'}
              workers:
                type: list
                template: {resource: {type: compute-clusters, include-workspace: false}}
              names: {type: list, template: {type: string, label: Name}}
              grp:
                type: group
                collapsed: true
                items: {inner: {type: slurm-partitions, resource: '${{ inputs.r }}', someNewPlatformKey: 1}}
        jobs: {a: {steps: [{run: echo}]}}
    """,
    "dollar-angle expression delimiters": """
        jobs:
          a:
            if: $<< inputs.go >>
            strategy: {matrix: {x: [1]}, max-parallel: $<< inputs.n >>}
            steps: [{run: echo, ignore-errors: $<< inputs.soft >>}]
    """,
}


@pytest.mark.parametrize("text", VALID_WORKFLOWS.values(), ids=VALID_WORKFLOWS.keys())
def test_valid_workflow(text: str, workflow_validator) -> None:
    assert errors_of(workflow_validator, load_yaml(text)) == []


def test_run_and_uses_together_is_left_to_the_loader(workflow_validator) -> None:
    """'Exactly one of run/uses' is checked by the caller for a clearer message, not here."""
    document = load_yaml("jobs: {a: {steps: [{run: echo, uses: parallelworks/checkout}, {name: neither}]}}")
    assert errors_of(workflow_validator, document) == []


# --------------------------------------------------------------------------- rejected forms

STEP = "{run: echo}"

# (case id, document, JSON path of the one error, failing keyword, fragment of the message)
INVALID_WORKFLOWS = [
    ("unknown top-level key", f"jobs: {{a: {{steps: [{STEP}]}}}}\njbos: {{}}",
     (), "additionalProperties", "'jbos' was unexpected"),
    ("jobs missing", "env: {A: b}", (), "required", "'jobs' is a required property"),
    ("jobs empty", "jobs: {}", ("jobs",), "minProperties", None),
    ("bad job name", f"jobs: {{1build: {{steps: [{STEP}]}}}}", ("jobs",), "pattern", "'1build'"),
    ("unknown job key", f"jobs: {{a: {{steps: [{STEP}], stpes: []}}}}",
     ("jobs", "a"), "additionalProperties", "'stpes' was unexpected"),
    ("job without steps", "jobs: {a: {needs: [b]}}", ("jobs", "a"), "required", "'steps'"),
    ("steps empty", "jobs: {a: {steps: []}}", ("jobs", "a", "steps"), "minItems", None),
    ("steps not a list", "jobs: {a: {steps: {run: echo}}}", ("jobs", "a", "steps"), "type", None),
    ("unknown step key", "jobs: {a: {steps: [{run: echo, shell: zsh}]}}",
     ("jobs", "a", "steps", 0), "additionalProperties", "'shell' was unexpected"),
    ("needs wrong type", f"jobs: {{a: {{needs: 5, steps: [{STEP}]}}}}", ("jobs", "a", "needs"), "type", None),
    ("needs bad name", f"jobs: {{a: {{needs: ['b c'], steps: [{STEP}]}}}}",
     ("jobs", "a", "needs", 0), "pattern", None),
    ("bad step id", "jobs: {a: {steps: [{id: 2nd, run: echo}]}}", ("jobs", "a", "steps", 0, "id"), "pattern", None),
    ("if wrong type", f"jobs: {{a: {{if: 3, steps: [{STEP}]}}}}", ("jobs", "a", "if"), "type", None),
    ("ssh unknown key", f"jobs: {{a: {{ssh: {{remoteHost: h, port: 22}}, steps: [{STEP}]}}}}",
     ("jobs", "a", "ssh"), "additionalProperties", "'port' was unexpected"),
    ("ssh without remoteHost", f"jobs: {{a: {{ssh: {{jumpNodeHost: j}}, steps: [{STEP}]}}}}",
     ("jobs", "a", "ssh"), "required", None),
    ("strategy unknown key", f"jobs: {{a: {{strategy: {{matrix: {{x: [1]}}, parallel: 2}}, steps: [{STEP}]}}}}",
     ("jobs", "a", "strategy"), "additionalProperties", "'parallel' was unexpected"),
    ("matrix axis not a list", f"jobs: {{a: {{strategy: {{matrix: {{x: 3}}}}, steps: [{STEP}]}}}}",
     ("jobs", "a", "strategy", "matrix", "x"), "type", None),
    ("matrix axis empty", f"jobs: {{a: {{strategy: {{matrix: {{x: []}}}}, steps: [{STEP}]}}}}",
     ("jobs", "a", "strategy", "matrix", "x"), "minItems", None),
    ("max-parallel zero", f"jobs: {{a: {{strategy: {{matrix: {{x: [1]}}, max-parallel: 0}}, steps: [{STEP}]}}}}",
     ("jobs", "a", "strategy", "max-parallel"), "minimum", None),
    ("max-parallel plain text", f"jobs: {{a: {{strategy: {{matrix: {{x: [1]}}, max-parallel: many}}, steps: [{STEP}]}}}}",
     ("jobs", "a", "strategy", "max-parallel"), "pattern", None),
    ("retry unknown key", "jobs: {a: {steps: [{run: echo, retry: {max-retries: 2, delay: 5s}}]}}",
     ("jobs", "a", "steps", 0, "retry"), "additionalProperties", "'delay' was unexpected"),
    ("retry negative", "jobs: {a: {steps: [{run: echo, retry: {max-retries: -1}}]}}",
     ("jobs", "a", "steps", 0, "retry", "max-retries"), "minimum", None),
    ("bad duration", f"jobs: {{a: {{timeout: 5x, steps: [{STEP}]}}}}", ("jobs", "a", "timeout"), "pattern", None),
    ("negative duration", "jobs: {a: {steps: [{run: echo, timeout: -5}]}}",
     ("jobs", "a", "steps", 0, "timeout"), "minimum", None),
    ("early-cancel unknown mode", "jobs: {a: {steps: [{run: echo, early-cancel: always}]}}",
     ("jobs", "a", "steps", 0, "early-cancel"), "anyOf", None),
    ("ignore-errors plain text", "jobs: {a: {steps: [{run: echo, ignore-errors: 'yes'}]}}",
     ("jobs", "a", "steps", 0, "ignore-errors"), "pattern", None),
    ("env value a list", f"env: {{FOO: [1]}}\njobs: {{a: {{steps: [{STEP}]}}}}", ("env", "FOO"), "type", None),
    ("env name with a space", f"jobs: {{a: {{env: {{'MY VAR': x}}, steps: [{STEP}]}}}}",
     ("jobs", "a", "env"), "pattern", None),
    ("job outputs value not a string", f"jobs: {{a: {{outputs: {{v: [1]}}, steps: [{STEP}]}}}}",
     ("jobs", "a", "outputs", "v"), "type", None),
    ("resources unknown key", f"jobs: {{a: {{resources: {{cpu: 2}}, steps: [{STEP}]}}}}",
     ("jobs", "a", "resources"), "additionalProperties", "'cpu' was unexpected"),
    ("resources bad memory", f"jobs: {{a: {{resources: {{memory: 4 gigs}}, steps: [{STEP}]}}}}",
     ("jobs", "a", "resources", "memory"), "pattern", None),
    ("unknown on key", f"'on': {{exectue: {{inputs: {{}}}}}}\njobs: {{a: {{steps: [{STEP}]}}}}",
     ("on",), "additionalProperties", "'exectue' was unexpected"),
    ("unknown input type", f"'on': {{execute: {{inputs: {{x: {{type: strnig}}}}}}}}\njobs: {{a: {{steps: [{STEP}]}}}}",
     ("on", "execute", "inputs", "x", "type"), "enum", None),
    ("input without type", f"'on': {{execute: {{inputs: {{x: {{tpye: string}}}}}}}}\njobs: {{a: {{steps: [{STEP}]}}}}",
     ("on", "execute", "inputs", "x"), "required", "'type'"),
    ("group without items", f"'on': {{execute: {{inputs: {{g: {{type: group}}}}}}}}\njobs: {{a: {{steps: [{STEP}]}}}}",
     ("on", "execute", "inputs", "g"), "required", "'items'"),
    ("unknown type inside a group",
     f"'on': {{execute: {{inputs: {{g: {{type: group, items: {{p: {{type: slurm-partition}}}}}}}}}}}}\n"
     f"jobs: {{a: {{steps: [{STEP}]}}}}",
     ("on", "execute", "inputs", "g", "items", "p", "type"), "enum", None),
    ("unknown type in a list template (single input)",
     f"'on': {{execute: {{inputs: {{l: {{type: list, template: {{type: text}}}}}}}}}}\njobs: {{a: {{steps: [{STEP}]}}}}",
     ("on", "execute", "inputs", "l", "template", "type"), "enum", None),
    ("untyped input in a list template (map)",
     f"'on': {{execute: {{inputs: {{l: {{type: list, template: {{r: {{label: R}}}}}}}}}}}}\n"
     f"jobs: {{a: {{steps: [{STEP}]}}}}",
     ("on", "execute", "inputs", "l", "template", "r"), "required", None),
    ("option object without value",
     f"'on': {{execute: {{inputs: {{d: {{type: dropdown, options: [{{label: A}}]}}}}}}}}\n"
     f"jobs: {{a: {{steps: [{STEP}]}}}}",
     ("on", "execute", "inputs", "d", "options", 0), "required", "'value'"),
    ("hidden plain text", f"'on': {{execute: {{inputs: {{x: {{type: string, hidden: maybe}}}}}}}}\n"
     f"jobs: {{a: {{steps: [{STEP}]}}}}",
     ("on", "execute", "inputs", "x", "hidden"), "pattern", None),
    ("permissions not a list", f"permissions: '*'\njobs: {{a: {{steps: [{STEP}]}}}}", ("permissions",), "type", None),
]


@pytest.mark.parametrize(
    ("text", "path", "keyword", "fragment"),
    [case[1:] for case in INVALID_WORKFLOWS],
    ids=[case[0] for case in INVALID_WORKFLOWS],
)
def test_invalid_workflow(text: str, path: tuple, keyword: str, fragment: str | None, workflow_validator) -> None:
    document = load_yaml(text)
    assert errors_of(workflow_validator, document) == [(path, keyword)]
    (error,) = workflow_validator.iter_errors(document)
    # The loader names the offending thing from the failing subschema's title
    # (a raw regex in a `pattern` message is no use to a user).
    assert error.schema.get("title")
    if fragment is not None:
        assert fragment in error.message


def test_invalid_table_is_large_enough() -> None:
    assert len(INVALID_WORKFLOWS) >= 15
    assert len({case[0] for case in INVALID_WORKFLOWS}) == len(INVALID_WORKFLOWS)


# --------------------------------------------------------------------------- action definitions

VALID_ACTIONS = {
    "builtin binding without jobs": """
        name: job_runner
        description: Submit a script over SSH, SLURM or PBS.
        version: v4.0
        wfrun: {builtin: workflow_runner.actions.job_runner:V40}
        'on': {execute: {inputs: {resource: {type: compute-clusters}}}}
    """,
    "workflow action with outputs": f"""
        version: 1.2
        outputs:
          jobid: {{description: Scheduler job id, value: '${{{{ needs.submit.outputs.jobid }}}}'}}
        jobs: {{submit: {{steps: [{STEP}]}}}}
    """,
}


@pytest.mark.parametrize("text", VALID_ACTIONS.values(), ids=VALID_ACTIONS.keys())
def test_valid_action(text: str, action_validator) -> None:
    assert errors_of(action_validator, load_yaml(text)) == []


INVALID_ACTIONS = [
    ("neither jobs nor wfrun", "name: x", (), "required", "'jobs'"),
    ("unknown top-level key", f"jobs: {{a: {{steps: [{STEP}]}}}}\nauthor: me",
     (), "additionalProperties", "'author' was unexpected"),
    ("wfrun unknown key", "wfrun: {builtin: job_runner, module: x}", ("wfrun",), "additionalProperties", None),
    ("wfrun builtin not a python name", "wfrun: {builtin: job-runner/v4}", ("wfrun", "builtin"), "pattern", None),
    ("wfrun without builtin", "wfrun: {}", ("wfrun",), "required", None),
    ("output without value", f"outputs: {{x: {{description: d}}}}\njobs: {{a: {{steps: [{STEP}]}}}}",
     ("outputs", "x"), "required", "'value'"),
    ("output unknown key", f"outputs: {{x: {{value: v, type: string}}}}\njobs: {{a: {{steps: [{STEP}]}}}}",
     ("outputs", "x"), "additionalProperties", None),
    # Errors inside referenced workflow definitions keep their full path.
    ("step error through the workflow schema", "jobs: {a: {steps: [{run: echo, stpes: 1}]}}",
     ("jobs", "a", "steps", 0), "additionalProperties", "'stpes' was unexpected"),
    ("input error through the workflow schema", "wfrun: {builtin: b}\n'on': {execute: {inputs: {x: {type: nope}}}}",
     ("on", "execute", "inputs", "x", "type"), "enum", None),
]


@pytest.mark.parametrize(
    ("text", "path", "keyword", "fragment"),
    [case[1:] for case in INVALID_ACTIONS],
    ids=[case[0] for case in INVALID_ACTIONS],
)
def test_invalid_action(text: str, path: tuple, keyword: str, fragment: str | None, action_validator) -> None:
    document = load_yaml(text)
    assert errors_of(action_validator, document) == [(path, keyword)]
    (error,) = action_validator.iter_errors(document)
    # The loader names the offending thing from the failing subschema's title
    # (a raw regex in a `pattern` message is no use to a user).
    assert error.schema.get("title")
    if fragment is not None:
        assert fragment in error.message
