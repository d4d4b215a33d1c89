"""One secret masker for the whole program: password inputs and ``org`` values become ``***``.

Every place that hides secrets (step logs and live output, events, the run
store, ``wfrun inputs``) calls this module, so they all hide the same thing.
Secrets are matched by one regular expression, longest first: with secrets
``abc`` and ``abcdef`` the text ``abcdef`` becomes ``***``, never ``***def``
(replacing them one after the other in the order given would leak the tail).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterable

MASK = "***"


class Masker:
    """Replaces every occurrence of any of ``secrets`` (empty ones ignored) by ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets: tuple[str, ...] = tuple(sorted({s for s in secrets if s}, key=lambda s: (-len(s), s)))
        self._pattern = re.compile("|".join(map(re.escape, self.secrets))) if self.secrets else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        """``text`` with the secrets masked."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def tree(self, value: Any) -> Any:
        """A copy of a JSON-like value (mappings, lists, strings) with every string masked."""
        if self._pattern is None:
            return value
        if isinstance(value, dict):
            return {k: self.tree(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.tree(v) for v in value]
        if isinstance(value, str):
            return self(value)
        return value


@lru_cache(maxsize=64)
def masker(secrets: tuple[str, ...]) -> Masker:
    """The (cached) masker of ``secrets``: callers whose secret list grows pass the current tuple."""
    return Masker(secrets)


def mask_text(text: str, secrets: Iterable[str]) -> str:
    return masker(tuple(secrets))(text)


def mask_tree(value: Any, secrets: Iterable[str]) -> Any:
    return masker(tuple(secrets)).tree(value)
