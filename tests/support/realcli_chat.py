"""OpenAI Chat Completions on the wire (opencode, aider): one scripted turn → a whole answer or an SSE stream."""

from __future__ import annotations

import json
import time
from typing import Any

from support.realcli_wire import CHAT, Turn, new_id, split_text

__all__ = ["CHAT", "chat_completion", "chat_error_body", "chat_partial", "chat_stream"]


def chat_error_body(status: int, message: str) -> dict[str, Any]:
    kinds = {401: "invalid_api_key", 429: "rate_limit_exceeded", 500: "server_error"}
    return {"error": {"message": message, "type": "invalid_request_error" if status < 500 else "server_error",
                      "param": None, "code": kinds.get(status)}}


def _usage(turn: Turn) -> dict[str, int]:
    return {"prompt_tokens": turn.input_tokens, "completion_tokens": turn.output_tokens,
            "total_tokens": turn.input_tokens + turn.output_tokens}


def _tool_calls(turn: Turn) -> list[dict[str, Any]]:
    return [{"id": call.id or new_id("call_"), "type": "function",
             "function": {"name": call.name, "arguments": json.dumps(call.input)}} for call in turn.tool_calls]


def _finish(turn: Turn) -> str:
    return "tool_calls" if turn.tool_calls else "stop"


def chat_completion(turn: Turn, model: str) -> dict[str, Any]:
    """The non-streaming answer (aider with --no-stream)."""
    message: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
    if turn.tool_calls:
        message["tool_calls"] = _tool_calls(turn)
    return {"id": new_id("chatcmpl-"), "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": _finish(turn)}], "usage": _usage(turn)}


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    payload = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def chat_stream(turn: Turn, model: str, body: Any = None) -> list[bytes]:
    """SSE chunks: role, text deltas, each tool call (name, then its arguments in pieces), finish, usage, [DONE]."""
    cid = new_id("chatcmpl-")
    frames = [_chunk(cid, model, {"role": "assistant", "content": ""})]
    frames += [_chunk(cid, model, {"content": piece}) for piece in split_text(turn.text)]
    for index, call in enumerate(_tool_calls(turn)):
        head = {"index": index, "id": call["id"], "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""}}
        frames.append(_chunk(cid, model, {"tool_calls": [head]}))
        for piece in split_text(call["function"]["arguments"], 2):
            frames.append(_chunk(cid, model, {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    frames.append(_chunk(cid, model, {}, _finish(turn)))
    options = body.get("stream_options") if isinstance(body, dict) else None
    if not isinstance(options, dict) or options.get("include_usage", True):
        usage = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                 "choices": [], "usage": _usage(turn)}
        frames.append(b"data: " + json.dumps(usage).encode() + b"\n\n")
    frames.append(b"data: [DONE]\n\n")
    return frames


def chat_partial(partial_text: str, model: str) -> list[bytes]:
    """The start of an answer that never finishes (a cut or a hang)."""
    cid = new_id("chatcmpl-")
    return [_chunk(cid, model, {"role": "assistant", "content": ""}), _chunk(cid, model, {"content": partial_text})]
