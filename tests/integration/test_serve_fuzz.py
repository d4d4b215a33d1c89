"""Property-based fuzz of the ``wfrun serve`` API from its own OpenAPI document (schemathesis).

Every operation, with generated parameters and bodies, against a store holding a
finished run (so run-specific routes reach real data): no 5xx, and every 4xx is
JSON with a ``detail`` that says why.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from serve_env import make_served
from workflow_runner.serve.auth import FailureLimiter

@pytest.fixture(scope="module")
def app_and_token(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("fuzz")
    s = make_served(tmp, mp, port=80)
    s.settings.allowed_hosts.append("testserver")  # schemathesis' ASGI client sends Host: testserver
    from workflow_runner.serve.app import create_app

    app = create_app(s.settings)
    # /login is fuzzed too: its failures must not lock the fuzzer out (the limit has its own test).
    app.state.limiter = FailureLimiter(limit=10**9)
    subprocess.run([sys.executable, "-m", "workflow_runner", "run", str(s.root / "hello.yaml"), "-q"], check=True,
                   capture_output=True)
    yield app, s.settings.token
    mp.undo()


def detail_on_4xx(ctx, response, case) -> bool | None:
    if case.method.upper() == "HEAD":  # HTTP gives a HEAD answer no body: the reason is a header
        assert response.status_code < 400 or response.headers.get("x-wfrun-detail"), response.headers
        return None
    if 400 <= response.status_code < 500:
        body = json.loads(response.content)
        assert body.get("detail"), f"{response.status_code} without a detail: {response.content[:200]!r}"
    return None


def towards_real_data(case):
    """Half the examples name the finished run 1 and a real workflow, so the routes get past their 404s."""
    if case.path_parameters and "run" in case.path_parameters:
        case.path_parameters["run"] = 1
    if case.path_parameters and "wf_id" in case.path_parameters:
        case.path_parameters["wf_id"] = "hello.yaml"
    if case.path == "/api/workflows/resolve" and isinstance(case.body, dict):
        case.body["workflow"] = "hello.yaml"
    if case.path == "/api/runs/{run}/log" and isinstance(case.query, dict):
        case.query.update(job="greet", step="1")
    return case


def test_api_fuzz(app_and_token):
    """Each operation of the document, fuzzed on its own (the schemathesis pytest plugin does not load under this
    pytest, so the operations are driven with hypothesis directly)."""
    app, token = app_and_token
    auth = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers={**auth, "Host": "testserver"})
    operations = [result.ok() for result in schema.get_all_operations()]
    names = {f"{op.method.upper()} {op.path}" for op in operations}
    assert {"GET /api/runs", "POST /api/runs", "GET /api/runs/{run}/events", "GET /api/runs/{run}/log",
            "POST /api/workflows/resolve"} <= names
    for op in operations:
        @given(st.one_of(op.as_strategy(), op.as_strategy().map(towards_real_data)))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            response = case.call(headers=auth)
            case.validate_response(response, checks=[not_a_server_error, detail_on_4xx])

        fuzz()
