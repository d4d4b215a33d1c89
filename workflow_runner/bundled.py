"""Where the files wfrun ships with are: JSON schemas, marketplace definitions, job_runner templates.

The top-level ``schemas/`` and ``marketplace/`` folders of the source tree are the
source of truth. A wheel — built directly or from the sdist — carries them inside
the package as ``workflow_runner/data/`` (pyproject.toml maps them at build
time), because an installed package has no source tree next to it. A source
checkout (``PYTHONPATH=<checkout>`` or an editable install) has no ``data/`` and
uses the checkout's own folders, so there is a single copy to edit. Everything
that reads these files asks this module, so all three ways of running wfrun
find the same files.
"""

from __future__ import annotations

import functools
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
"""The installed package's folder (what ``importlib.resources.files`` gives for a package on disk,
without importing its zip support on every start-up)."""


@functools.cache
def data_root() -> Path:
    """The folder holding ``schemas/`` and ``marketplace/``: the packaged copy, else the checkout."""
    packaged = _PACKAGE_DIR / "data"
    checkout = _PACKAGE_DIR.parent
    for root in (packaged, checkout):
        if (root / "schemas").is_dir():
            return root
    raise RuntimeError(f"wfrun is installed without its data files: neither {packaged}/schemas "
                       f"nor {checkout}/schemas exists; reinstall wfrun")


def schema_file(name: str) -> Path:
    """``schemas/<name>.schema.json`` (``workflow`` or ``action``)."""
    return data_root() / "schemas" / f"{name}.schema.json"


def marketplace_dir() -> Path:
    """The bundled ``marketplace/``: the last directory of the ``uses:`` search path."""
    return data_root() / "marketplace"


def job_runner_templates() -> Path:
    """job_runner's Jinja templates (``*.sh.j2``), package data of ``actions.job_runner``."""
    folder = _PACKAGE_DIR / "actions" / "job_runner" / "templates"
    if not folder.is_dir():
        raise RuntimeError(f"wfrun is installed without job_runner's templates: {folder} does not exist; reinstall wfrun")
    return folder
