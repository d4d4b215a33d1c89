"""The ``wfrun`` command's first module (the console script and ``python -m workflow_runner``).

Two costs of every ``wfrun`` process that are not its work:

- Start-up: the cyclic collector is paused before the command line's imports (asyncio,
  argparse, sqlite3 and wfrun's own modules). They build long-lived objects and no garbage,
  yet set off about thirty collections, some 3 ms. ``cli.entry`` keeps the pause until
  the engine starts (``gcpause``).
- Exit: once the command has returned, the interpreter would tear down every module and
  free every object one by one, about 4 ms after the run is over. :func:`_end` is the first
  exit handler registered, so it runs last: after every other one (``logging``'s, temporary
  directories', …) and after Python has joined the process's threads. It flushes stdout and
  stderr and ends the process with the command's exit code. The operating system takes the
  memory back whole; nothing wfrun writes is buffered outside those two streams (its record
  files are written with ``os.write``; the run store is closed before ``cli.entry`` returns).
"""

from __future__ import annotations

import atexit
import os
import sys

from workflow_runner import gcpause

_code: list[int] = []
"""The exit code of a command that returned (not one that raised): only then is the teardown skipped."""


def main() -> None:
    gcpause.until_started()
    atexit.register(_end)
    from workflow_runner.cli import entry

    try:
        entry()
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            _code.append(done.code or 0)
        raise


def _end() -> None:
    if not _code:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a reader that went away, a stream already closed
            pass
    os._exit(_code[0])
