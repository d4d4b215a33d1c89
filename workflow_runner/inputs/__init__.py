"""Resolve ``on.execute.inputs``: user values over defaults, coerced to their declared types.

Precedence, lowest first: definition defaults, a ``configurations`` preset
(``--config NAME``), the ``--inputs`` file, ``--set a.b=c``. Defaults and the
``hidden``/``ignore``/``optional`` attributes may be expressions over other
inputs (``default: ${{ inputs.resource.schedulerType != 'slurm' }}``), so values
are computed to a fixed point; ``${{ .hidden }}`` reads the input's own
attribute. An ignored input is removed. ``password`` values are secrets: they
are collected so every log line and every stored value can be masked.

The package: :mod:`.sources` (where values come from, presets, ``--inputs`` files, ``--set``),
:mod:`.resolver` (the fixed point and the checks), :mod:`.types` (each input type's coercion).
This module re-exports the public API the rest of wfrun uses.
"""

from __future__ import annotations

from workflow_runner.inputs.resolver import Resolver, SiblingAttributes, check_value, resolve, resolve_report
from workflow_runner.inputs.sources import (
    MASK, ResolvedInputs, Sources, deep_merge, load_values_file, mask, parse_set, preset, provide_stdin, read_stdin_once,
)
from workflow_runner.inputs.types import RESOURCE_TYPES, current_user, local_resource

__all__ = [
    "MASK", "RESOURCE_TYPES", "ResolvedInputs", "Resolver", "SiblingAttributes", "Sources", "check_value", "current_user",
    "deep_merge", "load_values_file", "local_resource", "mask", "parse_set", "preset", "provide_stdin", "read_stdin_once",
    "resolve", "resolve_report",
]
