"""A scripted model endpoint (Anthropic, OpenAI Responses, Gemini, OpenAI Chat Completions) that real agent CLIs can talk to.

Usage::

    with ModelEndpoint() as ep:                      # or the `model_endpoint` pytest fixture
        ep.script("anthropic", [Turn.tool("Write", {"file_path": "hello.txt", "content": "hi\\n"}),
                                Turn.final("advance")])
        ... run `claude` with ANTHROPIC_BASE_URL=ep.url ...
        assert ep.main_requests("anthropic")[1].body["messages"][-1]  # holds the tool_result

Each API has its own queue of turns, consumed one per MAIN request. Auxiliary requests (Claude Code's
haiku title/quota calls, Gemini's next-speaker checks, token counting, model lists) never consume the
script: they get a trivial answer. Every request is recorded (secrets in headers masked); paths nobody
knows are recorded in `unknown` and answered 404. An exhausted script answers HTTP 400 (not retried by
any CLI) and is listed in `exhausted`, so a test sees "the CLI asked once more than scripted".
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from support import realcli_chat as chat
from support import realcli_wire as wire
from support.realcli_wire import ANTHROPIC, APIS, CHAT, GEMINI, OPENAI, Fault, ToolCall, Turn, decision_json

__all__ = [
    "ANTHROPIC",
    "CHAT",
    "GEMINI",
    "OPENAI",
    "ModelEndpoint",
    "RecordedRequest",
    "ToolCall",
    "Turn",
    "decision_json",
    "model_endpoint",
]

SECRET_HEADERS = {"authorization", "x-api-key", "x-goog-api-key", "cookie", "api-key", "proxy-authorization"}
AUX_TEXT = {
    ANTHROPIC: "Scripted session",
    OPENAI: "ok",
    GEMINI: json.dumps({"reasoning": "The model finished its answer.", "next_speaker": "user"}),
    CHAT: "Scripted session",
}
# opencode titles a new session with a tool-less request whose system prompt is its title generator.
_CHAT_AUX_MARKERS = ("title generator", "generate a title", "short title")


@dataclass
class RecordedRequest:
    """One HTTP request as the CLI sent it."""

    seq: int
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    api: str | None  # anthropic | openai | gemini | None (unknown path)
    kind: str = "main"  # main | aux | unknown | exhausted
    turn: int | None = None  # index of the scripted turn that answered it
    status: int = 200
    answered_with: str = ""  # text, tool:<names>, fault:<kind>, aux, 404, ...
    at: float = field(default_factory=time.monotonic)


def _is_aux(api: str, path: str, body: Any) -> bool:
    if not isinstance(body, dict):
        return True
    if api == ANTHROPIC:
        # Claude Code's main loop always declares its tools; title/quota/topic calls to the small model don't.
        return not body.get("tools") or body.get("max_tokens") == 1
    if api == GEMINI:
        config = body.get("generationConfig") or {}
        # next-speaker / loop checks ask for JSON against a schema and declare no tools.
        return bool(
            config.get("responseJsonSchema")
            or config.get("responseSchema")
            or config.get("responseMimeType") == "application/json"
        ) or not body.get("tools")
    if api == CHAT:
        # aider declares no tools at all (its edits are text), so a tool-less request is main unless it asks for a title.
        system = " ".join(
            str(m.get("content")) for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "system"
        ).lower()
        return not body.get("tools") and any(marker in system for marker in _CHAT_AUX_MARKERS)
    return not body.get("tools")


class ModelEndpoint:
    """Threaded HTTP server on 127.0.0.1:<random port>, scripted per test; see the module docstring."""

    def __init__(self, *, is_aux: Callable[[str, str, Any], bool] = _is_aux) -> None:
        self._lock = threading.Condition()
        self._queues: dict[str, deque[list[Any]]] = {api: deque() for api in APIS}
        self._turn_counter: dict[str, int] = dict.fromkeys(APIS, 0)
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._is_aux = is_aux
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> ModelEndpoint:
        handler = type("ScriptedHandler", (_Handler,), {"endpoint": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="model-endpoint", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ModelEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "endpoint not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting --------------------------------------------------------------------------------
    def script(self, api: str, turns: list[Turn]) -> None:
        """Append turns to the api's queue (anthropic | openai | gemini)."""
        if api not in APIS:
            raise ValueError(f"unknown api {api!r}; expected one of {APIS}")
        with self._lock:
            for turn in turns:
                self._queues[api].append([turn, turn.repeat])

    def replace(self, api: str, turns: list[Turn]) -> None:
        """Drop what is left of the api's queue (a persistent fault, say) and script ``turns`` instead."""
        with self._lock:
            self._queues[api].clear()
        self.script(api, turns)

    def remaining(self, api: str) -> int:
        with self._lock:
            return len(self._queues[api])

    def _next_turn(self, api: str) -> tuple[Turn, int] | None:
        with self._lock:
            queue = self._queues[api]
            if not queue:
                return None
            entry = queue[0]
            turn: Turn = entry[0]
            index = self._turn_counter[api]
            if entry[1] == 0:
                return turn, index
            entry[1] -= 1
            if entry[1] == 0:
                queue.popleft()
                self._turn_counter[api] += 1
            return turn, index

    # -- recording --------------------------------------------------------------------------------
    def _record(self, req: RecordedRequest) -> RecordedRequest:
        with self._lock:
            req.seq = len(self._requests)
            self._requests.append(req)
            self._lock.notify_all()
        return req

    def _updated(self) -> None:
        with self._lock:
            self._lock.notify_all()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, api: str, kind: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests if r.api == api and (kind is None or r.kind == kind)]

    def main_requests(self, api: str) -> list[RecordedRequest]:
        return self.requests_for(api, "main")

    @property
    def unknown(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.kind == "unknown"]

    @property
    def exhausted(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.kind == "exhausted"]

    def wait_for(self, predicate: Callable[[RecordedRequest], bool], timeout: float = 30.0) -> RecordedRequest:
        """Block until a recorded request matches (e.g. the one now hanging); TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for req in self._requests:
                    if predicate(req):
                        return req
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no matching request within {timeout}s; saw {self.summary()}")
                self._lock.wait(left)

    def summary(self) -> list[str]:
        """One short line per request, for assertion messages."""
        return [f"{r.seq}:{r.method} {r.path} {r.kind} {r.status} {r.answered_with}" for r in self.requests]


class _Handler(BaseHTTPRequestHandler):
    endpoint: ModelEndpoint
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- request ----------------------------------------------------------------------------------
    def _read_body(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        encoding = (self.headers.get("content-encoding") or "").lower()
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        elif encoding:
            return {"_undecoded": encoding, "_bytes": len(raw)}
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return {"_text": raw[:2000].decode("utf-8", "replace")}

    def _route(self, method: str, path: str) -> tuple[str | None, str]:
        """(api, operation) for a path; operation names what to answer."""
        if method == "POST" and path.endswith("/messages/count_tokens"):
            return ANTHROPIC, "count_tokens"
        if method == "POST" and path.endswith("/messages"):
            return ANTHROPIC, "messages"
        if method == "POST" and path.endswith("/chat/completions"):
            return CHAT, "chat"
        if method == "POST" and path.endswith("/responses"):
            return OPENAI, "responses"
        if method == "POST" and "/models/" in path and ":" in path.rsplit("/", 1)[-1]:
            return GEMINI, path.rsplit(":", 1)[-1]
        if method == "GET" and path.rstrip("/").endswith("/models"):
            if "anthropic-version" in self.headers:
                return ANTHROPIC, "models"
            return (GEMINI if "x-goog-api-key" in self.headers or "/v1beta" in path else OPENAI), "models"
        if method in ("GET", "HEAD") and path in ("", "/"):
            return None, "root"
        return None, "unknown"

    def _handle(self, method: str) -> None:
        ep = self.endpoint
        parts = urlsplit(self.path)
        body = self._read_body()
        headers = {k.lower(): ("***" if k.lower() in SECRET_HEADERS else v) for k, v in self.headers.items()}
        api, op = self._route(method, parts.path)
        req = RecordedRequest(
            seq=0, method=method, path=parts.path, query=parse_qs(parts.query), headers=headers, body=body, api=api
        )
        try:
            self._answer(ep, req, op)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            ep._updated()

    def _answer(self, ep: ModelEndpoint, req: RecordedRequest, op: str) -> None:
        api = req.api
        if op == "root":
            req.kind, req.answered_with = "aux", "root"
            ep._record(req)
            return self._send_json(200, {})
        if api is None or op == "unknown":
            req.kind, req.status, req.answered_with = "unknown", 404, "404"
            ep._record(req)
            return self._send_json(404, {"error": {"message": f"unknown path {req.path}", "code": 404}})
        model = self._model(req)
        if op in ("count_tokens", "countTokens"):
            req.kind, req.answered_with = "aux", op
            ep._record(req)
            return self._send_json(200, {"input_tokens": 100} if api == ANTHROPIC else {"totalTokens": 100})

        if op == "models":
            req.kind, req.answered_with = "aux", "models"
            ep._record(req)
            return self._send_json(
                200,
                {
                    "object": "list",
                    "data": [{"id": model, "object": "model", "type": "model", "display_name": model}],
                    "has_more": False,
                    "models": [],
                },
            )
        streaming = self._is_streaming(api, op, req.body)
        if ep._is_aux(api, req.path, req.body):
            req.kind, req.answered_with = "aux", "aux"
            ep._record(req)
            return self._send_turn(api, Turn.say(AUX_TEXT[api], input_tokens=10, output_tokens=3), model, streaming)
        got = ep._next_turn(api)
        if got is None:
            req.kind, req.status, req.answered_with = "exhausted", 400, "exhausted"
            ep._record(req)
            return self._send_error(api, Fault("http", 400, f"animus test endpoint: {api} script exhausted"))
        turn, req.turn = got
        if turn.fault is not None:
            req.status = turn.fault.status or 200
            req.answered_with = f"fault:{turn.fault.kind}"
            ep._record(req)
            return self._send_fault(api, turn.fault, model)
        req.answered_with = ("tool:" + ",".join(c.label for c in turn.tool_calls)) if turn.tool_calls else "text"
        ep._record(req)
        if turn.delay_secs:
            time.sleep(turn.delay_secs)
        self._send_turn(api, turn, model, streaming, req.body)

    @staticmethod
    def _is_streaming(api: str, op: str, body: Any) -> bool:
        if api == GEMINI:
            return op == "streamGenerateContent"
        return bool(isinstance(body, dict) and body.get("stream"))

    def _model(self, req: RecordedRequest) -> str:
        if req.api == GEMINI:
            return req.path.rsplit("/", 1)[-1].split(":", 1)[0]
        model = req.body.get("model") if isinstance(req.body, dict) else None
        return str(model or "scripted-model")

    # -- responses --------------------------------------------------------------------------------
    def _send_json(self, status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", wire.new_id("req_"))
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_error(self, api: str, fault: Fault) -> None:
        if fault.kind == "rate_limit":
            return self._send_json(429, wire.rate_limit_body(api, fault), fault.headers)
        errors = {ANTHROPIC: wire.anthropic_error_body, OPENAI: wire.openai_error_body, GEMINI: wire.gemini_error_body,
                  CHAT: chat.chat_error_body}
        body = (
            errors[api](
                fault.status, fault.message
            )
            if fault.body is None
            else fault.body
        )
        self._send_json(fault.status, body, fault.headers)

    def _start_stream(self, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.send_header("request-id", wire.new_id("req_"))
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        self.close_connection = True

    def _write_frames(self, frames: list[bytes]) -> None:
        for frame in frames:
            self.wfile.write(frame)
            self.wfile.flush()

    def _send_turn(self, api: str, turn: Turn, model: str, streaming: bool, body: Any = None) -> None:
        # Only the Responses API answer depends on the request: an MCP call names the namespace codex offered.
        if not streaming:
            if api == OPENAI:
                return self._send_json(200, _openai_whole(turn, model, body), turn.headers)
            if api == CHAT:
                return self._send_json(200, chat.chat_completion(turn, model), turn.headers)
            payload = {ANTHROPIC: wire.anthropic_message, GEMINI: wire.gemini_response}[api]
            return self._send_json(200, payload(turn, model), turn.headers)
        self._start_stream(turn.headers)
        if api == OPENAI:
            return self._write_frames(wire.openai_stream(turn, model, body))
        if api == CHAT:
            return self._write_frames(chat.chat_stream(turn, model, body))
        frames = {ANTHROPIC: wire.anthropic_stream, GEMINI: wire.gemini_stream}[api]
        self._write_frames(frames(turn, model))

    def _send_fault(self, api: str, fault: Fault, model: str) -> None:
        if fault.kind in ("http", "rate_limit"):
            return self._send_error(api, fault)
        self._start_stream()
        partial = {ANTHROPIC: wire.anthropic_partial, OPENAI: wire.openai_partial, GEMINI: wire.gemini_partial,
                   CHAT: chat.chat_partial}[api]
        self._write_frames(partial(fault.partial_text, model))
        if fault.kind == "hang":
            self.endpoint._stopping.wait()
        # Closing the socket mid-message is the point of a "cut"; after a hang the endpoint is stopping.
        self.close_connection = True
        self.connection.close()


def _openai_whole(turn: Turn, model: str, body: Any = None) -> dict[str, Any]:
    return wire.openai_response(turn, model, wire.new_id("resp_"), "completed", wire.openai_items(turn, body))


@pytest.fixture
def model_endpoint() -> Iterator[ModelEndpoint]:
    """A started ModelEndpoint, stopped (hangs released) after the test."""
    with ModelEndpoint() as ep:
        yield ep
