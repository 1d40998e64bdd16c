"""Normalized agent events: what every CLI's stream is parsed into, whatever its own format."""

from __future__ import annotations

from typing import Any, NamedTuple

EVENT_KINDS: tuple[str, ...] = (
    "error",
    "rate_limit",
    "raw",
    "result",
    "session",
    "text",
    "thinking",
    "tool_call",
    "tool_result",
    "usage",
)
_EXCERPT_CHARS = 2000


class AgentEvent(NamedTuple):
    """One normalized event: ``kind`` (one of EVENT_KINDS) and its JSON-serializable fields.

    Fields by kind: session {id, model}; text {text}; thinking {text}; tool_call {id, name, input};
    tool_result {id, ok, output}; usage {input_tokens, output_tokens, cost_usd, scope: step|total, cached_input_tokens?};
    rate_limit {status, resets_at}; error {message, fatal}; result {ok, reason, text}; raw {line, size}.
    """

    kind: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.data}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> AgentEvent:
        data = dict(payload)
        return cls(str(data.pop("kind", "raw")), data)


def _excerpt(value: Any, limit: int = _EXCERPT_CHARS) -> str:
    """A display-sized string of ``value`` (tool output can be megabytes)."""
    if value is None:
        return ""
    text: str
    if isinstance(value, str):
        text = value
    else:
        if isinstance(value, list):
            parts = [b.get("text", "") if isinstance(b, dict) else str(b) for b in value]
            text = "\n".join(p for p in parts if isinstance(p, str))
        else:
            text = str(value)
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more chars]"


def _session(session_id: str, model: str | None = None) -> AgentEvent:
    return AgentEvent("session", {"id": session_id, "model": model})


def _text(value: str) -> AgentEvent:
    return AgentEvent("text", {"text": value})


def _thinking(value: str) -> AgentEvent:
    return AgentEvent("thinking", {"text": value})


def _tool_call(call_id: str, name: str, args: Any) -> AgentEvent:
    return AgentEvent("tool_call", {"id": call_id, "name": name, "input": args})


def _tool_result(call_id: str, ok: bool, output: Any) -> AgentEvent:
    return AgentEvent("tool_result", {"id": call_id, "ok": ok, "output": _excerpt(output)})


def _usage(
    input_tokens: int, output_tokens: int, cost_usd: float | None = None, *, scope: str = "step", cached_input_tokens: int = 0
) -> AgentEvent:
    data: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": output_tokens, "cost_usd": cost_usd, "scope": scope}
    if cached_input_tokens:  # a part of input_tokens, priced apart (absent: none)
        data["cached_input_tokens"] = cached_input_tokens
    return AgentEvent("usage", data)


def _rate_limit(status: str, resets_at: int | None) -> AgentEvent:
    return AgentEvent("rate_limit", {"status": status, "resets_at": resets_at})


def _error(message: str, *, fatal: bool = True) -> AgentEvent:
    return AgentEvent("error", {"message": message, "fatal": fatal})


def _result(ok: bool, reason: str, final_text: str | None) -> AgentEvent:
    return AgentEvent("result", {"ok": ok, "reason": reason, "text": final_text})


def _raw(line: bytes | str) -> AgentEvent:
    size = len(line)
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    return AgentEvent("raw", {"line": _excerpt(line.rstrip("\r\n"), 500), "size": size})
