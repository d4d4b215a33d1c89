"""One secret masker for the whole program: password inputs and ``org`` values become ``***``.

Every place that hides secrets (step logs and live output, events, the run
store, ``wfrun inputs``, matrix instance names, ``$OUTPUTS`` files) calls this
module, so they all hide the same thing. Secrets are matched by one regular
expression, longest first: with secrets ``abc`` and ``abcdef`` the text
``abcdef`` becomes ``***``, never ``***def`` (replacing them one after the
other in the order given would leak the tail).

A secret is hidden in every form wfrun itself may turn it into (see
:func:`forms`), not only as typed: ``toJSON(inputs)`` prints it JSON-escaped,
an error message may quote it Python-style, job_runner shell-quotes it, and a
step's output reaches wfrun one line at a time, so a multi-line secret arrives
in pieces.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, Iterable

MASK = "***"

MIN_LINE = 3
"""The shortest line of a multi-line secret that is masked on its own (not counting blanks around it).

Output is masked line by line, so each line of a multi-line secret must be a
mask of its own (GitHub does the same). A line of one or two characters (a
lone ``}``, ``ab``) would turn every such character pair of every log into
``***`` and tells an onlooker next to nothing, so it is left alone.
"""


def forms(secret: str) -> set[str]:
    """``secret`` and the encodings of it wfrun produces: the texts to hide.

    - JSON-escaped (``toJSON``, ``json.dumps`` of matrix values), ASCII-only and not;
    - the body of Python's ``repr`` with either quote escaped (error messages);
    - shell-quoted (job_runner's ``| q`` filter);
    - each line of a multi-line secret with at least :data:`MIN_LINE` visible characters.
    """
    from shlex import quote  # only a run with secrets needs it

    if not secret:
        return set()
    found = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        repr(secret + "'\"")[1:-4],  # the body repr writes when it must escape a single quote
        quote(secret),
    }
    if "\n" in secret:
        found.update(line for line in (part.rstrip("\r") for part in secret.split("\n")) if len(line.strip()) >= MIN_LINE)
    return found


class Masker:
    """Replaces every occurrence of any of ``secrets`` (empty ones ignored), in any of its :func:`forms`, by ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets: tuple[str, ...] = tuple(sorted({s for s in secrets if s}, key=lambda s: (-len(s), s)))
        hidden = {form for s in self.secrets for form in forms(s)}
        ordered = sorted(hidden, key=lambda s: (-len(s), s))
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

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
