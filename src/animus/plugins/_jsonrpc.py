"""Newline-delimited JSON-RPC 2.0: the one wire format of plugins and the step-store (stdlib only).

A message is one JSON object on one line (UTF-8, ``\\n``-terminated, no embedded newlines: ``json.dumps``
escapes them). Requests carry an ``id``; notifications do not. Error codes are JSON-RPC's own plus
the Animus plugin protocol's (research/animus-reference.md §8.1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PROTOCOL_VERSION = "1.0.0"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
CANCELLED = -32800
NOT_READY = -1000
CAPABILITY_NOT_SUPPORTED = -1001
TIMEOUT = -1003

#: one message may not exceed this (a plugin that streams a runaway line is cut off, not buffered forever)
MAX_LINE_BYTES = 16 << 20


class RpcError(Exception):
    """A JSON-RPC error object as an exception: raised by handlers, or by a client when the peer answered one."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error

    @classmethod
    def from_dict(cls, error: Any) -> RpcError:
        if not isinstance(error, dict):
            return cls(INTERNAL_ERROR, f"malformed error object: {error!r}")
        return cls(int(error.get("code", INTERNAL_ERROR)), str(error.get("message", "")), error.get("data"))


@dataclass(frozen=True)
class Message:
    """One decoded message: a request (method and id), a notification (method, no id) or a response (id)."""

    raw: dict[str, Any]

    @property
    def id(self) -> Any:
        return self.raw.get("id")

    @property
    def method(self) -> str | None:
        method = self.raw.get("method")
        return method if isinstance(method, str) else None

    @property
    def params(self) -> Any:
        return self.raw.get("params")

    @property
    def is_request(self) -> bool:
        return self.method is not None and "id" in self.raw

    @property
    def is_notification(self) -> bool:
        return self.method is not None and "id" not in self.raw

    @property
    def is_response(self) -> bool:
        return self.method is None and "id" in self.raw and ("result" in self.raw or "error" in self.raw)

    def result(self) -> Any:
        """The response's result; RpcError when it is an error response."""
        if "error" in self.raw:
            raise RpcError.from_dict(self.raw["error"])
        return self.raw.get("result")


def encode(message: dict[str, Any]) -> bytes:
    """One message as its wire line."""
    return json.dumps({"jsonrpc": "2.0", **message}, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def request(id: Any, method: str, params: Any = None) -> bytes:
    message: dict[str, Any] = {"id": id, "method": method}
    if params is not None:
        message["params"] = params
    return encode(message)


def notification(method: str, params: Any = None) -> bytes:
    message: dict[str, Any] = {"method": method}
    if params is not None:
        message["params"] = params
    return encode(message)


def response(id: Any, result: Any) -> bytes:
    return encode({"id": id, "result": result})


def error_response(id: Any, error: RpcError) -> bytes:
    return encode({"id": id, "error": error.to_dict()})


def decode(line: bytes | str) -> Message:
    """Parse one wire line; RpcError(PARSE_ERROR / INVALID_REQUEST) when it is not a JSON-RPC 2.0 object."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise RpcError(PARSE_ERROR, f"not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, "not a JSON-RPC 2.0 object")
    if "method" in data and not isinstance(data["method"], str):
        raise RpcError(INVALID_REQUEST, "`method` must be a string")
    return Message(data)
