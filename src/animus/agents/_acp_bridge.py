"""The ACP bridge: one agent run of a ``tool: acp`` agent, run by procs' supervisor like any agent CLI.

``python -m animus.agents._acp_bridge`` reads the job (the agent's argv, cwd, prompt, session, policy)
as JSON on stdin, starts the Agent Client Protocol agent as its child (in the supervisor's process
group, so procs' kill-tree takes both) and is the ACP *client* over the child's stdio, with the
maintained ``agent-client-protocol`` library: ``initialize`` (file system read/write offered, confined
to the worktree), ``session/new`` in the worktree (or ``session/load`` to resume, where the agent
can), then one ``session/prompt``. It prints one JSON line per thing that happened, in the ACP wire
shape (``{"acp": "update", "update": {...}}`` for each ``session/update``, ``permission`` for each
``session/request_permission`` and its answer, ``fs`` for each file the agent read or wrote through
us, ``session``, ``prompt_response``, ``error``); ``_acp.py``'s adapter maps them onto normalized
events like any CLI's stdout. Permission requests are answered from the phase's policy
(``_acp_policy.py``). Exit 0 when the turn ended normally (``end_turn``), 1 when it did not, 2 when
the agent could not be used, 143 when stopped (``session/cancel`` is sent first).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, cast

import acp
from acp import schema

from animus import procs
from animus.agents._acp_policy import _inside, _Policy
from animus.domain.errors import AnimusError

_PROTOCOL_VERSION = acp.PROTOCOL_VERSION
_HANDSHAKE_TIMEOUT_SECS = 120.0
_CANCEL_GRACE_SECS = 3.0
_STREAM_LIMIT = 50 * 1024 * 1024
_RUN_DIR_MARKER = "ANIMUS_RUN_DIR"
_STDERR = "stderr.log"
_READ_CAP = 8 * 1024 * 1024


class _Output:
    """The run's stdout: one JSON object a line (the asyncio loop is the only writer)."""

    def emit(self, kind: str, **data: Any) -> None:
        line = json.dumps({"acp": kind, **data}, ensure_ascii=False, default=str)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _wire(model: Any) -> Any:
    """A library model as it travels on the wire (camelCase keys, no nulls)."""
    dump = getattr(model, "model_dump", None)
    return dump(mode="json", by_alias=True, exclude_none=True) if dump is not None else model


class _Client:
    """The ACP client side animus plays: prints updates, answers permissions, serves the worktree's files."""

    def __init__(self, out: _Output, policy: _Policy) -> None:
        self.out = out
        self.policy = policy
        self.replaying = False  # session/load replays the history as updates: not this run's events
        self.replayed = 0
        self.config_options: list[dict[str, Any]] = []
        # what the session's updates said of each tool call: a permission request may repeat none of it
        self.calls: dict[str, dict[str, Any]] = {}

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        if self.replaying:
            self.replayed += 1
            return
        wire = _wire(update)
        if isinstance(wire, dict) and wire.get("sessionUpdate") in ("tool_call", "tool_call_update"):
            known = self.calls.setdefault(str(wire.get("toolCallId")), {})
            known.update({k: wire[k] for k in ("kind", "locations", "rawInput") if wire.get(k)})
        self.out.emit("update", session_id=session_id, update=wire)

    async def request_permission(
        self, session_id: str, tool_call: Any, options: list[Any], **kwargs: Any
    ) -> schema.RequestPermissionResponse:
        call = _wire(tool_call)
        # claude-code-acp asks with only a title and rawInput: judge by what its updates told us of the call
        ruling = self.policy.rule({**self.calls.get(str(call.get("toolCallId")), {}), **call})
        wanted = ("allow_once", "allow_always") if ruling.granted else ("reject_once", "reject_always")
        chosen = next((o for kind in wanted for o in options if o.kind == kind), None)
        self.out.emit(
            "permission",
            tool_call=call,
            granted=ruling.granted,
            reason=ruling.reason,
            option=chosen.option_id if chosen is not None else None,
        )
        if chosen is None:  # no option of the kind we want: "cancelled" is the protocol's refusal of all
            return schema.RequestPermissionResponse(outcome=schema.DeniedOutcome(outcome="cancelled"))
        return schema.RequestPermissionResponse(
            outcome=schema.AllowedOutcome(outcome="selected", option_id=chosen.option_id)
        )

    async def read_text_file(
        self, session_id: str, path: str, line: int | None = None, limit: int | None = None, **kwargs: Any
    ) -> schema.ReadTextFileResponse:
        target = self._confined(path, "read")
        try:
            with open(target, encoding="utf-8", errors="replace") as fh:
                text = fh.read(_READ_CAP)
        except OSError as exc:
            self.out.emit("fs", op="read", path=path, ok=False, error=str(exc))
            raise acp.RequestError.resource_not_found(path) from exc
        if line is not None or limit is not None:
            lines = text.splitlines(keepends=True)
            start = max((line or 1) - 1, 0)
            text = "".join(lines[start : start + limit if limit is not None else None])
        self.out.emit("fs", op="read", path=path, ok=True)
        return schema.ReadTextFileResponse(content=text)

    async def write_text_file(self, session_id: str, path: str, content: str, **kwargs: Any) -> None:
        target = self._confined(path, "write")
        if self.policy.read_only:
            self.out.emit("fs", op="write", path=path, ok=False, error="refused: the phase is read-only")
            raise acp.RequestError.invalid_request({"path": path, "reason": "animus: this phase is read-only"})
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        except OSError as exc:
            self.out.emit("fs", op="write", path=path, ok=False, error=str(exc))
            raise acp.RequestError.internal_error({"path": path, "reason": str(exc)}) from exc
        self.out.emit("fs", op="write", path=path, ok=True, bytes=len(content.encode("utf-8")))
        return None

    def _confined(self, path: str, op: str) -> Path:
        if not _inside(path, self.policy.root):
            self.out.emit("fs", op=op, path=path, ok=False, error="refused: outside the worktree")
            raise acp.RequestError.invalid_params({"path": path, "reason": "animus: outside the worktree"})
        return Path(path)

    # Terminals are not offered (clientCapabilities.terminal is false): agents run their own shell tool,
    # which still asks session/request_permission first.

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise acp.RequestError.method_not_found(method)

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None

    def on_connect(self, conn: Any) -> None:
        return None


def _job() -> dict[str, Any]:
    data = json.loads(sys.stdin.read() or "{}")
    if not isinstance(data, dict):
        raise ValueError("the job on stdin is not a JSON object")
    if not isinstance(data.get("command"), list) or not data["command"]:
        raise ValueError("the job names no agent command")
    return data


def _mcp_servers(job: dict[str, Any]) -> list[schema.McpServerStdio]:
    servers = []
    for s in job.get("mcp_servers") or []:
        env = [schema.EnvVariable(name=str(k), value=str(v)) for k, v in (s.get("env") or {}).items()]
        servers.append(
            schema.McpServerStdio(name=str(s["id"]), command=str(s["command"][0]), args=list(s["command"][1:]), env=env)
        )
    return servers


async def _streams(child: procs.PipedProcess) -> tuple[asyncio.StreamWriter, asyncio.StreamReader]:
    """asyncio streams over the child's pipes (the library wants them; procs spawned the child)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_STREAM_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), child.stdout)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, child.stdin)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return writer, reader


async def _session(conn: Any, client: _Client, job: dict[str, Any], caps: Any, out: _Output) -> str:
    """The session id: the resumed one (session/load) where asked and offered, else a new one."""
    cwd = str(job["cwd"])
    servers = _mcp_servers(job)
    wanted = job.get("session_id") if job.get("resume") else None
    if wanted and caps is not None and caps.load_session:
        client.replaying = True
        try:
            loaded = await conn.load_session(cwd=cwd, session_id=str(wanted), mcp_servers=servers)
        finally:
            client.replaying = False
        client.config_options = [_wire(o) for o in getattr(loaded, "config_options", None) or ()]
        out.emit("session", session_id=str(wanted), loaded=True, replayed_updates=client.replayed)
        return str(wanted)
    if wanted:
        out.emit("error", message=f"the agent cannot load sessions: session {wanted} starts anew", fatal=False)
    response = await conn.new_session(cwd=cwd, mcp_servers=servers)
    out.emit("session", session_id=response.session_id, loaded=False)
    client.config_options = [_wire(o) for o in response.config_options or ()]
    return str(response.session_id)


async def _select_model(conn: Any, client: _Client, session_id: str, model: str | None, out: _Output) -> None:
    """``model:`` through the session's ``model`` config option, where the agent offers one."""
    if not model:
        return
    option = next((o for o in client.config_options if o.get("category") == "model" or o.get("id") == "model"), None)
    if option is None:
        # (the library has no session/set_model, the unstable method some agents take instead)
        out.emit("error", message=f"the agent offers no model option: model {model!r} is not applied "
                 "(name the model in `command`, e.g. gemini's -m)", fatal=False)
        return
    try:
        await conn.set_config_option(config_id=str(option["id"]), session_id=session_id, value=model)
    except acp.RequestError as exc:
        out.emit("error", message=f"the agent did not take model {model!r}: {_describe(exc)}", fatal=False)


def _prompt_text(job: dict[str, Any]) -> str:
    system = job.get("system_prompt")
    prompt = str(job.get("prompt") or "")
    return f"{system.rstrip()}\n\n{prompt}" if system else prompt


async def _run(job: dict[str, Any], out: _Output, stopping: asyncio.Event) -> int:
    policy = _Policy(root=os.path.realpath(str(job["cwd"])), read_only=bool(job.get("read_only")))
    run_dir = os.environ.get(_RUN_DIR_MARKER)
    stderr_path = Path(run_dir) / _STDERR if run_dir else Path(os.devnull)
    try:
        child = procs.spawn_piped(job["command"], cwd=job["cwd"], env=os.environ, stderr_path=stderr_path, own_group=False)
    except AnimusError as exc:
        out.emit("error", message=f"cannot start the ACP agent: {exc.message}", fatal=True)
        return 2
    client = _Client(out, policy)
    try:
        writer, reader = await _streams(child)
        # (the library looks handlers up by name: the terminal and elicitation ones we leave out answer method_not_found)
        conn = acp.connect_to_agent(cast(acp.Client, client), writer, reader)
        try:
            init = await asyncio.wait_for(
                conn.initialize(
                    protocol_version=_PROTOCOL_VERSION,
                    client_capabilities=schema.ClientCapabilities(
                        fs=schema.FileSystemCapabilities(read_text_file=False, write_text_file=True), terminal=False
                    ),
                    client_info=schema.Implementation(name="animus", version="0.1.0"),
                ),
                _HANDSHAKE_TIMEOUT_SECS,
            )
            info = init.agent_info
            out.emit(
                "initialize",
                protocol_version=init.protocol_version,
                agent=_wire(info) if info is not None else None,
                load_session=bool(init.agent_capabilities and init.agent_capabilities.load_session),
            )
            session_id = await asyncio.wait_for(
                _session(conn, client, job, init.agent_capabilities, out), _HANDSHAKE_TIMEOUT_SECS
            )
            await _select_model(conn, client, session_id, job.get("model"), out)
        except (TimeoutError, acp.RequestError, ConnectionError, OSError) as exc:
            out.emit("error", message=f"the ACP handshake failed: {_describe(exc)}", fatal=True)
            return 2
        prompt = asyncio.ensure_future(conn.prompt(session_id=session_id, prompt=[acp.text_block(_prompt_text(job))]))
        stop = asyncio.ensure_future(stopping.wait())
        await asyncio.wait({prompt, stop}, return_when=asyncio.FIRST_COMPLETED)
        if not prompt.done():
            try:
                await conn.cancel(session_id=session_id)
            except (acp.RequestError, ConnectionError, OSError):
                pass  # the agent got the run's SIGTERM too and may be gone already: the tree kill follows anyway
            done, _ = await asyncio.wait({prompt}, timeout=_CANCEL_GRACE_SECS)
            if prompt in done and not prompt.cancelled() and prompt.exception() is None:
                out.emit("prompt_response", **_wire(prompt.result()))
            out.emit("error", message="stopped: the run was cancelled (session/cancel sent)", fatal=True)
            return 143
        stop.cancel()
        try:
            response = prompt.result()
        except (acp.RequestError, ConnectionError, OSError) as exc:
            out.emit("error", message=f"session/prompt failed: {_describe(exc)}", fatal=True)
            return 1
        out.emit("prompt_response", **_wire(response))
        return 0 if response.stop_reason == "end_turn" else 1
    finally:
        child.kill()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, acp.RequestError):
        data = f" {json.dumps(exc.data, default=str)}" if getattr(exc, "data", None) else ""
        return f"{exc}{data}"
    return str(exc) or type(exc).__name__


async def _main_async(job: dict[str, Any], out: _Output) -> int:
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    return await _run(job, out, stopping)


def _main() -> int:
    out = _Output()
    try:
        job = _job()
    except ValueError as exc:
        out.emit("error", message=f"unreadable job: {exc}", fatal=True)
        return 2
    return asyncio.run(_main_async(job, out))


if __name__ == "__main__":
    sys.exit(_main())
