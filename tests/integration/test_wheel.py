"""wfrun installed from its wheel (no source tree) runs: schemas, marketplace and job_runner templates ship inside.

The wheel is built the way a user or pipx builds it (``python -m build``: the
sdist, then the wheel from the sdist) and installed into a fresh virtual
environment. Only wfrun's dependencies are borrowed from the interpreter running
the tests (a ``.pth`` line: nested ``.pth`` files, such as an editable install's,
are not processed there), so the test needs no download beyond the build
backend, while wfrun itself comes from the wheel. Every command runs from another
directory, without PYTHONPATH, on copies of the examples.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=300, cwd=out)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> Path:
    env_dir = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--clear", str(env_dir)], check=True, timeout=120)
    python = env_dir / "bin" / "python"
    wheel = next(dist.glob("wfrun-*.whl"))
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                           "--no-index", str(wheel)], capture_output=True, text=True, timeout=300, env=_clean_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # after the install, so that pip never sees a wfrun of the test environment as already installed
    purelib = Path(_python(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (purelib / "zz_test_deps.pth").write_text("\n".join(deps) + "\n")
    return env_dir


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    return {**env, **extra}


def _python(python: Path, code: str) -> str:
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60,
                          env=_clean_env(), cwd="/")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def installed(venv, tmp_path):
    """installed(*args) runs the wheel's ``wfrun`` console script from an empty directory."""
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _clean_env(WFRUN_HOME=str(tmp_path / "home"), WFRUN_CONFIG=str(tmp_path / "no-config.yaml"))
    env.pop("WFRUN_MARKETPLACE_PATH", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin" / "wfrun"), *map(str, args)], capture_output=True, text=True,
                              timeout=180, env=env, cwd=work)

    return run


@pytest.fixture
def examples(tmp_path) -> Path:
    """A copy of examples/, so no file of the checkout is in reach of the installed wfrun."""
    copy = tmp_path / "examples"
    subprocess.run(["cp", "-r", str(EXAMPLES), str(copy)], check=True)
    return copy


def test_wfrun_and_its_data_come_from_the_wheel(venv):
    site_dir = _python(venv / "bin" / "python", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    where = _python(venv / "bin" / "python",
                    "import workflow_runner, workflow_runner.bundled as b\n"
                    "print(workflow_runner.__file__); print(b.data_root()); print(b.job_runner_templates())").split()
    assert all(path.startswith(site_dir + "/workflow_runner") for path in where), (site_dir, where)
    assert not any(path.startswith(str(ROOT) + "/") for path in where)


def test_validate_examples(installed, examples):
    files = sorted(examples.rglob("*.yaml"))
    result = installed("validate", *files)
    assert result.returncode == 0, result.stderr
    assert [line.split(": ")[-1] for line in result.stdout.splitlines()] == ["ok"] * len(files)


def test_run_an_example(installed, examples):
    result = installed(examples / "hello.yaml", "--set", "name=wheel")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Hello, wheel! This is run 1 of hello." in result.stdout


def test_job_runner_step_renders_its_templates(installed, examples):
    result = installed(examples / "job-runner.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "result=42" in result.stdout and "ended COMPLETED" in result.stdout


def test_actions_show_reads_the_bundled_marketplace(installed):
    result = installed("actions", "show", "job_runner/v4.0")
    assert result.returncode == 0, result.stderr
    assert "resource" in result.stdout and "scheduler" in result.stdout
    listing = installed("actions")
    assert listing.returncode == 0, listing.stderr
    assert "job_runner" in listing.stdout and "v3.5" in listing.stdout


def test_schema_commands(installed):
    for args, title in ((["schema"], "workflow"), (["schema", "--action"], "action")):
        result = installed(*args)
        assert result.returncode == 0, result.stderr
        schema = json.loads(result.stdout)
        assert schema["$schema"].startswith("https://json-schema.org/") and "properties" in schema, title


def test_sdist_carries_the_data(dist):
    with tarfile.open(next(dist.glob("wfrun-*.tar.gz"))) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    tracked = [str(path.relative_to(ROOT)) for folder in ("schemas", "marketplace", "workflow_runner/actions/job_runner/templates")
               for path in (ROOT / folder).rglob("*") if path.is_file()]
    assert len(tracked) >= 6
    assert set(tracked) <= names, set(tracked) - names
    with zipfile.ZipFile(next(dist.glob("wfrun-*.whl"))) as wheel:
        inside = set(wheel.namelist())
    assert {"workflow_runner/data/schemas/workflow.schema.json", "workflow_runner/data/marketplace/job_runner/v4.0.yaml",
            "workflow_runner/actions/job_runner/templates/job.sh.j2"} <= inside


def test_the_wheel_ships_the_serve_pages(dist):
    """`wfrun serve`'s templates and vendored front-end files are package data: without them the pages 500."""
    names = set(zipfile.ZipFile(next(dist.glob("*.whl"))).namelist())
    for name in ("templates/base.html", "templates/_form.html", "static/app.js", "static/vendor/htmx.min.js",
                 "static/vendor/htmx-ext-sse.min.js", "static/vendor/cytoscape.min.js", "static/vendor/dagre.min.js",
                 "static/vendor/cytoscape-dagre.min.js", "static/vendor/README.md", "static/vendor/htmx.LICENSE"):
        assert f"workflow_runner/serve/{name}" in names, name
