"""The plugin host: executables speaking newline-delimited JSON-RPC 2.0 on stdio (the Animus plugin protocol)."""

from __future__ import annotations

from animus.plugins._jsonrpc import (
    CANCELLED,
    CAPABILITY_NOT_SUPPORTED,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    MAX_LINE_BYTES,
    METHOD_NOT_FOUND,
    NOT_READY,
    PARSE_ERROR,
    PROTOCOL_VERSION,
    TIMEOUT,
    Message,
    RpcError,
    decode,
    encode,
    error_response,
    notification,
    request,
    response,
)

__all__ = [
    "CANCELLED",
    "CAPABILITY_NOT_SUPPORTED",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "MAX_LINE_BYTES",
    "METHOD_NOT_FOUND",
    "NOT_READY",
    "PARSE_ERROR",
    "PROTOCOL_VERSION",
    "TIMEOUT",
    "Message",
    "RpcError",
    "decode",
    "encode",
    "error_response",
    "notification",
    "request",
    "response",
]
