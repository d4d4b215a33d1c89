"""The background process of ``wfrun run --detach``: its arguments arrive on stdin, not on its command line.

Any user of the machine can read a process's command line (``ps``, ``/proc/PID/cmdline``)
for as long as it runs, and a detached run may run for days. So the parent starts
``python -m workflow_runner.detached RUN`` — the run number is all ``ps`` shows —
and writes the real argument list (``--set pw=…`` included) as JSON to the
child's stdin, which the child then points at ``/dev/null`` like before.
"""

from __future__ import annotations

from workflow_runner.handoff import handoff, read_argv  # noqa: F401 (handoff: launch imports it from here until it imports handoff)

if __name__ == "__main__":
    from workflow_runner.cli import main

    raise SystemExit(main(read_argv()))
