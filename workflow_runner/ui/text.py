"""Small wording helpers shared by everything that prints to a person."""

from __future__ import annotations

import re
from typing import Any, TextIO


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 job``, ``2 jobs``, ``0 jobs``; ``many`` for irregular plurals (``1 process``/``2 processes``)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


# C0 and C1 controls, DEL, and the invisible Unicode format characters that reorder
# or hide text (bidi overrides, line/paragraph separators). Patterns as text: re compiles
# them when first used and keeps them (compiling these at import was ~0.6 ms of every start-up).
_CONTROL = "[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
_CONTROL_BUT_TAB = "[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
_SGR = r"\x1b\[[0-9;]{0,32}m"
_OUR_SGR = r"\x1b\[(?:0|1|2|3[0-7]|9[0-7])m"


def _escape(match: re.Match) -> str:
    char = match.group()
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def visible(text: str) -> str:
    """``text`` (a workflow, job or step name, a message) with every control character shown as an escape.

    Names come from the user's file: an ESC in one must not clear the screen,
    move the cursor or retitle the terminal when wfrun prints it.
    """
    return re.sub(_CONTROL, _escape, text)


def panel_safe(line: str) -> str:
    """A step's output line for the live panel: its colours (SGR) kept, every other control shown as an escape.

    Cursor moves, screen clears and carriage returns would tear the panel that
    rich redraws below the output; tabs and colours cannot.
    """
    parts = []
    last = 0
    for match in re.finditer(_SGR, line):
        parts.append(re.sub(_CONTROL_BUT_TAB, _escape, line[last : match.start()]))
        parts.append(match.group())
        last = match.end()
    parts.append(re.sub(_CONTROL_BUT_TAB, _escape, line[last:]))
    return "".join(parts)


class VisibleOut:
    """A text stream for wfrun's own reports (``runs``, ``status``): controls escaped, except newlines and wfrun's colours."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        parts = []
        last = 0
        for match in re.finditer(_OUR_SGR, text):
            parts.append(_escape_but_newline(text[last : match.start()]))
            parts.append(match.group())
            last = match.end()
        parts.append(_escape_but_newline(text[last:]))
        return self.stream.write("".join(parts))

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno
        return getattr(self.stream, name)


def _escape_but_newline(text: str) -> str:
    return "\n".join(visible(piece) for piece in text.split("\n"))
