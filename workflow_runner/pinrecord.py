"""The record of the commits a run's ``github/…`` and checkout refs resolved to (``uses.json`` in the run directory).

Kept apart from uses/github.py (which writes it) so that readers below the ``uses`` layer —
the run store's queries, ``wfrun status`` — read it without importing git machinery.
"""

from __future__ import annotations

import json
from pathlib import Path

RECORD = "uses.json"
"""In the run directory: the commit each ref of the run resolved to (``wfrun status``, ``wfrun resume``)."""


def read_pins(run_dir: Path | str | None) -> dict[str, dict]:
    """What ``uses.github.record_pins`` wrote, or {} (older runs, runs that fetched nothing)."""
    if not run_dir:
        return {}
    try:
        data = json.loads((Path(run_dir) / RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
