"""The one error of the sessions package: a tunnel that cannot be opened (or re-opened), said in one line."""

from __future__ import annotations

from workflow_runner.errors import WorkflowError


class SessionError(WorkflowError):
    """A session's tunnel could not be opened: kubectl missing or failing, a port taken, a bad target."""
