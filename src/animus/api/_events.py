"""Server-Sent Event streams: the store's ``events`` table (resumable by seq) and one agent run's live events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from animus.api import _present as present
from animus.api._endpoint import ApiState, Endpoint, _Param
from animus.api._input import _q_int, _safe_id
from animus.api._runs import _open_reader, _replay_to
from animus.domain.errors import InvalidInput, NotFound

_KEEPALIVE_SECS = 15.0
_MAX_SEQ = 2**63 - 1  # the largest integer SQLite (and a PostgreSQL bigint) can compare with
_SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def _sse(event_id: str | int | None, event: str, data: Any) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {text}\n\n".encode()


def _resume_point(request: Request, name: str) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get(name) or "0"
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"Last-Event-ID must be an integer, got {raw[:40]!r}") from None
    if not 0 <= value <= _MAX_SEQ:
        raise InvalidInput(f"Last-Event-ID must be between 0 and {_MAX_SEQ}")
    return value


async def _events_stream(request: Request, state: ApiState) -> StreamingResponse:
    """Every row of the ``events`` table after ``Last-Event-ID`` (or ``?after=``), then new ones as they commit."""
    after = _resume_point(request, "after")
    limit = _q_int(request.query_params, "limit", 0, high=1_000_000)  # 0: stream forever (tests bound it)

    async def body() -> AsyncIterator[bytes]:
        nonlocal after
        sent = 0
        yield b"retry: 2000\n\n"
        last = time.monotonic()
        while True:
            rows = await run_in_threadpool(state.store().events, after, 500)
            for row in rows:
                after = int(row["seq"])
                data = {"seq": after, "at": row["at"], "kind": row["kind"], "subject": row["subject"],
                        "data": json.loads(row["data"] or "{}")}
                yield _sse(after, row["kind"], data)
                sent += 1
                if limit and sent >= limit:
                    return
            if not rows:
                if await request.is_disconnected():
                    return
                if time.monotonic() - last > _KEEPALIVE_SECS:
                    yield b": keepalive\n\n"
                    last = time.monotonic()
                await asyncio.sleep(state.poll_secs)
            else:
                last = time.monotonic()

    return StreamingResponse(body(), media_type="text/event-stream", headers=_SSE_HEADERS)


async def _agent_stream(request: Request, state: ApiState) -> StreamingResponse:
    """One agent run's normalized events, live, each with its byte offset as the event id; ``end`` when it exits."""
    run_id = _safe_id(request.path_params["agent_run_id"], "agent run id")
    runs_dir = state.project.runs_dir
    if not (runs_dir / run_id).is_dir():
        raise NotFound(f"no agent run {run_id!r}")
    offset = _resume_point(request, "offset")
    reader = await run_in_threadpool(_open_reader, runs_dir, run_id)
    reader.cursor = await run_in_threadpool(_replay_to, reader, offset)
    secrets = await run_in_threadpool(lambda: state.secrets_env)  # once per stream, not per event line

    def read() -> tuple[list[tuple[int, dict[str, Any]]], str]:
        events: list[tuple[int, dict[str, Any]]] = []
        for line, end in reader.handle.follow(reader.cursor.offset, wait=False):
            for event in reader.adapter.parse_line(line, reader.cursor.state):
                events.append((end, present._agent_event(event, secrets)))
            reader.cursor.offset = end
        return events, str(reader.handle.state().status)

    async def body() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        last = time.monotonic()
        while True:
            events, status = await run_in_threadpool(read)
            for end, event in events:
                yield _sse(end, "agent", {"run_id": run_id, **event})
                last = time.monotonic()
            if status != "running":
                tail, _ = await run_in_threadpool(read)  # output written just before the exit record
                for end, event in tail:
                    yield _sse(end, "agent", {"run_id": run_id, **event})
                yield _sse(reader.cursor.offset, "end", {"run_id": run_id, "status": status})
                return
            if await request.is_disconnected():
                return
            if time.monotonic() - last > _KEEPALIVE_SECS:
                yield b": keepalive\n\n"
                last = time.monotonic()
            await asyncio.sleep(state.poll_secs)

    return StreamingResponse(body(), media_type="text/event-stream", headers=_SSE_HEADERS)


_SSE_RESPONSE = {"type": "string", "description": "text/event-stream"}
ENDPOINTS = (
    Endpoint("GET", "/api/v1/events", _events_stream, "Server-Sent Events of every state change (resume with Last-Event-ID)",
             "events", query=(_Param("after", {"type": "integer", "minimum": 0, "maximum": _MAX_SEQ}),
                              _Param("limit", {"type": "integer", "minimum": 0, "maximum": 1000000})),
             stream=True, response=_SSE_RESPONSE),
    Endpoint("GET", "/api/v1/runs/{agent_run_id}/stream", _agent_stream,
             "Server-Sent Events of one agent run's normalized events, live", "agent runs",
             query=(_Param("offset", {"type": "integer", "minimum": 0, "maximum": _MAX_SEQ}),), stream=True, response=_SSE_RESPONSE),
)
