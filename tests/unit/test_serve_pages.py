"""The pages of ``wfrun serve`` through httpx against the app: the launch form's widgets and its re-evaluation.

The form is drawn and re-drawn by the server with the resolver of ``wfrun
inputs``; these tests read the HTML it sends (the browser test drives it live).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from workflow_runner.serve.app import create_app
from workflow_runner.serve.settings import ServeSettings, load_or_create_token

EVERYTHING = """\
name: everything
description: Every input type the form draws.
'on':
  execute:
    inputs:
      intro: {type: header, label: Introduction}
      who: {type: string, label: Who, default: world, tooltip: the name to greet}
      greeting: {type: string, default: "${{ inputs.who }}-hi"}
      count: {type: number, default: 2, min: 1, max: 5, step: 1}
      level: {type: number, default: 3, min: 0, max: 10, slider: true}
      whole: {type: integer, default: 4}
      advanced: {type: boolean, default: false}
      extra: {type: string, default: x, hidden: "${{ !inputs.advanced }}"}
      gone: {type: string, default: y, ignore: "${{ inputs.who == 'nobody' }}"}
      secret: {type: password, default: hunter2-default, optional: true}
      script: {type: editor, default: "echo hi"}
      paint: {type: color-picker, default: "#ff0000"}
      color: {type: dropdown, default: red, options: [red, {label: Green!, value: green}]}
      tags: {type: multi-dropdown, default: [a], options: [a, b, c]}
      cloud: {type: dropdown, default: aws, options: [aws, gcp]}
      region:
        type: dropdown
        option-key: ${{ inputs.cloud }}
        options: {aws: [us-east-1, eu-west-1], gcp: [europe-west4]}
      cluster: {type: compute-clusters, optional: true}
      bucket: {type: bucket, optional: true}
      box:
        type: group
        label: Box
        collapsed: true
        items:
          inner: {type: string, default: in}
      hosts:
        type: list
        default: [{name: h1}]
        template:
          name: {type: string, default: host}
configurations:
  big: {inputs: {count: 5, who: giant}}
jobs:
  j:
    steps:
      - run: echo hi
"""

CONFIG = """\
clusters:
  gpu: {host: localhost, scheduler: slurm}
bucket: [pw-data, pw-scratch]
"""


@pytest.fixture
def client(tmp_path, monkeypatch):
    root = tmp_path / "flows"
    root.mkdir()
    (root / "everything.yaml").write_text(EVERYTHING)
    (tmp_path / "config.yaml").write_text(CONFIG)
    home = tmp_path / "home"
    monkeypatch.setenv("WFRUN_HOME", str(home))
    monkeypatch.setenv("WFRUN_CONFIG", str(tmp_path / "config.yaml"))
    settings = ServeSettings(root=root, home=home, token=load_or_create_token(home), port=8765)
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8765",
                    headers={"Authorization": f"Bearer {settings.token}"}) as c:
        yield c


def field(html: str, path: str) -> str:
    """The HTML of one field's wrapper (up to the next field)."""
    dom = "f-" + re.sub(r"[^A-Za-z0-9_-]", "_", path)
    start = html.index(f'id="{dom}-wrap"')
    return html[start:html.find('<div class="field', start + 1) if '<div class="field' in html[start + 1:] else None]


def form(client, **values: str) -> str:
    data = {"wf": "everything.yaml", "_touched": ",".join(values), **{f"in.{k}": v for k, v in values.items()}}
    r = client.post("/launch/form", data=data)
    assert r.status_code == 200, r.text
    return r.text


def test_every_input_type_gets_its_widget(client):
    r = client.get("/launch?wf=everything.yaml")
    assert r.status_code == 200, r.text
    html = r.text
    assert '<h3 class="header">Introduction</h3>' in html
    assert 'type="text" value="world"' in field(html, "who") and "the name to greet" in field(html, "who")
    assert 'type="number" value="2"' in field(html, "count") and 'max="5"' in field(html, "count")
    assert 'type="range" value="3"' in field(html, "level") and 'max="10"' in field(html, "level")
    assert 'step="1"' in field(html, "whole")
    assert 'type="checkbox"' in field(html, "advanced")
    assert "hidden>" in field(html, "extra").split("\n")[0]
    assert 'type="password"' in field(html, "secret") and "hunter2" not in html  # a password is never echoed
    assert "<textarea" in field(html, "script") and "echo hi" in field(html, "script")
    assert 'type="color" value="#ff0000"' in field(html, "paint")
    assert '<option value="green" >Green!</option>' in field(html, "color")
    assert "multiple" in field(html, "tags") and '<option value="a" selected>' in field(html, "tags")
    assert re.findall(r'<option value="([^"]+)"', field(html, "region")) == ["us-east-1", "eu-west-1"]
    assert re.findall(r'<option value="([^"]+)"', field(html, "cluster")) == ["localhost", "gpu"]
    assert re.findall(r'<option value="([^"]+)"', field(html, "bucket")) == ["pw-data", "pw-scratch"]
    assert '<details class="group" >' in field(html, "box")  # collapsed: not open
    assert 'value="in"' in field(html, "box.inner")
    assert 'value="h1"' in field(html, "hosts.0.name") and 'value="add:hosts"' in html


def test_the_server_re_evaluates_hidden_ignore_defaults_and_dependent_choices(client):
    html = form(client, advanced="true", who="nobody", cloud="gcp")
    assert "hidden>" not in field(html, "extra").split("\n")[0]
    assert 'id="f-gone-wrap"' not in html  # ignored: removed, as `wfrun inputs` does
    assert re.findall(r'<option value="([^"]+)"', field(html, "region")) == ["europe-west4"]
    assert 'value="nobody-hi"' in field(html, "greeting")  # the expression default follows 'who'
    pinned = form(client, who="nobody", greeting="mine")
    assert 'value="mine"' in field(pinned, "greeting")  # a touched field keeps what the user typed


def test_errors_show_next_to_their_field_and_passwords_are_not_echoed(client):
    html = form(client, count="9", secret="s3cret-typed", region="mars")
    assert "role=\"alert\">input &#39;count&#39; must be at most 5, got 9</div>" in field(html, "count")
    assert "must be one of" in field(html, "region")
    assert "s3cret-typed" not in html
    r = client.post("/launch", data={"wf": "everything.yaml", "_touched": "count", "in.count": "9"})
    assert r.status_code == 200 and "HX-Redirect" not in r.headers and "at most 5" in r.text


def test_lists_grow_and_shrink_from_their_template(client):
    data = {"wf": "everything.yaml", "_touched": "hosts", "in.hosts.0.name": "h1", "_op": "add:hosts"}
    html = client.post("/launch/form", data=data).text
    assert 'value="h1"' in field(html, "hosts.0.name") and 'value="host"' in field(html, "hosts.1.name")
    data = {"wf": "everything.yaml", "_touched": "hosts", "in.hosts.0.name": "h1", "in.hosts.1.name": "h2",
            "_op": "del:hosts.0"}
    html = client.post("/launch/form", data=data).text
    assert 'value="h2"' in field(html, "hosts.0.name") and 'id="f-hosts_1_name-wrap"' not in html


def test_a_preset_loads_and_an_unknown_one_is_404(client):
    html = client.get("/launch?wf=everything.yaml&config=big").text
    assert 'value="giant"' in field(html, "who") and 'value="5"' in field(html, "count")
    assert "Loaded configuration &#39;big&#39;" in html
    r = client.get("/launch?wf=everything.yaml&config=huge")
    assert r.status_code == 404 and "unknown configuration" in r.text


def test_workflows_list_with_descriptions_and_static_files(client):
    html = client.get("/workflows").text
    assert "Every input type the form draws." in html and "/launch?wf=everything.yaml" in html
    for name in ("htmx.min.js", "htmx-ext-sse.min.js", "cytoscape.min.js", "dagre.min.js", "cytoscape-dagre.min.js"):
        assert client.get(f"/static/vendor/{name}").status_code == 200, name
    assert "/static/vendor/htmx.min.js" in html  # vendored: no CDN
    assert "https://" not in html


def test_pages_need_the_login_and_cookie_posts_need_csrf(client):
    bare = TestClient(client.app, base_url="http://127.0.0.1:8765")
    assert bare.get("/workflows").status_code == 401
    token = client.headers["Authorization"].split()[1]
    bare.get(f"/login?token={token}", follow_redirects=False)
    assert bare.get("/workflows").status_code == 200
    r = bare.post("/launch/form", data={"wf": "everything.yaml"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = bare.post("/launch/form", data={"wf": "everything.yaml", "csrf": bare.cookies["wfrun_csrf"]})
    assert r.status_code == 200


def test_unknown_or_invalid_workflows_and_runs_are_pages_with_the_reason(client, tmp_path):
    r = client.get("/launch?wf=nope.yaml")
    assert r.status_code == 404 and "no workflow file &#39;nope.yaml&#39;" in r.text and "<html" in r.text
    r = client.get("/runs/99")
    assert r.status_code == 404 and "run 99 not found (no runs yet)" in r.text
    (tmp_path / "flows" / "broken.yaml").write_text("jobs:\n  a:\n    steps:\n      - run: 3\n        bogus: 1\n")
    r = client.get("/launch?wf=broken.yaml")
    assert r.status_code == 422 and "broken.yaml is not a valid workflow" in r.text and "bogus" in r.text


def test_a_run_page_shows_steps_graph_outputs_and_masked_inputs(client, tmp_path):
    """A run started from the terminal (a real wfrun run) shows on its page with its DAG data and outputs."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    flow = tmp_path / "flows" / "two.yaml"
    flow.write_text("""\
name: two
'on':
  execute:
    inputs:
      pw: {type: password}
jobs:
  a:
    steps:
      - name: make
        run: |
          echo "value=42" >> $OUTPUTS
          mkdir -p outputs && echo data > outputs/result.txt
  b:
    needs: [a]
    steps:
      - run: echo "b sees ${{ inputs.pw }}"
""")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-m", "workflow_runner", "run", str(flow), "--set", "pw=sesame-42"],
                          capture_output=True, text=True, env=env, cwd=tmp_path / "flows")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = client.get("/runs/1")
    assert page.status_code == 200, page.text
    html = page.text
    graph = json.loads(re.search(r'id="dag-data">(.*?)</script>', html, re.S).group(1))
    assert {n["data"]["id"]: n["data"]["status"] for n in graph["nodes"]} == {"a": "completed", "b": "completed"}
    assert [e["data"]["source"] + ">" + e["data"]["target"] for e in graph["edges"]] == ["a>b"]
    assert "sesame-42" not in html and "&#34;pw&#34;: &#34;***&#34;" in html
    assert 'id="relaunch"' in html and 'id="rerun" disabled' in html and 'id="cancel" disabled' in html
    outputs = client.get("/runs/1/outputs").text
    assert "value" in outputs and "42" in outputs
    runs = client.get("/runs?status=completed").text
    assert 'href="/runs/1"' in runs and client.get("/runs?status=failed").text.count('href="/runs/') == 0


def test_rerun_failed_from_the_page_then_cancel_of_a_final_run_is_refused(client, tmp_path):
    """Re-run only the failed jobs (as `wfrun rerun --failed`); what it refuses is shown on the page."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    flag = tmp_path / "flag"
    (tmp_path / "flows" / "flaky.yaml").write_text(f"""\
name: flaky
jobs:
  once:
    steps:
      - run: echo ok >> {tmp_path}/once.count
  flaky:
    steps:
      - run: if [ -f {flag} ]; then echo fixed; else touch {flag}; exit 3; fi
""")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-m", "workflow_runner", "run", str(tmp_path / "flows" / "flaky.yaml"), "-q"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    assert 'id="rerun" disabled' not in client.get("/runs/1").text
    r = client.post("/runs/1/rerun", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/runs/1"
    deadline = time.monotonic() + 60
    while 'class="status s-completed" id="run-status"' not in (html := client.get("/runs/1").text) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert 'class="status s-completed" id="run-status"' in html
    assert (tmp_path / "once.count").read_text() == "ok\n"  # the completed job did not run again
    r = client.post("/runs/1/rerun", follow_redirects=False)
    assert r.status_code == 409 and "nothing failed to re-run" in r.text
