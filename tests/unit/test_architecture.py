"""The layer contract: a new import cycle or an upward import fails with the chain that caused it."""

import ast
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


STDLIB_UNDERSCORE = {"_replace", "_asdict", "_fields", "_make", "_exit", "_getframe"}
"""Underscore names that are public API of the standard library (namedtuple, os, sys)."""


def test_no_module_uses_another_modules_private_names():
    """``from x import _y`` and ``obj._y`` on anything but ``self``/``cls``: each is a seam one layer reaches through."""
    hits = []
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                hits += [f"{path.relative_to(ROOT)}:{node.lineno}: import {a.name}" for a in node.names
                         if a.name.startswith("_") and not a.name.startswith("__")]
            elif (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                  and node.attr not in STDLIB_UNDERSCORE
                  and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                hits.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert not hits, "\n".join(hits)


def test_no_module_over_450_lines():
    """Small modules named after what they do: one over 450 lines holds more than one idea."""
    big = {str(p.relative_to(ROOT)): n for p in sorted(PKG.rglob("*.py")) if (n := len(p.read_text().splitlines())) > 450}
    assert not big, big
