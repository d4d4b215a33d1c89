"""Building the expression contexts a job or step sees, and evaluating values in them."""

from __future__ import annotations

import math
import os
import re
from typing import Any, Mapping

from workflow_runner.expressions import Context, Template, render
from workflow_runner.expressions.values import stringify


def truthy(value: Any) -> bool:
    """GitHub's truthiness: false, 0, -0, NaN, '' and null are false; everything else true."""
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def as_text(value: Any) -> str:
    """How a value becomes an environment variable, a path or an output: exactly like a template substitution.

    One rendering (:func:`~workflow_runner.expressions.values.stringify`) for
    every value that becomes text, so ``X: ${{ 0.1 + 0.2 }}`` and ``"x ${{ 0.1 + 0.2 }}"``
    both give ``0.3``, and lists/objects are the same compact JSON either way.
    """
    return stringify(value)


def evaluate(value: Any, ctx: Context) -> Any:
    if isinstance(value, (Template, dict, list)):
        return render(value, ctx)
    return value


def render_env(layers: list[Mapping[str, Any]], ctx_for: Any) -> dict[str, str]:
    """Merge env maps (workflow → job → step); each layer sees the ``env`` merged so far."""
    env: dict[str, str] = {}
    for layer in layers:
        if not layer:
            continue
        ctx = ctx_for(env)
        for key, value in layer.items():
            env[str(key)] = as_text(evaluate(value, ctx))
    return env


_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand_path(text: str, env: Mapping[str, str], home: str) -> str:
    """``~``, ``$VAR`` and ``${VAR}`` expanded from ``env`` — never through a shell.

    Real files write ``working-directory: ${PW_PARENT_JOB_DIR}`` and ``rundir:
    ${PWD}``; expanding here keeps input values out of shell command lines.
    Unknown variables are left as they are.
    """
    if text == "~" or text.startswith("~/"):
        text = home + text[1:]

    def sub(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        return env.get(name, match.group(0))

    return _VAR.sub(sub, text)


def base_env() -> dict[str, str]:
    return dict(os.environ)
