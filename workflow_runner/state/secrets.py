"""Where in a run's inputs secrets were found: a resume drops those entries and asks again."""

from __future__ import annotations

from typing import Any, Iterable

from workflow_runner import inputpath


def secret_paths_of(values: Any, secrets: Iterable[str], prefix: tuple = ()) -> list[str]:
    """Input paths (``a.b``, ``list[2]``, ``creds[0].pw``: :mod:`workflow_runner.inputpath`) whose string value holds one of ``secrets``."""
    secrets = [s for s in secrets if s]
    if not secrets:
        return []
    found: list[str] = []
    if isinstance(values, dict):
        for key, value in values.items():
            found += secret_paths_of(value, secrets, prefix + (str(key),))
    elif isinstance(values, list):
        for i, value in enumerate(values):
            found += secret_paths_of(value, secrets, prefix + (i,))
    elif isinstance(values, str) and any(s in values for s in secrets):
        found.append(inputpath.format(prefix))
    return found

