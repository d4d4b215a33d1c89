"""Bytes from a step's output stream → whole lines, however long.

``StreamReader.readline`` has a 64 KiB limit: past it, the local target took
what was buffered and lost the rest of the line (a 200 KB line kept 69 KB).
Reading chunks and splitting them here keeps every byte a step wrote; a line
is handed on only when complete (or at the end of the stream), so secrets
masking and annotations always see whole lines. A line's memory is its own
length; the events that carry it are cut short by the recorder, not here.
"""

from __future__ import annotations

from typing import Awaitable, Callable

CHUNK = 1 << 16


class LineSplitter:
    """Feed bytes in any pieces; ``emit`` gets each line with its newline, and the unterminated tail at ``close``."""

    def __init__(self, emit: Callable[[bytes], None]) -> None:
        self.emit = emit
        self.partial = bytearray()

    def feed(self, data: bytes) -> None:
        start = 0
        while (newline := data.find(b"\n", start)) >= 0:
            if self.partial:
                self.partial += data[start : newline + 1]
                line = bytes(self.partial)
                self.partial.clear()
                self.emit(line)
            else:
                self.emit(data[start : newline + 1])
            start = newline + 1
        self.partial += data[start:]

    def close(self) -> None:
        if self.partial:
            line = bytes(self.partial)
            self.partial.clear()
            self.emit(line)


def as_text(line: bytes) -> str:
    """One output line as text for ``on_output``: decoded leniently, without its line ending."""
    return line.decode("utf-8", "replace").rstrip("\r\n")


async def pump_lines(read: Callable[[int], Awaitable[bytes]], emit: Callable[[bytes], None]) -> None:
    """Read ``read(CHUNK)`` until it returns b'' and pass every line to ``emit``."""
    splitter = LineSplitter(emit)
    while chunk := await read(CHUNK):
        splitter.feed(chunk)
    splitter.close()
