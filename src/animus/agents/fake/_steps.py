"""The fake agent's script steps: real file edits, text, tool pairs, usage, decisions and failure modes."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from animus.agents.fake._personas import _ClaudePersona, _CodexPersona, _GeminiPersona, _Persona, _Usage

_DEFAULT_USAGE = _Usage(1200, 85, 0.0123)
_DECISION_DEFAULTS = {
    "kind": "phase_decision",
    "verdict": "advance",
    "confidence": 0.9,
    "risk": "low",
    "reason": "the work is done",
    "evidence": [{"kind": "note", "description": "fake agent"}],
}


class _Runner:
    """Executes steps against a persona, printing each line as soon as it exists."""

    def __init__(self, persona: _Persona, invocation: Any) -> None:
        self.persona = persona
        self.inv = invocation
        self.usage: _Usage | None = None
        self.last_text = ""
        self.out = sys.stdout.buffer

    # -- output ---------------------------------------------------------------------------------
    def emit(self, lines: list[Any]) -> None:
        for line in lines:
            data = line if isinstance(line, str) else json.dumps(line, ensure_ascii=False, separators=(",", ":"))
            self.out.write(data.encode("utf-8", "surrogateescape") + b"\n")
        self.out.flush()

    def say(self, text: str) -> None:
        self.last_text = text
        self.emit(self.persona.text(text))

    def tool_pair(self, step: str, name: str | None, args: Any, output: str, ok: bool = True) -> None:
        tool = self.persona.tool_name(step, name)
        call_id = self.persona.new_call_id(tool)
        self.emit(self.persona.tool_use(call_id, tool, args))
        self.emit(self.persona.tool_result(call_id, tool, args, output, ok))

    def totals(self) -> _Usage:
        return self.usage or _DEFAULT_USAGE

    # -- the script -----------------------------------------------------------------------------
    def run(self, steps: list[Any]) -> int:
        self.emit(self.persona.start())
        for raw in steps:
            name, arg = _step_of(raw)
            handler = getattr(self, "do_" + name, None)
            if handler is None:
                sys.stderr.write(f"fake agent: unknown step {name!r}\n")
                return 2
            code = handler(arg)
            if code is not None:
                return int(code)
        self.emit(self.persona.finish(self.last_text, self.totals()))
        return 0

    def do_text(self, arg: Any) -> None:
        self.say(str(arg.get("text") if isinstance(arg, dict) else arg))

    def do_tool(self, arg: dict[str, Any]) -> None:
        name = str(arg.get("name") or "shell")
        output = arg.get("output")
        if output is None:
            output = "\n".join(sorted(os.listdir("."))) if name in ("shell", "Bash", "bash") else "ok"
        # "shell" is the generic name: each persona prints its own shell tool (Bash, run_shell_command…).
        explicit = None if name == "shell" else name
        self.tool_pair(name, explicit, arg.get("input", {}), str(output), bool(arg.get("ok", True)))

    def do_write(self, arg: dict[str, Any]) -> None:
        path = Path(str(arg["path"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(arg.get("content", "")), encoding="utf-8")
        args = self._file_args("write", path, arg)
        self.tool_pair("write", None, args, f"File created successfully at: {path.absolute()}")

    def do_edit(self, arg: dict[str, Any]) -> None:
        path = Path(str(arg["path"]))
        old, new = str(arg.get("old", "")), str(arg.get("new", ""))
        try:
            content = path.read_text(encoding="utf-8")
        except OSError as exc:
            self.tool_pair(
                "edit", None, self._file_args("edit", path, arg), f"<tool_use_error>{exc}</tool_use_error>", ok=False
            )
            return
        if old not in content:
            self.tool_pair(
                "edit",
                None,
                self._file_args("edit", path, arg),
                "<tool_use_error>String to replace not found in file.</tool_use_error>",
                ok=False,
            )
            return
        path.write_text(content.replace(old, new, 1), encoding="utf-8")
        self.tool_pair(
            "edit", None, self._file_args("edit", path, arg), f"The file {path.absolute()} has been updated."
        )

    def _file_args(self, step: str, path: Path, arg: dict[str, Any]) -> dict[str, Any]:
        full = str(path.absolute())
        if isinstance(self.persona, _ClaudePersona):
            if step == "write":
                return {"file_path": full, "content": arg.get("content", "")}
            return {"file_path": full, "old_string": arg.get("old", ""), "new_string": arg.get("new", "")}
        if isinstance(self.persona, _GeminiPersona):
            if step == "write":
                return {"file_path": full, "content": arg.get("content", "")}
            return {"file_path": full, "old_string": arg.get("old", ""), "new_string": arg.get("new", "")}
        if isinstance(self.persona, _CodexPersona):
            return {"path": full}
        if self.persona.tool == "cursor":
            if step == "write":
                return {"path": full, "fileText": arg.get("content", "")}
            return {"path": full, "oldText": arg.get("old", ""), "newText": arg.get("new", "")}
        if step == "write":
            return {"filePath": full, "content": arg.get("content", ""), "path": str(path)}
        return {"filePath": full, "oldString": arg.get("old", ""), "newString": arg.get("new", ""), "path": str(path)}

    def do_usage(self, arg: dict[str, Any]) -> None:
        cur = self.usage or _Usage(0, 0, None)
        cost = arg.get("cost_usd")
        self.usage = _Usage(
            cur.input_tokens + int(arg.get("input_tokens", 0)),
            cur.output_tokens + int(arg.get("output_tokens", 0)),
            (cur.cost_usd or 0.0) + float(cost) if cost is not None else cur.cost_usd,
            cur.cached_input_tokens + int(arg.get("cached_input_tokens", 0)),
        )

    def do_usage_now(self, arg: dict[str, Any]) -> None:
        """Like ``usage``, and printed now in the CLI's per-message shape (claude: an assistant message's usage).

        CLIs that report usage only at their end (codex, gemini, aider) print nothing here.
        """
        self.do_usage(arg)
        self.emit(self.persona.usage_now(int(arg.get("input_tokens", 0)), int(arg.get("output_tokens", 0))))

    def do_sleep(self, arg: Any) -> None:
        time.sleep(float(arg.get("secs", 0) if isinstance(arg, dict) else arg))

    def do_wait_for_file(self, arg: dict[str, Any]) -> int | None:
        """Block until ``path`` exists (a test's gate), or give up after ``timeout`` seconds with exit 1."""
        path, deadline = Path(arg["path"]), time.monotonic() + float(arg.get("timeout", 60))
        while not path.exists():
            if time.monotonic() > deadline:
                sys.stderr.write(f"fake agent: {path} never appeared\n")
                return 1
            time.sleep(0.05)
        return None

    def do_decision(self, arg: Any) -> None:
        fields = arg if isinstance(arg, dict) else {"verdict": str(arg)}
        decision = {**_DECISION_DEFAULTS, **fields}
        lead = str(fields.get("text", "Work complete."))
        decision.pop("text", None)
        self.say(lead + "\n" + json.dumps(decision, separators=(",", ":")))

    def do_malformed_decision(self, arg: Any) -> None:
        self.say('Done.\n{"kind":"phase_decision","verdict":"maybe","confidence":1.7,"risk":"low"}')

    def do_print_env(self, arg: Any) -> None:
        names = arg.get("names", []) if isinstance(arg, dict) else list(arg or [])
        self.say("\n".join(f"{n}={os.environ.get(n, '')}" for n in names))

    def do_exit(self, arg: Any) -> int:
        code = int(arg.get("code", 0) if isinstance(arg, dict) else arg or 0)
        self.emit(self.persona.finish(self.last_text, self.totals()))
        return code

    def do_crash(self, arg: Any) -> int:
        code = int(arg.get("code", 1) if isinstance(arg, dict) else arg or 1)
        sys.stderr.write("fake agent: crashing as scripted\n")
        sys.stderr.flush()
        return code

    def do_hang(self, arg: Any) -> None:
        while True:
            time.sleep(3600)

    def do_sigkill_between_tool_use_and_result(self, arg: Any) -> None:
        args = arg.get("input", {"command": "make test"}) if isinstance(arg, dict) else {"command": "make test"}
        name = self.persona.tool_name("shell", None)
        self.emit(self.persona.tool_use(self.persona.new_call_id(name), name, args))
        os.kill(os.getpid(), signal.SIGKILL)

    def do_flood(self, arg: Any) -> None:
        mb = float(arg.get("mb", 100) if isinstance(arg, dict) else arg or 100)
        text = "Reading the module and thinking about the change. " * 20
        chunk = b"".join(
            (json.dumps(line, separators=(",", ":")) if not isinstance(line, str) else line).encode() + b"\n"
            for _ in range(256)
            for line in self.persona.text(text)
        )
        remaining = int(mb * 1024 * 1024)
        while remaining > 0:
            piece = chunk[:remaining]
            # Never cut a line: the next step's line must start on a fresh line.
            piece = piece[: piece.rfind(b"\n") + 1] or chunk[: chunk.find(b"\n") + 1]
            self.out.write(piece)
            remaining -= len(piece)
        self.out.flush()

    def do_spawn_grandchild_ignoring_sigterm(self, arg: Any) -> None:
        pidfile = arg.get("pidfile") if isinstance(arg, dict) else None
        self.out.flush()
        child = os.fork()
        if child == 0:
            try:
                os.setsid()
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                if pidfile:
                    Path(pidfile).write_text(str(os.getpid()))
                while True:
                    time.sleep(3600)
            finally:
                os._exit(0)
        self.say(f"started helper process {child}")

    def do_api_error_as_success(self, arg: Any) -> int:
        status = int(arg.get("status", 400)) if isinstance(arg, dict) else 400
        if isinstance(self.persona, _ClaudePersona):
            self.emit(self.persona.api_error_as_success(status))
            return 0
        self.emit(self.persona.error(f"API Error: {status}"))
        return 1

    def do_turn_failed_exit0(self, arg: Any) -> int:
        if isinstance(self.persona, _CodexPersona):
            self.emit(self.persona.turn_failed())
        else:
            self.emit(self.persona.error("turn failed"))
        return 0

    def do_gemini_error_then_success(self, arg: Any) -> int:
        if isinstance(self.persona, _GeminiPersona):
            self.emit(self.persona.error_then_success())
            return int(arg.get("code", 0)) if isinstance(arg, dict) else 0
        self.emit(self.persona.error("Maximum session turns exceeded"))
        return 1

    def do_rate_limit(self, arg: Any) -> int:
        resets_at = int(arg.get("resets_at", time.time() + 3600)) if isinstance(arg, dict) else int(time.time() + 3600)
        lines, code = self.persona.rate_limit(resets_at)
        self.emit(lines)
        return code


def _step_of(raw: Any) -> tuple[str, Any]:
    """A step is ``"name"`` or ``{"name": arg}`` (or ``{"step": "name", ...}``)."""
    if isinstance(raw, str):
        return raw, {}
    if isinstance(raw, dict):
        if "step" in raw:
            rest = {k: v for k, v in raw.items() if k != "step"}
            return str(raw["step"]), rest
        if len(raw) == 1:
            ((name, arg),) = raw.items()
            return str(name), arg
    raise SystemExit(f"fake agent: bad step {raw!r}")
