"""Signal names, exit messages and the number/duration settings of ``retry:``/``termination:``."""

from __future__ import annotations

import signal
from typing import Any

from workflow_runner.engine.durations import parse_duration
from workflow_runner.errors import WorkflowError


def signal_number(value: Any) -> int:
    """15, 'TERM', 'SIGTERM', 'usr1' → the signal number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    name = str(value).strip().upper()
    if name.isdigit():
        return int(name)
    try:
        return int(signal.Signals[name if name.startswith("SIG") else "SIG" + name])
    except KeyError:
        raise WorkflowError(f"termination.signal: unknown signal '{value}'") from None


def exit_message(code: int | None) -> str:
    """Why a process ended, in words: ``exit code 3``, ``killed by SIGKILL``."""
    if code is None:
        return "failed"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def duration_setting(value: Any, what: str) -> float | None:
    """A duration setting (``timeout``, ``retry.interval``); a bad one is the workflow's error."""
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise WorkflowError(f"{what}: {exc}") from None


def number_setting(value: Any, what: str) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        raise WorkflowError(f"{what} must be a number, got {value!r}") from None


def termination_of(spec: Any) -> tuple[int, float] | None:
    """(signal number, seconds before the limit) from an evaluated ``termination:`` mapping."""
    if not isinstance(spec, dict):
        return None
    return signal_number(spec.get("signal", "TERM")), duration_setting(spec.get("before"), "termination.before") or 0.0
