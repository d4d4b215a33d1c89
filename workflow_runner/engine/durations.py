"""Durations as users write them: 30, '30s', '5m', '1h30m', '2d', '01:00:00', '90.5'."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|m|min|mins|h|hr|hrs|d)?", re.I)
_UNIT = {None: 1, "ms": 0.001, "s": 1, "sec": 1, "secs": 1, "m": 60, "min": 60, "mins": 60,
         "h": 3600, "hr": 3600, "hrs": 3600, "d": 86400}


def parse_duration(value: object) -> float | None:
    """Seconds, or None for no limit (None, '', 0). Raises ValueError with the bad text."""
    if value is None or value == "" or value is False:
        return None
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a duration")
    if isinstance(value, (int, float)):
        return float(value) if value > 0 else None
    text = str(value).strip()
    if ":" in text:
        parts = text.split(":")
        if len(parts) > 3 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"'{text}' is not a duration (use 30s, 5m, 1h30m or HH:MM:SS)")
        seconds = 0
        for p in parts:
            seconds = seconds * 60 + int(p)
        return float(seconds) or None
    pos, total = 0, 0.0
    compact = text.replace(" ", "")
    while pos < len(compact):
        match = _PART.match(compact, pos)
        if not match or match.end() == pos:
            raise ValueError(f"'{text}' is not a duration (use 30s, 5m, 1h30m or HH:MM:SS)")
        total += float(match.group(1)) * _UNIT[(match.group(2) or "").lower() or None]
        pos = match.end()
    return total or None
