"""``/api/runs/{run}/events``: a run's ``events.jsonl`` as server-sent events, live until the run ends.

Each line of events.jsonl is one SSE message whose ``id`` is the byte offset
*after* that line: a client that reconnects with ``Last-Event-ID`` (browsers
do it by themselves) continues exactly where it stopped, with no line lost or
repeated, even across a server restart — the file, not the server, is the
state. Only whole lines are sent (the writer's buffer may end mid-line). When
the run is final and the file read to its end, an ``end`` event carries the
run's status and the stream closes.

The server only reads: a slow or vanished client costs its own task, never the
run. Each stream polls its open file (a ``stat`` when nothing is new), and
checks the run store once a second; every new batch of lines goes out as one
write.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from workflow_runner.serve.data import get_run
from workflow_runner.serve.runs_api import RunNumber

router = APIRouter(tags=["runs"])

POLL = 0.1
"""Seconds between looks at the file when nothing was new."""
STATUS_EVERY = 1.0
HEARTBEAT = 15.0
CHUNK = 1 << 20


def _start_offset(path: Path | None, given: str | None) -> int:
    if given is None or given == "":
        return 0
    try:
        offset = int(given)
    except ValueError:
        raise HTTPException(400, f"Last-Event-ID must be a byte offset from an earlier event, not {given!r}") from None
    if offset < 0:
        raise HTTPException(400, f"Last-Event-ID {offset} is negative")
    if offset == 0:
        return 0
    try:
        with open(path, "rb") if path else open(os.devnull, "rb") as f:
            f.seek(offset - 1)
            before = f.read(1)
    except OSError:
        before = b""
    if before != b"\n":
        raise HTTPException(400, f"Last-Event-ID {offset} is not the end of an event line of this run")
    return offset


@router.get("/api/runs/{run}/events", summary="The run's events as server-sent events (resume with Last-Event-ID)",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "one 'data:' JSON event per message"}})
async def run_events(request: Request, run: RunNumber,
                     last_event_id: str | None = Header(None, description="resume after this event id (a byte offset)"),
                     after: str | None = Query(None, description="same as Last-Event-ID, for clients that cannot set headers")
                     ) -> StreamingResponse:
    store = request.app.state.store
    row = await asyncio.to_thread(get_run, store, run)
    path = Path(row.run_dir) / "events.jsonl" if row.run_dir else None
    offset = _start_offset(path, last_event_id if last_event_id not in (None, "") else after)
    return StreamingResponse(_stream(request, store, run, offset), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _stream(request: Request, store: Any, run: int, offset: int) -> AsyncIterator[str]:
    should_exit = request.app.state.should_exit
    f = None
    partial = b""
    last_status = 0.0
    last_sent = time.monotonic()
    final: str | None = None
    yield "retry: 2000\n\n"
    try:
        while not should_exit():
            if f is None:
                row = await asyncio.to_thread(store.get_run, run)
                if row is not None and row.run_dir:
                    try:
                        f = open(Path(row.run_dir) / "events.jsonl", "rb")
                        f.seek(offset)
                    except FileNotFoundError:
                        f = None
            data = f.read(CHUNK) if f is not None else b""
            if data:
                data = partial + data
                cut = data.rfind(b"\n") + 1
                partial = data[cut:]
                if cut:
                    out = []
                    for line in data[:cut].splitlines():
                        offset += len(line) + 1
                        if line.strip():
                            out.append(f"id: {offset}\ndata: {line.decode('utf-8', 'replace')}\n\n")
                        # an empty line (none are written) still moves the offset
                    yield "".join(out)
                    last_sent = time.monotonic()
                if len(data) - len(partial) >= CHUNK - len(partial):
                    continue  # more is waiting: no sleep
            now = time.monotonic()
            if final is not None:
                yield f"event: end\ndata: {json.dumps({'status': final})}\n\n"
                return
            if now - last_status >= STATUS_EVERY:
                last_status = now
                row = await asyncio.to_thread(get_run, store, run)
                if row.final:
                    final = row.status  # one more read: what was written before it ended
                    continue
            if now - last_sent >= HEARTBEAT:
                yield ": keepalive\n\n"
                last_sent = now
            await asyncio.sleep(POLL)
    finally:
        if f is not None:
            f.close()
