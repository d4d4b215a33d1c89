"""The ``wfrun`` command's first module (the console script and ``python -m workflow_runner``).

It pauses the cyclic collector before the command line's imports (asyncio, argparse,
sqlite3 and wfrun's own modules): they build long-lived objects and no garbage, yet set
off about thirty collections, some 3 ms of every start-up. ``cli.entry`` keeps the pause
until the engine starts (``gcpause``).
"""

from __future__ import annotations

from workflow_runner import gcpause


def main() -> None:
    gcpause.until_started()
    from workflow_runner.cli import entry

    entry()
