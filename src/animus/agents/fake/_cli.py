"""The fake agent CLI: parse a real CLI's flags, follow a script of steps, print that CLI's exact lines."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from animus.agents.fake._cursor import _CursorPersona
from animus.agents.fake._personas import _DEFAULT_MODELS, _new_session_id
from animus.agents.fake._personas import PERSONAS as _FIRST_PERSONAS

# Every CLI the fake can play, by tool name.
PERSONAS = {**_FIRST_PERSONAS, _CursorPersona.tool: _CursorPersona}

ENV_AS = "ANIMUS_FAKE_AS"
ENV_SCRIPT = "ANIMUS_FAKE_SCRIPT"
ENV_LEDGER = "ANIMUS_FAKE_LEDGER"

DEMO_SCRIPT: list[Any] = [
    {"text": "I'll look at the repository first."},
    {"tool": {"name": "shell", "input": {"command": "ls"}}},
    {"usage": {"input_tokens": 1200, "output_tokens": 85, "cost_usd": 0.0123}},
    {"decision": {"verdict": "advance", "reason": "the demo task is done"}},
]

# Flags that take a value, per CLI (everything else starting with '-' is a boolean; unknown flags are ignored).
_VALUE_FLAGS = {
    "claude": {
        "--output-format",
        "--input-format",
        "--resume",
        "-r",
        "--session-id",
        "--permission-mode",
        "--model",
        "--fallback-model",
        "--append-system-prompt",
        "--system-prompt",
        "--max-turns",
        "--max-budget-usd",
        "--permission-prompt-tool",
        "--json-schema",
        "--settings",
        "--setting-sources",
        "--agents",
    },
    "codex": {
        "-m",
        "--model",
        "-s",
        "--sandbox",
        "-C",
        "--cd",
        "-c",
        "--config",
        "-p",
        "--profile",
        "-o",
        "--output-last-message",
        "--output-schema",
        "-i",
        "--image",
        "--color",
        "--enable",
        "--disable",
        "--local-provider",
    },
    "gemini": {
        "-p",
        "--prompt",
        "-o",
        "--output-format",
        "-m",
        "--model",
        "--approval-mode",
        "-r",
        "--resume",
        "--include-directories",
        "--allowed-mcp-server-names",
        "--allowed-tools",
        "-e",
        "--extensions",
        "--proxy",
    },
    "opencode": {
        "--format",
        "-m",
        "--model",
        "--agent",
        "-s",
        "--session",
        "--title",
        "-f",
        "--file",
        "--dir",
        "--attach",
        "--port",
        "--variant",
        "--command",
    },
    "cursor": {"--output-format", "--model", "-m", "--resume", "--mode", "--api-key", "--workspace", "-H", "--header"},
    "aider": {
        "--message",
        "-m",
        "--msg",
        "--model",
        "--message-file",
        "-f",
        "--openai-api-base",
        "--openai-api-key",
        "--anthropic-api-key",
        "--edit-format",
        "--chat-history-file",
        "--input-history-file",
        "--llm-history-file",
        "--test-cmd",
        "--lint-cmd",
        "--map-tokens",
        "--weak-model",
        "--editor-model",
    },
}
_VARIADIC = {
    "--allowedTools",
    "--allowed-tools",
    "--disallowedTools",
    "--disallowed-tools",
    "--tools",
    "--add-dir",
    "--mcp-config",
    "--betas",
}


class _Invocation:
    """What the fake understood from its argv."""

    def __init__(self, tool: str, argv: list[str]) -> None:
        self.tool = tool
        self.flags: dict[str, str] = {}
        self.bools: set[str] = set()
        self.positionals: list[str] = []
        self._parse(argv)
        self.resume_id: str | None = None
        self.prompt = ""
        self._interpret()

    def _parse(self, argv: list[str]) -> None:
        values = _VALUE_FLAGS.get(self.tool, set())
        i = 0
        only_positionals = False
        while i < len(argv):
            arg = argv[i]
            i += 1
            if only_positionals or not arg.startswith("-") or arg == "-":
                self.positionals.append(arg)
            elif arg == "--":
                only_positionals = True
            elif "=" in arg and arg.startswith("--"):
                key, _, value = arg.partition("=")
                self.flags[key] = value
            elif self.tool == "claude" and arg in _VARIADIC:
                items = []
                while i < len(argv) and not argv[i].startswith("-"):
                    items.append(argv[i])
                    i += 1
                self.flags[arg] = ",".join(items)
            elif arg in values and i < len(argv):
                self.flags[arg] = argv[i]
                i += 1
            else:
                self.bools.add(arg)

    def flag(self, *names: str) -> str | None:
        for name in names:
            if name in self.flags:
                return self.flags[name]
        return None

    def _interpret(self) -> None:
        pos = list(self.positionals)
        if self.tool == "claude":
            self.resume_id = self.flag("--resume", "-r")
            self.prompt = pos[0] if pos else ""
        elif self.tool == "codex":
            if pos and pos[0] == "exec":
                pos.pop(0)
            if pos and pos[0] == "resume":
                pos.pop(0)
                if "--last" in self.bools:
                    self.resume_id = "last"
                elif pos:
                    self.resume_id = pos.pop(0)
            self.prompt = pos[-1] if pos else ""
        elif self.tool == "gemini":
            self.resume_id = self.flag("--resume", "-r")
            self.prompt = self.flag("-p", "--prompt") or " ".join(pos)
        elif self.tool == "opencode":
            if pos and pos[0] == "run":
                pos.pop(0)
            self.resume_id = self.flag("--session", "-s")
            self.prompt = " ".join(pos)
        elif self.tool == "cursor":
            self.resume_id = self.flag("--resume")
            self.prompt = " ".join(pos)
        else:
            self.prompt = self.flag("--message", "-m", "--msg") or ""

    @property
    def model(self) -> str:
        flag = self.flag("--model", "-m") if self.tool != "aider" else self.flag("--model")
        return flag or _DEFAULT_MODELS[self.tool]

    @property
    def session_id(self) -> str:
        if self.resume_id and self.resume_id != "last":
            return self.resume_id
        if self.tool == "claude" and self.flag("--session-id"):
            return str(self.flag("--session-id"))
        return _new_session_id(self.tool)


def _persona_name(argv0: str, args: list[str]) -> tuple[str, list[str]]:
    if "--as" in args:
        at = args.index("--as")
        if at + 1 < len(args):
            return args[at + 1], args[:at] + args[at + 2 :]
    if os.environ.get(ENV_AS):
        return os.environ[ENV_AS], args
    base = os.path.basename(argv0)
    if base in ("cursor-agent", "agent"):  # the Cursor CLI's two program names
        return "cursor", args
    for name in PERSONAS:
        if base == name or base.startswith(name + "."):
            return name, args
    return "claude", args


def _append_ledger(tool: str, argv: list[str]) -> None:
    path = os.environ.get(ENV_LEDGER)
    if not path:
        return
    line = json.dumps({"pid": os.getpid(), "argv": argv, "cwd": os.getcwd(), "time": time.time(), "as": tool})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _next_invocation_number(script_path: str) -> int:
    """0, 1, 2… across processes: a locked counter file next to the ledger (else next to the script)."""
    # One counter per (ledger, script): two scripted agents sharing a ledger keep separate sequences.
    ledger = os.environ.get(ENV_LEDGER)
    tag = hashlib.sha1(os.path.abspath(script_path).encode()).hexdigest()[:10]
    base = f"{ledger}.{tag}" if ledger else script_path
    fd = os.open(base + ".count", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        raw = os.read(fd, 64).decode().strip()
        number = int(raw) if raw.isdigit() else 0
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, str(number + 1).encode())
        return number
    finally:
        os.close(fd)


def _load_steps(resumed: bool) -> list[Any]:
    path = os.environ.get(ENV_SCRIPT)
    if not path:
        return list(DEMO_SCRIPT)
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith((".yaml", ".yml")):
        import yaml  # optional: only for YAML scripts

        script: Any = yaml.safe_load(text)
    else:
        script = json.loads(text)
    if isinstance(script, dict) and "invocations" in script:
        runs = script["invocations"]
        number = _next_invocation_number(path)
        script = runs[min(number, len(runs) - 1)]
    if isinstance(script, dict):
        if resumed and "on_resume" in script:
            return list(script["on_resume"])
        return list(script.get("steps", []))
    return list(script)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    tool, args = _persona_name(sys.argv[0], args)
    if tool not in PERSONAS:
        sys.stderr.write(f"fake agent: unknown persona {tool!r}\n")
        sys.exit(2)
    _append_ledger(tool, [os.path.basename(sys.argv[0]), *args])
    inv = _Invocation(tool, args)
    persona = PERSONAS[tool](inv.session_id, inv.model, os.getcwd(), inv.prompt)
    from animus.agents.fake._steps import _Runner

    code = _Runner(persona, inv).run(_load_steps(inv.resume_id is not None))
    sys.stdout.flush()
    sys.exit(code)
