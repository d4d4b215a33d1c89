"""Durations as users write them: 30, '30s', '5m', '1h30m', '2d', '01:00:00', '1-12:00:00', '90.5',
and ISO 8601 as torc writes them: 'PT4H', 'PT30M', 'P1DT2H', 'PT1H30M15S', 'P2W'.

ISO years and months are refused: they have no fixed length in seconds.
"""

from __future__ import annotations

import math
import re

# Patterns as text: ``re.compile`` at the point of use takes them from re's cache after the first time, and
# a run whose timeouts are unset never compiles them (~0.4 ms of start-up at import).
_PART = r"(?i)(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|m|min|mins|h|hr|hrs|d)?"
_UNIT = {None: 1, "ms": 0.001, "s": 1, "sec": 1, "secs": 1, "m": 60, "min": 60, "mins": 60,
         "h": 3600, "hr": 3600, "hrs": 3600, "d": 86400}
_NUM = r"(\d+(?:[.,]\d+)?)"
_ISO = rf"(?i)^P(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}W)?(?:{_NUM}D)?(?:T(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?$"
_ISO_SECONDS = (None, None, 7 * 86400, 86400, 3600, 60, 1)
_HINT = "use 30s, 5m, 1h30m, HH:MM:SS, D-HH:MM:SS or ISO 8601 like PT4H"
_CLOCK = r"^(?:(\d+)-)?(\d+)(?::(\d{1,2}))?(?::(\d{1,2}))?$"


def parse_duration(value: object) -> float | None:
    """Seconds, or None for no limit (None, '', 0). Raises ValueError with the bad text."""
    if value is None or value == "" or value is False:
        return None
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a duration")
    if isinstance(value, (int, float)):
        return float(value) if value > 0 else None
    text = str(value).strip()
    if text[:1] in ("P", "p"):
        return iso_seconds(text) or None
    if ":" in text:
        return _clock(text) or None
    pos, total = 0, 0.0
    compact = text.replace(" ", "")
    while pos < len(compact):
        match = re.compile(_PART).match(compact, pos)
        if not match or match.end() == pos:
            raise ValueError(f"'{text}' is not a duration ({_HINT})")
        total += float(match.group(1)) * _UNIT[(match.group(2) or "").lower() or None]
        pos = match.end()
    return total or None


def _clock(text: str) -> float:
    """MM:SS, HH:MM:SS, D-HH:MM:SS (SLURM's forms; ``D-HH`` needs a colon part to be read here)."""
    match = re.match(_CLOCK, text.replace(" ", ""))
    if not match:
        raise ValueError(f"'{text}' is not a duration ({_HINT})")
    days, *clock = match.groups()
    parts = [int(p) for p in clock if p is not None]
    seconds = 0
    for p in parts:
        seconds = seconds * 60 + p
    if len(parts) == 2 and days is not None:  # D-HH:MM
        seconds *= 60
    return float(seconds + int(days or 0) * 86400)


def iso_seconds(text: str) -> float:
    """Seconds of an ISO 8601 duration (``PT4H``, ``P1DT2H``, ``PT1H30M15S``, ``P2W``); ValueError otherwise."""
    match = re.match(_ISO, text.strip())
    if not match or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise ValueError(f"'{text}' is not a duration ({_HINT})")
    groups = match.groups()
    if groups[0] is not None or groups[1] is not None:
        raise ValueError(f"'{text}': ISO years and months have no fixed length; write days or weeks (e.g. P30D)")
    return sum(float(g.replace(",", ".")) * unit for g, unit in zip(groups[2:], _ISO_SECONDS[2:]) if g is not None)


def clock(seconds: float, *, days: bool) -> str:
    """``[D-]HH:MM:SS`` (rounded up to a whole second), as SLURM's --time (``days``) or PBS walltime take it."""
    total = math.ceil(round(seconds, 6))  # PT1.1H is 3960.0000000000005 s in floats: 01:06:00, not 01:06:01
    d, rest = divmod(total, 86400) if days else (0, total)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return (f"{d}-" if d else "") + f"{h:02d}:{m:02d}:{s:02d}"
