"""The label of an unnamed ``run:`` step: its first script line, readable.

A label is shown on every output line, in ``wfrun status`` and in log file
names, and is fixed when the workflow is loaded — before input values exist.
So expressions that need no context (``${{ 2 * 3 }}``) are rendered, and the
others (``${{ inputs.n }}``, ``${{ success() }}``) are elided as ``…`` instead
of showing raw ``${{ }}`` text that looks like a bug.
"""

from __future__ import annotations

import re
from typing import Any

from workflow_runner.errors import WorkflowError
from workflow_runner.expressions import Context, compile_string, contains_expression
from workflow_runner.expressions.evaluator import evaluate
from workflow_runner.expressions.nodes import PositionedError, references
from workflow_runner.expressions.values import stringify

ELIDED = "…"
MAX = 40
_ANY_EXPRESSION = re.compile(r"\$(\{\{|<<).*?(\}\}|>>|$)")


def script_label(text: Any) -> str:
    """The first non-blank, non-comment line of ``text`` with expressions rendered or elided, at most 40 characters."""
    if not isinstance(text, str):
        return "run"
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            line = render_line(line)
            return line if len(line) <= MAX else line[: MAX - 3] + "..."
    return "run"


def render_line(line: str) -> str:
    if not contains_expression(line):
        return line
    try:
        template = compile_string(line)
    except WorkflowError:  # e.g. an expression that continues on the next line
        return _ANY_EXPRESSION.sub(ELIDED, line)
    return "".join(part if type(part) is str else _constant(part) for part in getattr(template, "parts", (line,)))


def _constant(node: Any) -> str:
    if any(True for _ in references(node)):
        return ELIDED
    try:
        return stringify(evaluate(node, Context(values={})))
    except (PositionedError, WorkflowError, RecursionError):
        return ELIDED
