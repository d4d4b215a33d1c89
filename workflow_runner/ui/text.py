"""Small wording helpers shared by everything that prints to a person."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 job``, ``2 jobs``, ``0 jobs``; ``many`` for irregular plurals (``1 process``/``2 processes``)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
