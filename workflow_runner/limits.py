"""The bounds wfrun puts on what a file or an input can make it do, and how to raise them.

Hostile or mistaken input (a YAML alias bomb, a million-instance matrix, a
300-deep chain of sub-workflows) must end in a one-line error, fast and in
bounded memory, not in a machine that swaps for minutes. Each bound is
generous for real workflows and can be raised with an environment variable
(listed in the README's "Limits" section); the error message names it.
"""

from __future__ import annotations

import os

from workflow_runner.errors import LoadError, Location, UsesError
from workflow_runner.records import Record, record


def limit(name: str, default: int) -> int:
    """The bound ``name`` (an environment variable), or ``default`` when unset or not a positive integer."""
    raw = os.environ.get(name, "").strip()
    if raw.isdigit() and len(raw) < 19 and int(raw) > 0:
        return int(raw)
    return default


MAX_YAML_ALIAS_SIZE = "WFRUN_MAX_YAML_ALIAS_SIZE"
"""Total size of everything YAML aliases (``*name``) repeat in one file, in nodes (plus 1 per 32 characters of text)."""
MAX_YAML_ALIASES = "WFRUN_MAX_YAML_ALIASES"
"""Number of aliases in one file."""
MAX_MATRIX = "WFRUN_MAX_MATRIX"
"""Instances of one job's matrix, and of all matrices of a run together."""
MAX_USES_DEPTH = "WFRUN_MAX_USES_DEPTH"
"""Depth of nested sub-workflows (``uses: workflow/...`` inside one)."""

DEFAULTS = {
    MAX_YAML_ALIAS_SIZE: 500_000,
    MAX_YAML_ALIASES: 100_000,
    MAX_MATRIX: 10_000,
    MAX_USES_DEPTH: 32,
}

MAX_NESTING = 200
"""Depth of nested YAML collections, JSON inputs and ``--set`` paths (not configurable: recursion stays safe)."""


def deeper_than(value: object, most: int = MAX_NESTING) -> bool:
    """Whether ``value`` (JSON-like lists and dicts) nests more than ``most`` levels; iterative, so never a RecursionError."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > most:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def get(name: str) -> int:
    return limit(name, DEFAULTS[name])


@record
class AliasBudget(Record):
    """Counts what aliases expand to while a file loads, and stops a "billion laughs" before it costs anything.

    Aliases are shared, not copied, while loading — but every later walk of the
    tree (schema, model, expressions, JSON) visits each occurrence, so the
    expanded size is what costs time and memory. Safe YAML loaders bound it the
    same way.
    """

    spent: int = 0
    count: int = 0
    max_size: int = 0
    max_count: int = 0

    def __post_init__(self) -> None:
        self.max_size = self.max_size or get(MAX_YAML_ALIAS_SIZE)
        self.max_count = self.max_count or get(MAX_YAML_ALIASES)

    def spend(self, size: int, where: Location) -> None:
        self.count += 1
        self.spent += size
        if self.count > self.max_count:
            raise LoadError(f"too many YAML aliases (more than {self.max_count}); "
                            f"raise {MAX_YAML_ALIASES} if this file is genuine", location=where)
        if self.spent > self.max_size:
            raise LoadError(f"YAML aliases expand to more than {self.max_size} nodes (an alias bomb?); "
                            f"raise {MAX_YAML_ALIAS_SIZE} if this file is genuine", location=where)


def too_deep(uses: str, depth: int, location: Location | None) -> UsesError | None:
    """The error for a ``uses:`` that would nest sub-workflows ``depth`` levels deep, if past the limit.

    Each level adds a directory to the run directory (``sub/<name>/``), so an
    unbounded chain ends in "File name too long" halfway through a run.
    """
    most = get(MAX_USES_DEPTH)
    if depth <= most:
        return None
    return UsesError(f"uses: {uses}: sub-workflows nested more than {most} deep; "
                     f"set {MAX_USES_DEPTH} to raise the limit", location=location)
