"""The layer contract: a new import cycle or an upward import fails with the chain that caused it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "workflow_runner"


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")  # console script of import-linter
    proc = subprocess.run([str(lint), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]  # the broken chains, verbatim
