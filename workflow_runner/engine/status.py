"""Statuses, and the answers the ``if:`` status keywords give.

On a step, keywords look at the job so far; on a job, at the jobs it needs
(transitively, like GitHub's ``failure()``). No ``if`` means ``completed``.
"""

from __future__ import annotations


from workflow_runner.records import ReadOnly, frozen

BLOCKED = "blocked"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
SKIPPED = "skipped"
CANCELED = "canceled"

FINAL = (COMPLETED, FAILED, SKIPPED, CANCELED)


@frozen
class StatusView(ReadOnly):
    """What happened before: enough to answer every status keyword."""

    failed: bool
    canceled: bool

    def status(self, keyword: str) -> bool:
        kw = keyword.lower()
        if kw == "always":
            return True
        if kw == "never":
            return False
        if kw in ("completed", "success"):
            return not self.failed and not self.canceled
        if kw in ("error", "failure"):
            return self.failed
        if kw in ("canceled", "cancelled"):
            return self.canceled
        raise KeyError(keyword)
