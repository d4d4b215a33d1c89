"""The background process of ``wfrun run --detach``: ``python -m workflow_runner.detached RUN``.

Its arguments arrive on stdin, not on its command line (see :mod:`workflow_runner.handoff`):
any user can read a process's command line for as long as it runs.
"""

from __future__ import annotations

from workflow_runner.handoff import handoff, read_argv  # noqa: F401 (the names this entry point always had)

if __name__ == "__main__":
    from workflow_runner.cli import main

    raise SystemExit(main(read_argv()))
