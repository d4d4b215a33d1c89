"""``wfrun serve``'s pages end to end in a real browser: Playwright driving Debian's chromium against a real server.

Never skipped: without chromium (installed by tests/run.sh / scripts/setup.sh --test) the test fails saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from serve_env import free_port, start_server
from workflow_runner.serve.settings import load_or_create_token

CHROMIUM = os.environ.get("WFRUN_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]

FORM = """\
name: webform
description: Picks a cloud region and talks about it.
'on':
  execute:
    inputs:
      cloud: {type: dropdown, label: Cloud, default: aws, options: [aws, gcp]}
      region:
        type: dropdown
        label: Region
        option-key: ${{ inputs.cloud }}
        options:
          aws: [us-east-1, eu-west-1]
          gcp: [europe-west4, us-central1]
      fast: {type: boolean, label: Go fast, default: false}
      threads: {type: number, label: Threads, default: 2, min: 1, max: 8, hidden: "${{ !inputs.fast }}"}
jobs:
  prepare:
    steps:
      - run: echo "prepare ${{ inputs.cloud }}"
  work:
    needs: [prepare]
    strategy:
      matrix:
        part: [a, b]
    steps:
      - name: talk
        run: |
          for i in 1 2 3 4 5 6; do printf '\\033[32mline %s\\033[0m in ${{ inputs.region }} x${{ inputs.threads }}\\n' $i; sleep 0.5; done
  report:
    needs: [work]
    steps:
      - run: echo done
"""

BIG = """\
name: big
jobs:
  flood:
    steps:
      - name: write
        run: |
          python3 -c "
          import sys
          line = 'x' * 90
          for i in range(1_100_000): sys.stdout.write(f'{i:08d} {line}\\n')
          print('THE-LAST-LINE')
          "
"""

SLOW = """\
name: slow
description: Sleeps until canceled.
jobs:
  wait:
    steps:
      - name: nap
        run: echo napping; sleep 120
        cleanup: echo "cleanup ran after cancel"
"""


@pytest.fixture
def server(tmp_path):
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"chromium is not installed ({CHROMIUM}): run tests/run.sh or scripts/setup.sh --test, which "
                    "apt-get install it (the browser test is never skipped)")
    root = tmp_path / "flows"
    root.mkdir()
    (root / "webform.yaml").write_text(FORM)
    (root / "slow.yaml").write_text(SLOW)
    home = tmp_path / "home"
    env = {"WFRUN_HOME": str(home), "WFRUN_CONFIG": str(tmp_path / "none.yaml"), "PYTHONPATH": str(REPO)}
    token = load_or_create_token(home)
    port = free_port()
    proc = start_server(root, port, env)
    try:
        yield f"http://127.0.0.1:{port}", token, root, env
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_launch_follow_and_cancel_in_a_browser(server):
    from playwright.sync_api import expect, sync_playwright

    base, token, _, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"))
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        panels: list[float] = []
        page.on("request", lambda r: panels.append(time.monotonic()) if r.url.endswith("/panel") else None)
        page.goto(f"{base}/login?token={token}")
        page.goto(f"{base}/workflows")
        expect(page.locator("#workflows")).to_contain_text("Picks a cloud region and talks about it.")
        page.click("text=webform")

        # the form: a hidden-when field and a dependent dropdown, both re-evaluated by the server
        expect(page.locator("#f-threads-wrap")).to_be_hidden()
        expect(page.locator("#f-region option")).to_have_text(["", "us-east-1", "eu-west-1"])
        page.select_option("#f-cloud", "gcp")
        expect(page.locator("#f-region option")).to_have_text(["", "europe-west4", "us-central1"])
        page.select_option("#f-region", "us-central1")
        page.check("#f-fast")
        expect(page.locator("#f-threads-wrap")).to_be_visible()
        # A person types after the form has settled; a fill in the same millisecond as the swap
        # can land before htmx has wired the new fields (seen once on a loaded CI machine).
        page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")
        page.fill("#f-threads", "12")
        expect(page.locator("#f-threads-wrap .error")).to_contain_text("at most 8")
        page.fill("#f-threads", "3")
        expect(page.locator("#f-threads-wrap .error")).to_have_count(0)
        page.click("#launch")
        page.wait_for_url("**/runs/*")
        run = page.url.rsplit("/", 1)[1]
        landed = time.monotonic()

        # the log follows live: the first lines arrive while the step still runs
        page.locator(".show-log[data-job^='work'][data-step='1']").first.click(timeout=30_000)
        expect(page.locator("#log")).to_contain_text("line 1 in us-central1 x3", timeout=30_000)
        assert "line 6" not in page.inner_text("#log"), "the whole log arrived at once: it was not followed live"
        expect(page.locator("#log")).to_contain_text("line 6 in us-central1 x3", timeout=30_000)
        expect(page.locator("#log .a-fg32").first).to_have_text("line 1")  # ANSI colour rendered, not shown raw
        # the DAG turns green: every job (the matrix instances grouped under 'work') completed
        green = page.wait_for_function(
            "() => { const d = document.getElementById('dag'); if (!d || !d.dataset.statuses) return false;"
            " const s = JSON.parse(d.dataset.statuses); return Object.keys(s).length >= 5 &&"
            " Object.values(s).every(v => v === 'completed') && s; }", timeout=60_000).json_value()
        # the panel is re-rendered on the run's server-sent events, not only by the 5-second poll
        assert len([t for t in panels if t - landed < 4.5]) >= 2, [round(t - landed, 2) for t in panels]
        assert set(green) >= {"prepare", "work", "report"} and len([k for k in green if k.startswith("work (")]) == 2
        expect(page.locator("#run-status")).to_have_text("completed")
        page.locator(".show-log[data-job^='work'][data-step='1']").first.click()
        expect(page.locator("#log")).to_contain_text("line 6", timeout=10_000)
        # README's docs/serve.png is this screenshot; it is refreshed only on request, so a test run
        # leaves the checkout clean: WFRUN_UPDATE_SCREENSHOT=1 pytest tests/integration/test_webui_browser.py
        shot = page.screenshot(full_page=True)
        assert shot.startswith(b"\x89PNG") and len(shot) > 20_000
        if os.environ.get("WFRUN_UPDATE_SCREENSHOT") == "1":
            (REPO / "docs" / "serve.png").write_bytes(shot)

        # relaunch opens the form with the same inputs
        page.click("#relaunch")
        expect(page.locator("#f-region")).to_have_value("us-central1")
        expect(page.locator("#f-threads")).to_have_value("3")

        # a second run, canceled: its cleanup runs and shows in its log
        page.goto(f"{base}/launch?wf=slow.yaml")
        page.click("#launch")
        page.wait_for_url("**/runs/*")
        assert page.url.rsplit("/", 1)[1] != run
        page.locator(".show-log[data-job='wait'][data-step='1']").click(timeout=30_000)
        expect(page.locator("#log")).to_contain_text("napping", timeout=30_000)
        page.click("#cancel")
        expect(page.locator("#run-status")).to_have_text("canceled", timeout=60_000)
        page.locator(".show-log[data-job='wait'][data-step$='(cleanup)']").click(timeout=30_000)
        expect(page.locator("#log")).to_contain_text("cleanup ran after cancel", timeout=30_000)

        # the runs list shows both, filterable by status
        page.goto(f"{base}/runs?status=canceled")
        expect(page.locator("table.runs tbody tr")).to_have_count(1)
        expect(page.locator("table.runs")).to_contain_text("slow")
        browser.close()
        assert not errors, errors


@pytest.mark.slow
def test_a_100_mb_log_opens_at_its_tail_without_freezing_the_page(server):
    """The page fetches the last 256 KiB, keeps at most 5,000 lines in the DOM and stays responsive."""
    from playwright.sync_api import expect, sync_playwright

    base, token, root, env = server
    (root / "big.yaml").write_text(BIG)
    proc = subprocess.run([sys.executable, "-m", "workflow_runner", "run", str(root / "big.yaml"), "-q"],
                          capture_output=True, text=True, env={**os.environ, **env}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"))
        page = browser.new_page()
        fetched: list[int] = []
        page.on("response", lambda r: fetched.append(len(r.body())) if "/log?" in r.url else None)
        page.goto(f"{base}/login?token={token}")
        page.goto(f"{base}/runs/1")
        started = time.monotonic()
        page.click(".show-log[data-job='flood']")
        expect(page.locator("#log")).to_contain_text("THE-LAST-LINE", timeout=20_000)
        assert time.monotonic() - started < 10
        assert page.evaluate("document.querySelectorAll('#log .line').length") <= 5000
        assert sum(fetched) < 2 * 1024 * 1024, fetched  # the tail, not 110 MB
        expect(page.locator("#log-info")).to_contain_text("showing from byte")
        assert page.evaluate("1 + 1") == 2  # the page still answers
        first = page.locator("#log .line").first.inner_text()
        page.click("#log-earlier")
        expect(page.locator("#log .line").first).not_to_have_text(first)
        assert int(page.locator("#log .line").first.inner_text()[:8]) < int(first[:8])  # older lines, before
        assert page.evaluate("document.querySelectorAll('#log .line').length") <= 5000
        href = page.get_attribute("#log-download", "href")
        assert href.endswith("logs/flood/01-1.log"), href
        browser.close()
