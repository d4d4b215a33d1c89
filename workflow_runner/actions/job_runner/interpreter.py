"""``shebang:`` → the command line that runs the user's script, read the way the kernel reads ``#!``.

The platform makes the shebang the first line of the *job* script, so a
``#!/usr/bin/env python3`` turns wfrun's wrapper (bash: markers, signal
forwarding, the exit-code file) into a Python file that fails with a
SyntaxError. wfrun keeps its wrapper bash and runs the user's script, kept in
its own file (``run-template.sh``), under the interpreter the shebang names:
``INTERPRETER [ARG] ./run-template.sh``. The line is split as ``execve`` splits
it (the interpreter, then everything after it as one optional argument), so a
script that runs as ``./script`` on its own runs the same here — and the file
keeps the user's exact line numbers, because nothing is prepended to it.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def interpreter_argv(shebang: str) -> list[str]:
    """``'#!/usr/bin/env python3'`` → ``['/usr/bin/env', 'python3']``. Raises ValueError for a line that names none.

    Linux's rule: after ``#!``, blanks are skipped; the interpreter runs up to the next
    blank; the rest of the line, trimmed, is a single argument (``#!/usr/bin/env -S a b``
    gives env the one argument ``-S a b``, which env splits itself).
    """
    if not shebang.startswith("#!"):
        raise ValueError(f"shebang must start with '#!', got {shebang!r}")
    if _CONTROL.search(shebang):
        raise ValueError(f"shebang must be one line without control characters, got {shebang!r}")
    rest = shebang[2:].strip(" \t")
    if not rest:
        raise ValueError(f"shebang names no interpreter: {shebang!r}")
    parts = re.split(r"[ \t]+", rest, maxsplit=1)
    return parts if len(parts) == 1 or not parts[1] else [parts[0], parts[1].strip(" \t")]
