"""What ``wfrun validate`` says about platform-dialect bare words (``pvc != Existing``).

A bare word is accepted as its own name as a string because real platform
workflows rely on it (DESIGN.md §3), but it is also what a typo looks like
(``if: eror``). So validation reports each distinct word once, as a *hint*
(never fatal, not counted by ``--strict``), and a word that is close to a
context, status keyword or function name as a *warning* at every place it
occurs, since that is most likely a mistake that silently became a string.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field

from workflow_runner.errors import Location, did_you_mean
from workflow_runner.expressions import CONTEXT_NAMES, STATUS_KEYWORDS, Template
from workflow_runner.expressions.functions import FUNCTIONS
from workflow_runner.records import Record, record

_KNOWN = sorted(CONTEXT_NAMES | STATUS_KEYWORDS | {f.name for f in FUNCTIONS.values()})


@record
class Notes(Record):
    """What ``wfrun validate`` says about bare words: hints for the deliberate ones, warnings for likely typos."""

    hints: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def bare_word_notes(templates: Iterable[Template]) -> Notes:
    """Hints (one per distinct word, with its first place and how many more) and typo warnings."""
    notes = Notes()
    places: dict[str, list[Location | None]] = {}
    seen: set[tuple[str, Location | None]] = set()
    for template in templates:
        for word, loc in template.bare_words():
            if (word, loc) in seen:  # one template reached twice (a job's early-cancel in each step)
                continue
            seen.add((word, loc))
            typo = did_you_mean(word, _KNOWN)
            if typo:
                notes.warnings.append(f"{loc}: bare word '{word}' is read as the string '{word}'{typo}")
            else:
                places.setdefault(word, []).append(loc)
    for word, locs in places.items():
        more = f" (and {len(locs) - 1} more)" if len(locs) > 1 else ""
        notes.hints.append(f"{locs[0]}: bare word '{word}' is read as the string '{word}'{more}; quote it ('{word}') to say so")
    return notes
