"""The scripted model endpoint itself, over real HTTP (no agent CLI needed)."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from support.model_endpoint import ModelEndpoint, Turn

TOOLS = [{"name": "Write", "input_schema": {"type": "object"}}]


def _post(
    ep: ModelEndpoint, path: str, body: dict[str, Any], headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(
        ep.url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def _sse(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]


def test_anthropic_stream_assembles_text_and_tool_use_and_consumes_one_turn(model_endpoint: ModelEndpoint) -> None:
    model_endpoint.script(
        "anthropic", [Turn.tool("Write", {"file_path": "a.txt", "content": "x"}, text="Writing"), Turn.say("second")]
    )
    status, headers, raw = _post(
        model_endpoint, "/v1/messages", {"model": "m", "stream": True, "tools": TOOLS, "messages": []}
    )
    assert status == 200 and headers["content-type"] == "text/event-stream"
    frames = _sse(raw)
    assert [f["type"] for f in frames][:2] == ["message_start", "ping"] and frames[-1]["type"] == "message_stop"
    text = "".join(f["delta"]["text"] for f in frames if f.get("delta", {}).get("type") == "text_delta")
    partial = "".join(
        f["delta"]["partial_json"] for f in frames if f.get("delta", {}).get("type") == "input_json_delta"
    )
    assert text == "Writing" and json.loads(partial) == {"file_path": "a.txt", "content": "x"}
    assert next(f for f in frames if f["type"] == "message_delta")["delta"]["stop_reason"] == "tool_use"
    assert model_endpoint.remaining("anthropic") == 1


def test_auxiliary_requests_get_trivial_answers_without_consuming_the_script(model_endpoint: ModelEndpoint) -> None:
    model_endpoint.script("anthropic", [Turn.say("main")])
    status, _, raw = _post(model_endpoint, "/v1/messages", {"model": "haiku", "max_tokens": 1, "messages": []})
    assert status == 200 and json.loads(raw)["content"][0]["type"] == "text"
    assert _post(model_endpoint, "/v1/messages/count_tokens", {"messages": []})[0] == 200
    assert model_endpoint.remaining("anthropic") == 1
    assert [r.kind for r in model_endpoint.requests] == ["aux", "aux"]


def test_unknown_paths_are_recorded_and_answered_404(model_endpoint: ModelEndpoint) -> None:
    status, _, _ = _post(model_endpoint, "/api/telemetry", {"x": 1})
    assert status == 404
    assert [r.path for r in model_endpoint.unknown] == ["/api/telemetry"]


def test_exhausted_script_answers_400_and_is_listed(model_endpoint: ModelEndpoint) -> None:
    status, _, raw = _post(model_endpoint, "/v1/responses", {"model": "m", "tools": [{"name": "exec_command"}]})
    assert status == 400 and "exhausted" in raw.decode()
    assert len(model_endpoint.exhausted) == 1


def test_secret_headers_are_masked_in_the_record(model_endpoint: ModelEndpoint) -> None:
    model_endpoint.script("anthropic", [Turn.say("ok")])
    _post(
        model_endpoint,
        "/v1/messages",
        {"model": "m", "tools": TOOLS, "messages": []},
        headers={"x-api-key": "sk-secret-123", "authorization": "Bearer sk-secret-123"},
    )
    recorded = model_endpoint.requests[0]
    assert recorded.headers["x-api-key"] == "***" and recorded.headers["authorization"] == "***"
    assert "sk-secret-123" not in json.dumps(recorded.headers)


def test_rate_limit_fault_repeats_with_retry_after_and_api_specific_bodies(model_endpoint: ModelEndpoint) -> None:
    model_endpoint.script("openai", [Turn.rate_limit(retry_after=120, reset_epoch=2_000_000_000)])
    for _ in range(2):  # repeat=0: a persistent outage
        status, headers, raw = _post(model_endpoint, "/v1/responses", {"model": "m", "tools": [{"name": "x"}]})
        assert status == 429 and headers["retry-after"] == "120"
        assert json.loads(raw)["error"] == {
            "type": "usage_limit_reached",
            "message": "Rate limit exceeded (scripted)",
            "plan_type": "plus",
            "resets_at": 2_000_000_000,
            "resets_in_seconds": 120,
        }
    assert model_endpoint.remaining("openai") == 1


def test_openai_stream_ends_with_completed_usage_and_function_call(model_endpoint: ModelEndpoint) -> None:
    model_endpoint.script("openai", [Turn.tool("exec_command", {"cmd": "ls"}, input_tokens=7, output_tokens=3)])
    _, _, raw = _post(model_endpoint, "/v1/responses", {"model": "m", "stream": True, "tools": [{"name": "x"}]})
    frames = _sse(raw)
    assert frames[0]["type"] == "response.created" and frames[-1]["type"] == "response.completed"
    done = [f["item"] for f in frames if f["type"] == "response.output_item.done"]
    assert done[0]["type"] == "function_call" and json.loads(done[0]["arguments"]) == {"cmd": "ls"}
    assert frames[-1]["response"]["usage"]["input_tokens"] == 7


def test_gemini_stream_carries_function_call_and_usage_metadata(model_endpoint: ModelEndpoint) -> None:
    model_endpoint.script("gemini", [Turn.tool("write_file", {"file_path": "a", "content": "b"}, text="ok then")])
    _, _, raw = _post(
        model_endpoint,
        "/v1beta/models/gemini-x:streamGenerateContent?alt=sse",
        {"contents": [], "tools": [{"functionDeclarations": [{"name": "write_file"}]}]},
    )
    chunks = _sse(raw)
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    assert "".join(p.get("text", "") for p in parts) == "ok then"
    assert {"functionCall": {"name": "write_file", "args": {"file_path": "a", "content": "b"}}} in parts
    assert chunks[-1]["usageMetadata"]["totalTokenCount"] == 150 and chunks[-1]["modelVersion"] == "gemini-x"


def test_cut_fault_closes_the_stream_before_message_stop(model_endpoint: ModelEndpoint) -> None:
    model_endpoint.script("anthropic", [Turn.cut("half a sen")])
    _, _, raw = _post(model_endpoint, "/v1/messages", {"model": "m", "stream": True, "tools": TOOLS})
    types = [f["type"] for f in _sse(raw)]
    assert "message_start" in types and "content_block_delta" in types and "message_stop" not in types


def test_hang_fault_blocks_until_the_endpoint_stops() -> None:
    ep = ModelEndpoint().start()
    ep.script("anthropic", [Turn.hang("thinking")])
    result: dict[str, Any] = {}

    def call() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=30)
        conn.request(
            "POST",
            "/v1/messages",
            json.dumps({"model": "m", "stream": True, "tools": TOOLS}),
            {"content-type": "application/json"},
        )
        result["body"] = conn.getresponse().read()

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    ep.wait_for(lambda r: r.answered_with == "fault:hang", timeout=10)
    time.sleep(0.2)
    assert caller.is_alive()  # still waiting for the rest of the message
    ep.stop()
    caller.join(timeout=10)
    assert not caller.is_alive()
    types = [f["type"] for f in _sse(result["body"])]
    assert "content_block_delta" in types and "message_stop" not in types


def test_wait_for_times_out_with_a_summary(model_endpoint: ModelEndpoint) -> None:
    with pytest.raises(TimeoutError, match="no matching request"):
        model_endpoint.wait_for(lambda r: False, timeout=0.1)
