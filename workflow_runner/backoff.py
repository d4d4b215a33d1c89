"""One formula for every "wait longer after each failure" in wfrun.

``delay(n) = min(cap, first * factor**n + step * n)`` for the n-th retry (n = 0 first).
Geometric (``factor=2``), linear (``factor=1, step=...``) and capped variants cover the
SSH channel-open retry, the SSH signal retry, the batch status query and cancel, and the
run store's flush retry, so each call site states its numbers, not its own arithmetic.
Imports only ``records`` of wfrun: any layer above it may use it.
"""

from __future__ import annotations

import math

from workflow_runner.records import ReadOnly, frozen


@frozen
class Backoff(ReadOnly):
    """The one retry delay formula: ``first * factor**n``, at most ``cap``, plus ``step * n``."""

    first: float
    factor: float = 2.0
    cap: float = math.inf
    step: float = 0.0

    def delay(self, n: int) -> float:
        """Seconds to wait before retry number ``n`` (0-based)."""
        return min(self.cap, self.first * self.factor ** max(0, n) + self.step * max(0, n))
