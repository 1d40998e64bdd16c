"""The OpenAPI 3.0 document, generated from the endpoint table (so the spec and the routes never drift)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from animus.api._endpoint import Endpoint

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "hint": {"type": "string"}},
        }
    },
}
_ERRORS = {
    "400": "invalid input (malformed id, body or parameter)",
    "401": "the API token (or a trigger signature) is missing or wrong",
    "404": "no such task, run, trigger or entry",
    "409": "conflicts with the current state",
    "429": "rate limited",
    "503": "a dependency is unavailable (database, secret variable)",
}


def _path_params(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 200}}
        for name in re.findall(r"{([a-z_]+)}", path)
    ]


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    params = _path_params(endpoint.path)
    for p in endpoint.query:
        schema = {"type": "array", "items": p.schema} if p.repeated else p.schema
        entry: dict[str, Any] = {"name": p.name, "in": "query", "required": False, "schema": schema}
        if p.repeated:
            entry.update(style="form", explode=True)
        if p.description:
            entry["description"] = p.description
        params.append(entry)
    media = "text/event-stream" if endpoint.stream else "application/json"
    responses: dict[str, Any] = {
        str(endpoint.status): {"description": "success", "content": {media: {"schema": endpoint.response}}},
    }
    for code, text in _ERRORS.items():
        responses[code] = {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    op: dict[str, Any] = {
        "operationId": f"{endpoint.method.lower()}_{endpoint.operation_id}",
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "parameters": params,
        "responses": responses,
    }
    if endpoint.body is not None:
        op["requestBody"] = {"required": False, "content": {"application/json": {"schema": endpoint.body}}}
    if endpoint.auth == "handler":
        op["security"] = [{}, {"bearer": []}]
    elif endpoint.mutation:
        op["security"] = [{"bearer": []}]
    return op


def _openapi_spec(endpoints: Iterable[Endpoint], *, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "animus API",
            "version": version,
            "description": "Tasks, queue, workflow runs, agent runs, events and triggers of one animus project. "
            "Mutations need `Authorization: Bearer <token>` (`animus web token`); reads need it too when the "
            "server listens on a non-loopback address.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
