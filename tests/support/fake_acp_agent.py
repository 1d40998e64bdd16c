"""A tiny Agent Client Protocol agent: a real program speaking ACP over stdio (the library's agent side).

Run ``python tests/support/fake_acp_agent.py SCRIPT.json [LEDGER.jsonl]``. The script is a JSON object:

- ``steps``: what one ``session/prompt`` does, in order. ``{"message": "text"}`` (sent in two chunks),
  ``{"thought": "text"}``, ``{"plan": ["entry", ...]}``, ``{"write": {"path": "rel/or/abs", "content": "…"}}``
  (a ``tool_call`` of kind edit, ``session/request_permission``, then ``fs/write_text_file`` through
  the client when granted, or anyway with ``"force": true``; ``"bare": true`` asks with a title only; the tool call ends ``completed`` or ``failed``), ``{"sleep": seconds}``
  (ended early by ``session/cancel``), ``{"exit": code}`` (dies mid-turn).
- ``stop_reason`` (default ``end_turn``), ``usage`` ({"input": n, "output": n}) for the prompt's answer.
- ``load_session`` (default true): offered; a load replays one agent message of the old session.
- ``ignore_sigterm``: outlive the run's SIGTERM (as an agent that shuts down cleanly would), so a test
  sees the ``session/cancel`` the bridge sends before the tree kill.

Every request the agent gets, and every answer to its own requests, is appended to the ledger, so a
test sees what the client really said (the permission outcome, a cancel, a session/load).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import acp
from acp import schema

SCRIPT = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
LEDGER = Path(sys.argv[2]) if len(sys.argv) > 2 else None


def note(kind: str, **data: Any) -> None:
    if LEDGER is not None:
        with LEDGER.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"kind": kind, "pid": os.getpid(), **data}, default=str) + "\n")


class FakeAgent:
    def __init__(self) -> None:
        self.client: Any = None
        self.cwd: dict[str, str] = {}
        self.cancelled: set[str] = set()
        self.fs_write = False

    def on_connect(self, conn: Any) -> None:
        self.client = conn

    async def initialize(self, protocol_version: int, client_capabilities: Any = None, client_info: Any = None, **kw: Any) -> schema.InitializeResponse:
        caps = client_capabilities
        self.fs_write = bool(caps and caps.fs and caps.fs.write_text_file)
        note("initialize", client=client_info.name if client_info else None, fs_write=self.fs_write,
             fs_read=bool(caps and caps.fs and caps.fs.read_text_file), terminal=bool(caps and caps.terminal))
        return schema.InitializeResponse(
            protocol_version=protocol_version,
            agent_capabilities=schema.AgentCapabilities(load_session=SCRIPT.get("load_session", True)),
            agent_info=schema.Implementation(name="fake-acp-agent", version="1.0"),
        )

    async def new_session(self, cwd: str, mcp_servers: Any = None, **kw: Any) -> schema.NewSessionResponse:
        sid = f"fake-{uuid.uuid4().hex[:8]}"
        self.cwd[sid] = cwd
        note("session/new", session_id=sid, cwd=cwd, mcp_servers=[s.name for s in mcp_servers or ()])
        return schema.NewSessionResponse(session_id=sid)

    async def load_session(self, cwd: str, session_id: str, mcp_servers: Any = None, **kw: Any) -> schema.LoadSessionResponse:
        self.cwd[session_id] = cwd
        note("session/load", session_id=session_id, cwd=cwd)
        await self.client.session_update(session_id, acp.update_agent_message_text("(replayed from the old session)"))
        return schema.LoadSessionResponse()

    async def cancel(self, session_id: str, **kw: Any) -> None:
        note("session/cancel", session_id=session_id)
        self.cancelled.add(session_id)

    async def prompt(self, prompt: list[Any], session_id: str, **kw: Any) -> schema.PromptResponse:
        text = "".join(getattr(block, "text", "") for block in prompt)
        note("session/prompt", session_id=session_id, prompt=text)
        for n, step in enumerate(SCRIPT.get("steps") or []):
            if session_id in self.cancelled:
                return schema.PromptResponse(stop_reason="cancelled")
            await self._step(session_id, n, step)
        if session_id in self.cancelled:
            return schema.PromptResponse(stop_reason="cancelled")
        usage = SCRIPT.get("usage")
        return schema.PromptResponse(
            stop_reason=SCRIPT.get("stop_reason", "end_turn"),
            usage=schema.Usage(input_tokens=usage["input"], output_tokens=usage["output"],
                               total_tokens=usage["input"] + usage["output"]) if usage else None,
        )

    async def _step(self, sid: str, n: int, step: dict[str, Any]) -> None:
        send = self.client.session_update
        if "message" in step:
            message = str(step["message"])
            half = len(message) // 2
            for part in (message[:half], message[half:]):
                await send(sid, acp.update_agent_message_text(part))
        elif "thought" in step:
            await send(sid, acp.update_agent_thought_text(str(step["thought"])))
        elif "plan" in step:
            await send(sid, acp.update_plan([acp.plan_entry(str(e)) for e in step["plan"]]))
        elif "write" in step:
            await self._write(sid, f"call-{n}", step["write"])
        elif "sleep" in step:
            for _ in range(int(float(step["sleep"]) * 20)):
                if sid in self.cancelled:
                    return
                await asyncio.sleep(0.05)
        elif "exit" in step:
            os._exit(int(step["exit"]))

    async def _write(self, sid: str, call_id: str, spec: dict[str, Any]) -> None:
        path = str(Path(self.cwd[sid], spec["path"]))
        content = str(spec["content"])
        diff = acp.tool_diff_content(path, content, None)
        await self.client.session_update(sid, acp.start_edit_tool_call(call_id, f"Write {spec['path']}", path, content))
        options = [
            schema.PermissionOption(option_id="yes", name="Allow", kind="allow_once"),
            schema.PermissionOption(option_id="no", name="Reject", kind="reject_once"),
        ]
        asked = schema.ToolCallUpdate(tool_call_id=call_id, kind="edit", title=f"Write {spec['path']}",
                                      locations=[schema.ToolCallLocation(path=path)], content=[diff])
        if spec.get("bare"):  # as claude-code-acp asks: a title and nothing else the policy could judge by
            asked = schema.ToolCallUpdate(tool_call_id=call_id, title=f"Write {spec['path']}")
        answer = await self.client.request_permission(session_id=sid, tool_call=asked, options=options)
        outcome = answer.outcome
        chosen = getattr(outcome, "option_id", None)
        note("permission", tool_call_id=call_id, outcome=outcome.outcome, option=chosen)
        if chosen != "yes" and not spec.get("force"):
            await self.client.session_update(sid, acp.update_tool_call(call_id, status="failed",
                                             content=[acp.tool_content(acp.text_block("the user refused"))]))
            return
        try:
            if self.fs_write:
                await self.client.write_text_file(session_id=sid, path=path, content=content)
            else:
                Path(path).write_text(content, encoding="utf-8")
        except acp.RequestError as exc:
            note("fs/write_text_file", path=path, error=str(exc))
            await self.client.session_update(sid, acp.update_tool_call(call_id, status="failed",
                                             content=[acp.tool_content(acp.text_block(f"write failed: {exc}"))]))
            return
        note("fs/write_text_file", path=path, ok=True)
        await self.client.session_update(sid, acp.update_tool_call(call_id, status="completed", content=[diff]))


if __name__ == "__main__":
    if SCRIPT.get("ignore_sigterm"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    asyncio.run(acp.run_agent(FakeAgent()))
