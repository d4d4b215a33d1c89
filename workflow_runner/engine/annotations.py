"""Workflow commands in step output: ``::notice::``, ``::warning::``, ``::error title=…::``, groups."""

from __future__ import annotations

import re

from workflow_runner.records import ReadOnly, frozen

_COMMAND = re.compile(r"^::(notice|warning|error|debug|group|endgroup)(?:\s+([^:]*))?::(.*)$")


@frozen
class Annotation(ReadOnly):
    level: str
    """notice, warning, error, debug, group or endgroup."""
    message: str
    title: str | None = None
    properties: tuple[tuple[str, str], ...] = ()


def parse_annotation(line: str) -> Annotation | None:
    if not line.startswith("::"):
        return None
    match = _COMMAND.match(line)
    if match is None:
        return None
    level, params, message = match.groups()
    props: list[tuple[str, str]] = []
    for part in (params or "").split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            props.append((k.strip(), v.strip()))
    title = dict(props).get("title")
    return Annotation(level, message, title, tuple(props))
