"""Wire formats of the model APIs the real agent CLIs speak: one scripted turn → response bytes (Chat: realcli_chat)."""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

ANTHROPIC = "anthropic"
OPENAI = "openai"
GEMINI = "gemini"
CHAT = "chat"  # OpenAI Chat Completions (/v1/chat/completions): opencode, aider
APIS = (ANTHROPIC, OPENAI, GEMINI, CHAT)


@dataclass(frozen=True)
class ToolCall:
    """One tool call the scripted model asks for (name as the CLI declares it, input as a dict).

    With ``mcp_server`` set, ``name`` is that server's raw tool name and each API spells the call the way its CLI
    declares MCP tools (see `anthropic_name`, `gemini_name`, `openai_call`).
    """

    name: str
    input: dict[str, Any]
    id: str = ""
    mcp_server: str = ""

    @property
    def anthropic_name(self) -> str:
        return f"mcp__{self.mcp_server}__{self.name}" if self.mcp_server else self.name

    @property
    def gemini_name(self) -> str:
        return f"mcp_{self.mcp_server}_{self.name}" if self.mcp_server else self.name

    @property
    def label(self) -> str:
        """How the endpoint's request summary names the call."""
        return f"{self.mcp_server}/{self.name}" if self.mcp_server else self.name


@dataclass(frozen=True)
class Fault:
    """What goes wrong instead of a normal answer.

    kind: "http" (status + JSON error body + headers), "rate_limit" (a 429 per API), "cut" (stream some text, then close the socket
    mid-message), "hang" (stream some text, then say nothing until the endpoint stops).
    """

    kind: str
    status: int = 0
    message: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    partial_text: str = ""
    body: dict[str, Any] | None = None  # replaces the API's standard error body
    reset_epoch: int = 0  # rate_limit: when the limit resets
    retry_after: int = 0


@dataclass(frozen=True)
class Turn:
    """One scripted model answer: text and/or tool calls, or a fault; `repeat` answers that many requests."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    fault: Fault | None = None
    input_tokens: int = 120
    output_tokens: int = 30
    repeat: int = 1  # 0 = answers every later request of its API (a persistent outage)
    headers: tuple[tuple[str, str], ...] = ()  # extra response headers (e.g. rate-limit state on a success)
    delay_secs: float = 0.0  # a slow model: the answer starts this long after the request

    @classmethod
    def say(cls, text: str, *, input_tokens: int = 120, output_tokens: int = 30) -> Turn:
        return cls(text=text, input_tokens=input_tokens, output_tokens=output_tokens)

    @classmethod
    def tool(
        cls, name: str, input: dict[str, Any], *, text: str = "", input_tokens: int = 120, output_tokens: int = 30
    ) -> Turn:
        return cls(
            text=text, tool_calls=(ToolCall(name, dict(input)),), input_tokens=input_tokens, output_tokens=output_tokens
        )

    @classmethod
    def mcp_tool(cls, server: str, tool: str, input: dict[str, Any], *, text: str = "") -> Turn:
        """A call of MCP server `server`'s tool `tool`, named as each CLI advertises it to the model."""
        return cls(text=text, tool_calls=(ToolCall(tool, dict(input), mcp_server=server),))

    @classmethod
    def tools(cls, calls: list[ToolCall], *, text: str = "") -> Turn:
        return cls(text=text, tool_calls=tuple(calls))

    @classmethod
    def final(
        cls,
        verdict: str = "advance",
        *,
        before: str = "Done.",
        input_tokens: int = 120,
        output_tokens: int = 30,
        **decision: Any,
    ) -> Turn:
        return cls(
            text=f"{before}\n{decision_json(verdict, **decision)}",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )

    @classmethod
    def http_error(
        cls,
        status: int,
        message: str = "",
        *,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        repeat: int = 1,
    ) -> Turn:
        return cls(
            fault=Fault(
                "http",
                status=status,
                message=message or f"scripted HTTP {status}",
                headers=tuple((headers or {}).items()),
                body=body,
            ),
            repeat=repeat,
        )

    @classmethod
    def rate_limit(cls, *, retry_after: int = 3600, reset_epoch: int | None = None, repeat: int = 0) -> Turn:
        """HTTP 429 in each API's own words: Anthropic rate-limit headers, OpenAI `usage_limit_reached`
        with `resets_at`, Gemini RESOURCE_EXHAUSTED with RetryInfo; `retry-after` on all of them."""
        reset = reset_epoch if reset_epoch is not None else int(time.time()) + retry_after
        headers = {
            "retry-after": str(retry_after),
            "x-ratelimit-reset-requests": f"{retry_after}s",
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(reset)),
            "anthropic-ratelimit-unified-status": "rejected",
            "anthropic-ratelimit-unified-reset": str(reset),
            "anthropic-ratelimit-unified-representative-claim": "five_hour",
        }
        return cls(
            fault=Fault(
                "rate_limit",
                status=429,
                message="Rate limit exceeded (scripted)",
                headers=tuple(headers.items()),
                reset_epoch=reset,
                retry_after=retry_after,
            ),
            repeat=repeat,
        )

    @classmethod
    def unauthorized(cls, *, repeat: int = 0) -> Turn:
        return cls.http_error(401, "invalid x-api-key", repeat=repeat)

    @classmethod
    def server_error(cls, *, repeat: int = 1) -> Turn:
        return cls.http_error(500, "Internal server error (scripted)", repeat=repeat)

    @classmethod
    def cut(cls, partial_text: str = "Working on it") -> Turn:
        return cls(fault=Fault("cut", partial_text=partial_text))

    @classmethod
    def hang(cls, partial_text: str = "") -> Turn:
        return cls(fault=Fault("hang", partial_text=partial_text))


def decision_json(
    verdict: str = "advance",
    *,
    confidence: float = 0.9,
    risk: str = "low",
    reason: str = "scripted decision",
    evidence: list[dict[str, str]] | None = None,
) -> str:
    """The one-line phase_decision JSON the agents are told to end with."""
    return json.dumps(
        {
            "kind": "phase_decision",
            "verdict": verdict,
            "confidence": confidence,
            "risk": risk,
            "reason": reason,
            "evidence": evidence or [{"kind": "test", "description": "scripted"}],
        }
    )


def new_id(prefix: str, n: int = 12) -> str:
    return prefix + secrets.token_hex(n)


def sse(event: str | None, data: dict[str, Any]) -> bytes:
    head = f"event: {event}\n" if event else ""
    return (head + "data: " + json.dumps(data) + "\n\n").encode()


def split_text(text: str, parts: int = 3) -> list[str]:
    """Split text into a few deltas so the CLIs really assemble a streamed message."""
    if len(text) < parts:
        return [text] if text else []
    step = -(-len(text) // parts)
    return [text[i : i + step] for i in range(0, len(text), step)]


def rate_limit_body(api: str, fault: Fault) -> dict[str, Any]:
    if api == CHAT:
        return {"error": {"message": fault.message, "type": "requests", "param": None, "code": "rate_limit_exceeded"}}
    if api == OPENAI:
        # The shape codex turns into "You've hit your usage limit ... try again at <local time>".
        return {
            "error": {
                "type": "usage_limit_reached",
                "message": fault.message,
                "plan_type": "plus",
                "resets_at": fault.reset_epoch,
                "resets_in_seconds": fault.retry_after,
            }
        }
    if api == GEMINI:
        body = gemini_error_body(429, fault.message)
        body["error"]["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                        "quotaId": "GenerateRequestsPerDayPerProjectPerModel",
                    }
                ],
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{fault.retry_after}s"},
        ]
        return body
    return anthropic_error_body(429, fault.message)


# -- Anthropic Messages ---------------------------------------------------------------------------


def anthropic_error_body(status: int, message: str) -> dict[str, Any]:
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
        500: "api_error",
        529: "overloaded_error",
    }
    return {
        "type": "error",
        "error": {"type": kinds.get(status, "api_error"), "message": message},
        "request_id": new_id("req_"),
    }


def anthropic_blocks(turn: Turn) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if turn.text:
        blocks.append({"type": "text", "text": turn.text})
    for call in turn.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id or new_id("toolu_"), "name": call.anthropic_name, "input": call.input}
        )
    return blocks


def anthropic_message(turn: Turn, model: str) -> dict[str, Any]:
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": anthropic_blocks(turn),
        "stop_reason": "tool_use" if turn.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": turn.input_tokens,
            "output_tokens": turn.output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def anthropic_stream_head(turn: Turn, model: str) -> list[bytes]:
    msg = anthropic_message(turn, model)
    msg.update(content=[], stop_reason=None)
    msg["usage"] = dict(msg["usage"], output_tokens=1)
    return [sse("message_start", {"type": "message_start", "message": msg}), sse("ping", {"type": "ping"})]


def anthropic_text_block(index: int, text: str) -> list[bytes]:
    out = [
        sse(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
        )
    ]
    for piece in split_text(text):
        out.append(
            sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}},
            )
        )
    return out


def anthropic_stream(turn: Turn, model: str) -> list[bytes]:
    """A complete streamed message, frame by frame."""
    out = anthropic_stream_head(turn, model)
    index = 0
    for block in anthropic_blocks(turn):
        if block["type"] == "text":
            out += anthropic_text_block(index, block["text"])
        else:
            out.append(
                sse(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": dict(block, input={})},
                )
            )
            for piece in split_text(json.dumps(block["input"]), 2):
                out.append(
                    sse(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": piece},
                        },
                    )
                )
        out.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    out.append(
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use" if turn.tool_calls else "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": turn.output_tokens},
            },
        )
    )
    out.append(sse("message_stop", {"type": "message_stop"}))
    return out


def anthropic_partial(partial_text: str, model: str) -> list[bytes]:
    """The frames sent before a cut or a hang: a message that has started but never ends."""
    out = anthropic_stream_head(Turn(), model)
    if partial_text:
        out += anthropic_text_block(0, partial_text)
    return out


# -- OpenAI Responses -----------------------------------------------------------------------------


def openai_error_body(status: int, message: str) -> dict[str, Any]:
    kinds = {401: "invalid_api_key", 429: "rate_limit_exceeded", 500: "server_error"}
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error" if status < 500 else "server_error",
            "param": None,
            "code": kinds.get(status),
        }
    }


_DEFERRED_NAMESPACE = re.compile(r"^- ([A-Za-z0-9_-]+)(?::|$)", re.MULTILINE)


def _input_texts(body: dict[str, Any]) -> list[str]:
    items = body.get("input")
    texts = [str(body.get("instructions") or "")]
    for item in items if isinstance(items, list) else []:
        content = item.get("content") if isinstance(item, dict) else None
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return texts


def advertised_namespaces(body: Any) -> set[str]:
    """The tool namespaces a Responses API request offers the model.

    Codex puts an MCP server's tools in a namespace: a `{"type": "namespace", "name": …}` entry of `tools` when they
    are loaded, or, when they are deferred behind `tool_search`, a line `- <namespace>: <instructions>` under
    "Deferred tool namespaces:" in the developer message.
    """
    if not isinstance(body, dict):
        return set()
    found = {str(t.get("name")) for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") == "namespace"}
    for text in _input_texts(body):
        if "tool namespaces:" in text:
            found.update(_DEFERRED_NAMESPACE.findall(text))
    return found


def mcp_namespace(body: Any, server: str) -> str | None:
    """The namespace under which the request advertises MCP server `server`'s tools, or None when it does not.

    Codex 0.171 names it `mcp__<server>` by default and plain `<server>` when its `non_prefixed_mcp_tool_names`
    feature is on (server id sanitized to [A-Za-z0-9_] either way); the scripted model uses whichever it was offered.
    """
    sanitized = re.sub(r"[^A-Za-z0-9_]", "_", server)
    offered = advertised_namespaces(body)
    return next((ns for ns in (f"mcp__{sanitized}", sanitized) if ns in offered), None)


def openai_call(call: ToolCall, body: Any = None) -> dict[str, str]:
    """The `name` (and `namespace`) of a Responses API function_call, as the model would answer this request.

    An MCP tool is called by its bare name inside the namespace the request offered for its server; when the request
    offered none, the call goes to the default `mcp__<server>` so that the CLI's own refusal reaches the test.
    """
    if not call.mcp_server:
        return {"name": call.name}
    return {"name": call.name, "namespace": mcp_namespace(body, call.mcp_server) or f"mcp__{call.mcp_server}"}


def openai_items(turn: Turn, body: Any = None) -> list[dict[str, Any]]:
    """The output items of one turn; `body` is the request being answered (MCP calls read their namespace from it)."""
    items: list[dict[str, Any]] = []
    if turn.text:
        items.append(
            {
                "id": new_id("msg_"),
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": turn.text, "annotations": []}],
            }
        )
    for call in turn.tool_calls:
        items.append(
            {
                "id": new_id("fc_"),
                "type": "function_call",
                "status": "completed",
                "call_id": call.id or new_id("call_"),
                **openai_call(call, body),
                "arguments": json.dumps(call.input),
            }
        )
    return items


def openai_response(turn: Turn, model: str, resp_id: str, status: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    usage = {
        "input_tokens": turn.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": turn.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": turn.input_tokens + turn.output_tokens,
    }
    return {
        "id": resp_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": model,
        "output": items,
        "usage": usage if status == "completed" else None,
    }


def openai_stream_head(turn: Turn, model: str, resp_id: str) -> list[bytes]:
    created = openai_response(turn, model, resp_id, "in_progress", [])
    return [
        sse("response.created", {"type": "response.created", "sequence_number": 0, "response": created}),
        sse("response.in_progress", {"type": "response.in_progress", "sequence_number": 1, "response": created}),
    ]


def openai_text_item_open(index: int, item: dict[str, Any], text: str) -> list[bytes]:
    started = dict(item, status="in_progress", content=[])
    out = [
        sse(
            "response.output_item.added", {"type": "response.output_item.added", "output_index": index, "item": started}
        ),
        sse(
            "response.content_part.added",
            {
                "type": "response.content_part.added",
                "item_id": item["id"],
                "output_index": index,
                "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []},
            },
        ),
    ]
    for piece in split_text(text):
        out.append(
            sse(
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "item_id": item["id"],
                    "output_index": index,
                    "content_index": 0,
                    "delta": piece,
                },
            )
        )
    return out


def openai_stream(turn: Turn, model: str, body: Any = None) -> list[bytes]:
    resp_id = new_id("resp_")
    out = openai_stream_head(turn, model, resp_id)
    items = openai_items(turn, body)
    for index, item in enumerate(items):
        if item["type"] == "message":
            text = item["content"][0]["text"]
            out += openai_text_item_open(index, item, text)
            out.append(
                sse(
                    "response.output_text.done",
                    {
                        "type": "response.output_text.done",
                        "item_id": item["id"],
                        "output_index": index,
                        "content_index": 0,
                        "text": text,
                    },
                )
            )
            out.append(
                sse(
                    "response.content_part.done",
                    {
                        "type": "response.content_part.done",
                        "item_id": item["id"],
                        "output_index": index,
                        "content_index": 0,
                        "part": item["content"][0],
                    },
                )
            )
        else:
            out.append(
                sse(
                    "response.output_item.added",
                    {
                        "type": "response.output_item.added",
                        "output_index": index,
                        "item": dict(item, status="in_progress", arguments=""),
                    },
                )
            )
            out.append(
                sse(
                    "response.function_call_arguments.done",
                    {
                        "type": "response.function_call_arguments.done",
                        "item_id": item["id"],
                        "output_index": index,
                        "arguments": item["arguments"],
                    },
                )
            )
        out.append(
            sse("response.output_item.done", {"type": "response.output_item.done", "output_index": index, "item": item})
        )
    out.append(
        sse(
            "response.completed",
            {"type": "response.completed", "response": openai_response(turn, model, resp_id, "completed", items)},
        )
    )
    return out


def openai_partial(partial_text: str, model: str) -> list[bytes]:
    out = openai_stream_head(Turn(), model, new_id("resp_"))
    if partial_text:
        item = {"id": new_id("msg_"), "type": "message", "role": "assistant"}
        out += openai_text_item_open(0, item, partial_text)
    return out


# -- Gemini generateContent -----------------------------------------------------------------------


def gemini_error_body(status: int, message: str) -> dict[str, Any]:
    names = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }
    return {"error": {"code": status, "message": message, "status": names.get(status, "UNKNOWN")}}


def gemini_chunk(parts: list[dict[str, Any]], model: str, *, finish: bool, turn: Turn) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = "STOP"
    chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": new_id("", 8)}
    if finish:
        chunk["usageMetadata"] = {
            "promptTokenCount": turn.input_tokens,
            "candidatesTokenCount": turn.output_tokens,
            "totalTokenCount": turn.input_tokens + turn.output_tokens,
        }
    return chunk


def gemini_parts(turn: Turn) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"text": turn.text}] if turn.text else []
    for call in turn.tool_calls:
        fc: dict[str, Any] = {"name": call.gemini_name, "args": call.input}
        if call.id:
            fc["id"] = call.id
        parts.append({"functionCall": fc})
    return parts


def gemini_response(turn: Turn, model: str) -> dict[str, Any]:
    return gemini_chunk(gemini_parts(turn), model, finish=True, turn=turn)


def gemini_stream(turn: Turn, model: str) -> list[bytes]:
    pieces = split_text(turn.text) if turn.text else []
    out = [sse(None, gemini_chunk([{"text": p}], model, finish=False, turn=turn)) for p in pieces[:-1]]
    last: list[dict[str, Any]] = [{"text": pieces[-1]}] if pieces else []
    last += gemini_parts(Turn(tool_calls=turn.tool_calls))
    out.append(sse(None, gemini_chunk(last, model, finish=True, turn=turn)))
    return out


def gemini_partial(partial_text: str, model: str) -> list[bytes]:
    if not partial_text:
        return []
    return [sse(None, gemini_chunk([{"text": partial_text}], model, finish=False, turn=Turn()))]
