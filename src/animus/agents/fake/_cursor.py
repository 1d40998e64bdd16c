"""The line shapes the fake `cursor-agent` prints (Cursor CLI `--output-format stream-json`)."""

from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any

from animus.agents.fake._personas import _B62, _Persona, _Usage


class _CursorPersona(_Persona):
    """cursor-agent's stream-json: init, the prompt echoed, assistant segments, tool_call pairs, one result.

    It reports no token usage; the result's ``result`` is every assistant segment, concatenated.
    """

    tool = "cursor"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.said: list[str] = []
        self.request_id = str(uuid.uuid4())

    def start(self) -> list[Any]:
        init = {"type": "system", "subtype": "init", "apiKeySource": "env", "cwd": self.cwd,
                "session_id": self.session_id, "model": self.model, "permissionMode": "default"}
        prompt = {"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": self.prompt}]},
                  "session_id": self.session_id}
        return [init, prompt]

    def text(self, text: str) -> list[Any]:
        self.said.append(text)
        message = {"role": "assistant", "content": [{"type": "text", "text": text}]}
        return [{"type": "assistant", "message": message, "session_id": self.session_id}]

    def new_call_id(self, name: str) -> str:
        return "toolu_" + "".join(random.choice(_B62) for _ in range(24))

    @staticmethod
    def _call(name: str, args: Any) -> dict[str, Any]:
        if name in ("read", "write", "edit", "shell", "ls", "glob", "grep", "delete"):
            return {f"{name}ToolCall": {"args": args}}
        return {"function": {"name": name, "arguments": json.dumps(args)}}

    def tool_use(self, call_id: str, name: str, args: Any) -> list[Any]:
        return [{"type": "tool_call", "subtype": "started", "call_id": call_id, "tool_call": self._call(name, args),
                 "session_id": self.session_id}]

    def tool_result(self, call_id: str, name: str, args: Any, output: str, ok: bool) -> list[Any]:
        call = self._call(name, args)
        body = next(iter(call.values()))
        if not ok:
            body["result"] = {"error": {"errorMessage": output}}
        elif name == "shell":
            command = args.get("command") if isinstance(args, dict) else str(args)
            body["result"] = {"success": {"command": command, "exitCode": 0, "stdout": output, "stderr": ""}}
        elif name == "write":
            content = str(args.get("fileText", "")) if isinstance(args, dict) else ""
            body["result"] = {"success": {"path": args.get("path") if isinstance(args, dict) else "",
                                          "linesCreated": len(content.splitlines()), "fileSize": len(content.encode())}}
        else:
            body["result"] = {"success": {"content": output}}
        return [{"type": "tool_call", "subtype": "completed", "call_id": call_id, "tool_call": call,
                 "session_id": self.session_id}]

    def _result(self, text: str, *, is_error: bool) -> dict[str, Any]:
        ms = int((time.time() - self.started) * 1000)
        return {"type": "result", "subtype": "error" if is_error else "success", "duration_ms": ms,
                "duration_api_ms": ms, "is_error": is_error, "result": text, "session_id": self.session_id,
                "request_id": self.request_id}

    def finish(self, final_text: str, usage: _Usage) -> list[Any]:
        return [self._result("".join(self.said), is_error=False)]

    def error(self, message: str) -> list[Any]:
        return [self._result(message, is_error=True)]

    def rate_limit(self, resets_at: int) -> tuple[list[Any], int]:
        return self.error("You've hit your usage limit for this model (429 Too Many Requests)"), 1


