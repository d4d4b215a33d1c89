"""The status words the run store keeps for runs, jobs and steps.

Apart from the row types (state/rows.py) because a run writes these words into
every row and never reads a row back: it need not create the row dataclasses.
"""

from __future__ import annotations

CREATED = "created"
RUNNING = "running"
BLOCKED = "blocked"
INTERRUPTED = "interrupted"
RUN_FINAL = frozenset({"completed", "failed", "canceled", INTERRUPTED})
"""A run in one of these statuses will not change any more (unless resumed)."""
FINAL = frozenset({"completed", "failed", "skipped", "canceled", INTERRUPTED})
"""Final statuses of jobs and steps."""
