"""``wfrun serve`` security: tokens, cookies + CSRF, Host/Origin guards, rate limits, path confinement, secrets."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import httpx
import pytest

from serve_env import free_port, make_served, start_server


@pytest.fixture
def served(tmp_path, monkeypatch):
    s = make_served(tmp_path, monkeypatch)
    with s.client:
        yield s


def protected_routes(served) -> list[tuple[str, str]]:
    """Every (method, concrete path) of the OpenAPI document except /health and /login."""
    spec = served.client.get("/openapi.json", headers=served.auth).json()
    out = []
    for path, item in spec["paths"].items():
        if path in ("/health", "/login"):
            continue
        concrete = path.replace("{run}", "1").replace("{wf_id}", "hello.yaml")
        concrete = concrete.replace("{", "").replace("}", "")
        for method in item:
            out.append((method.upper(), concrete))
    return out


def test_every_route_but_health_needs_the_token(served):
    routes = protected_routes(served)
    assert ("GET", "/api/runs") in routes and ("POST", "/api/runs") in routes
    for method, path in routes:
        none = served.client.request(method, path)
        assert none.status_code == 401, (method, path, none.text)
        if method != "HEAD":  # a HEAD answer has no body
            assert none.json()["detail"]
        wrong = served.client.request(method, path, headers={"Authorization": "Bearer " + "x" * 43})
        assert wrong.status_code in (401, 429), (method, path, wrong.text)
    assert served.client.get("/health").status_code == 200


def test_token_file_is_private_and_stable(served):
    path = served.home / "serve" / "token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip()) >= 43  # 32 bytes, urlsafe base64
    from workflow_runner.serve.settings import load_or_create_token

    assert load_or_create_token(served.home) == served.settings.token
    path.chmod(0o644)
    from workflow_runner.errors import WorkflowError

    with pytest.raises(WorkflowError, match="readable by others"):
        load_or_create_token(served.home)


def test_foreign_host_is_rejected(served):
    for host in ("evil.example", "evil.example:8765", "127.0.0.1:9999"):
        r = served.client.get("/api/runs", headers={**served.auth, "Host": host})
        assert r.status_code == 421 and "not this server" in r.json()["detail"], host
    assert served.client.get("/health", headers={"Host": "localhost:8765"}).status_code == 200


def login(served) -> httpx.Response:
    return served.client.get("/login", params={"token": served.settings.token, "next": "//evil.example/x"},
                             follow_redirects=False)


def test_login_url_sets_strict_httponly_cookie_and_strips_the_token(served):
    r = login(served)
    assert r.status_code == 303
    assert r.headers["location"] == "/"  # no token, and no open redirect
    cookies = r.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("wfrun_session="))
    csrf = next(c for c in cookies if c.startswith("wfrun_csrf="))
    assert "HttpOnly" in session and "SameSite=strict" in session
    assert "HttpOnly" not in csrf and "SameSite=strict" in csrf
    assert served.settings.token not in session  # the cookie is not the token
    assert served.client.get("/api/runs").status_code == 200  # the cookie authenticates


def test_cookie_post_needs_the_csrf_double_submit(served):
    login(served)
    csrf = served.client.cookies["wfrun_csrf"]
    no = served.client.post("/api/runs/1/cancel")
    assert no.status_code == 403 and "CSRF" in no.json()["detail"]
    wrong = served.client.post("/api/runs/1/cancel", headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    header = served.client.post("/api/runs/1/cancel", headers={"X-CSRF-Token": csrf})
    assert header.status_code == 404  # past authentication: run 1 does not exist
    form = served.client.post("/api/runs/1/cancel", data={"csrf": csrf})
    assert form.status_code == 404


def test_cross_site_post_is_rejected_even_with_a_valid_session(served):
    login(served)
    csrf = served.client.cookies["wfrun_csrf"]
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        r = served.client.post("/api/runs", json={"workflow": "hello.yaml"}, headers={"X-CSRF-Token": csrf, **headers})
        assert r.status_code == 403 and "cross-site" in r.json()["detail"], headers
    same = served.client.post("/api/runs/1/cancel", headers={"X-CSRF-Token": csrf, "Origin": "http://127.0.0.1:8765"})
    assert same.status_code == 404


def test_failed_logins_are_rate_limited(served):
    for _ in range(10):
        assert served.client.get("/login", params={"token": "guess"}).status_code == 401
    r = served.client.get("/login", params={"token": served.settings.token}, follow_redirects=False)
    assert r.status_code == 429 and "too many failed logins" in r.json()["detail"]
    assert int(r.headers["retry-after"]) > 0


@pytest.mark.parametrize("bad", ["../outside.yaml", "sub/../../outside.yaml", "/etc/passwd", "link.yaml",
                                 "%2e%2e/outside.yaml", "linkdir/outside.yaml"])
def test_workflow_paths_cannot_leave_the_served_folder(served, bad):
    outside = served.root.parent / "outside.yaml"
    outside.write_text("jobs:\n  a:\n    steps:\n      - run: cat /etc/passwd\n")
    os.symlink(outside, served.root / "link.yaml")
    os.symlink(served.root.parent, served.root / "linkdir")
    r = served.get(f"/api/workflows/{bad}")
    assert 400 <= r.status_code < 500 and r.json()["detail"], (bad, r.text)
    r = served.post("/api/workflows/resolve", json={"workflow": bad.replace("%2e", "."), "inputs": {}})
    assert 400 <= r.status_code < 500 and r.json()["detail"], (bad, r.text)
    r = served.post("/api/runs", json={"workflow": bad.replace("%2e", "."), "inputs": {}})
    assert 400 <= r.status_code < 500 and r.json()["detail"], (bad, r.text)
    assert served.get("/api/runs").json()["runs"] == []
    assert "link.yaml" not in [w["id"] for w in served.get("/api/workflows").json()]


def test_secrets_never_appear_in_any_response(served):
    secret = "pa55-word-never-shown"
    r = served.post("/api/runs", json={"workflow": "hello.yaml", "inputs": {"who": "x", "pw": secret}})
    run = r.json()["run"]
    served.wait_final(run)
    bodies = [r.text]
    bodies.append(served.post("/api/workflows/resolve", json={"workflow": "hello.yaml", "inputs": {"pw": secret}}).text)
    bodies.append(served.post("/api/workflows/resolve",
                              json={"workflow": "hello.yaml", "inputs": {"pw": secret, "count": secret}}).text)
    bodies.append(served.post("/api/runs", json={"workflow": "hello.yaml", "inputs": {"pw": secret, "count": 99}}).text)
    bodies.append(served.post("/api/runs", json={"workflow": "hello.yaml", "inputs": [secret]}).text)
    for path in ("/api/runs", f"/api/runs/{run}", f"/api/runs/{run}/relaunch", f"/api/runs/{run}/events"):
        bodies.append(served.get(path).text)
    bodies.append(served.get(f"/api/runs/{run}/log", params={"job": "greet", "step": "1"}).text)
    assert all(secret not in body for body in bodies), [b for b in bodies if secret in b]
    assert "pw=***" in bodies[-1]  # the value was used, and masked
    proc_args = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert secret not in proc_args


def test_real_server_prints_the_token_only_in_the_login_url(tmp_path, monkeypatch):
    s = make_served(tmp_path, monkeypatch)
    port = free_port()
    server = start_server(s.root, port)
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/login", params={"token": s.settings.token}, follow_redirects=False)
        assert r.status_code == 303
        httpx.get(f"http://127.0.0.1:{port}/api/runs", headers=s.auth)
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert server.returncode in (0, -15)  # uvicorn re-raises the SIGTERM it handled after shutting down
    lines = [line for line in (out + err).splitlines() if s.settings.token in line]
    assert len(lines) == 1 and "/login?token=" in lines[0]


def test_public_bind_needs_the_flag_and_warns_without_tls(tmp_path, monkeypatch):
    s = make_served(tmp_path, monkeypatch)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "workflow_runner", "serve", str(s.root), "--host", "0.0.0.0",
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert "reachable from other machines" in err and "unencrypted" in err
    bad = subprocess.run([sys.executable, "-m", "workflow_runner", "serve", str(s.root), "--certfile", "/nonexistent"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip() == "wfrun serve: --certfile and --keyfile go together"


def file_routes(served) -> list[tuple[str, str, str, str]]:
    """(method, path template, where, param) of every operation that takes a string path parameter, or a query
    parameter named path/file/relpath/name, from the OpenAPI document — routers added later (outputs, datasets)
    are covered without changing this test."""
    spec = served.client.get("/openapi.json", headers=served.auth).json()
    found = []
    for template, item in spec["paths"].items():
        for method, op in item.items():
            for param in op.get("parameters", []):
                string = param.get("schema", {}).get("type") == "string"
                if param["in"] == "path" and string:
                    found.append((method.upper(), template, "path", param["name"]))
                elif param["in"] == "query" and param["name"] in ("path", "file", "relpath", "name"):
                    found.append((method.upper(), template, "query", param["name"]))
    return found


TRAVERSALS = ["../outside/secret.txt", "../../outside/secret.txt", "/etc/passwd", "escape/secret.txt", "escape-file",
              "sub/../../outside/secret.txt"]


def test_path_traversal_is_rejected_in_every_file_serving_route(served):
    outside = served.root.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("name: TOP-SECRET-OUTSIDE\njobs:\n  a:\n    steps:\n      - run: echo\n")
    os.symlink(outside, served.root / "escape")
    os.symlink(outside / "secret.txt", served.root / "escape-file")
    subprocess.run([sys.executable, "-m", "workflow_runner", "run", str(served.root / "hello.yaml"), "-q"], check=True,
                   capture_output=True)
    run_dir = json.loads(served.get("/api/runs/1").text)["run_dir"]
    os.symlink(outside, os.path.join(run_dir, "escape"))
    os.symlink(outside / "secret.txt", os.path.join(run_dir, "escape-file"))
    routes = file_routes(served)
    assert ("GET", "/api/workflows/{wf_id}", "path", "wf_id") in routes
    for method, template, where, name in routes:
        for bad in TRAVERSALS:
            path = template
            params = {}
            if where == "path":
                path = path.replace("{" + name + "}", bad)
            else:
                params[name] = bad
            path = path.replace("{run}", "1")
            r = served.client.request(method, path, params=params, headers=served.auth)
            assert 400 <= r.status_code < 500, (method, path, bad, r.status_code, r.text[:200])
            assert "TOP-SECRET-OUTSIDE" not in r.text and "root:" not in r.text, (method, path, bad)
            if method != "HEAD":  # a HEAD answer has no body (the datasets route puts its reason in a header)
                assert r.json()["detail"], (method, path, bad)


def test_a_port_in_use_is_one_line(tmp_path, monkeypatch):
    s = make_served(tmp_path, monkeypatch)
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "workflow_runner", "serve", str(s.root), "--port", str(port)],
                           capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert r.stderr == f"wfrun serve: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    missing = subprocess.run([sys.executable, "-m", "workflow_runner", "serve", str(tmp_path / "nope")],
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2 and missing.stderr == f"wfrun serve: {tmp_path / 'nope'}: not a directory\n"
