"""Where the real agent CLIs live (the cache filled by scripts/install-agent-clis) and how tests isolate them."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from animus.agents import cached_cli, cli_cache_dir, pinned_clis

# The pins are src/animus/agents/pinned-clis.txt, which scripts/install-agent-clis reads too.
VERSIONS = {tool: pin.version for tool, pin in pinned_clis().items()}
PACKAGES = {tool: pin.package for tool, pin in pinned_clis().items()}
REPO_ROOT = Path(__file__).resolve().parents[2]
CAPTURED_DIR = REPO_ROOT / "tests" / "realcli" / "captured"
# Models the CLIs know by name (Claude Code prices its own usage; codex/gemini only need a string).
MODELS = {"claude": "claude-sonnet-4-5-20250929", "codex": "gpt-5.5", "gemini": "gemini-2.5-flash",
          "opencode": "qwen3-coder", "aider": "openai/qwen3-coder"}


def cache_dir() -> Path:
    return cli_cache_dir()


def cli_path(tool: str) -> Path | None:
    """The installed binary of `tool` at its pinned version, or None when not installed (stamp missing)."""
    return cached_cli(tool, VERSIONS[tool])


def require_cli(tool: str) -> Path:
    """The binary, or skip with the reason (FAIL instead when CI=true: CI must run the real CLIs)."""
    path = cli_path(tool)
    if path is not None:
        if shutil.which("node") is None and tool in ("codex", "gemini", "claude-code-acp"):
            _missing(f"{tool} is installed but Node.js (`node`) is not on PATH")
        return path
    _missing(
        f"{PACKAGES[tool]}@{VERSIONS[tool]} is not installed in {cache_dir()}; "
        f"run `animus agents install {tool}` or scripts/install-agent-clis (needs Node.js >= 20 and npm)"
    )
    raise AssertionError("unreachable")


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"real CLI missing in CI: {reason}")
    pytest.skip(reason)


def isolated_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A minimal env for a real CLI: HOME and XDG dirs in tmp, telemetry and update checks off."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "USER": os.environ.get("USER", "root"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "TMPDIR": str(tmp),
        "TZ": "UTC",
        "NO_COLOR": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "GEMINI_TELEMETRY_ENABLED": "false",
    }
    env.update(extra)
    return env


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def scrub(text: str, replacements: dict[str, str]) -> str:
    """Replace absolute tmp paths (longest first) with stable placeholders."""
    for old in sorted(replacements, key=len, reverse=True):
        text = text.replace(old, replacements[old])
    return text


def save_capture(tool: str, case: str, stdout: str, replacements: dict[str, str], *, suffix: str = ".jsonl") -> Path:
    """Write the CLI's real stdout lines to tests/realcli/captured/<tool>-<case>.jsonl (tmp paths scrubbed; aider: .txt)."""
    CAPTURED_DIR.mkdir(parents=True, exist_ok=True)
    target = CAPTURED_DIR / f"{tool}-{case}{suffix}"
    lines = [ln for ln in scrub(stdout, replacements).splitlines() if ln.strip()]
    target.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    return target


def jsonl(stdout: str) -> list[dict[str, Any]]:
    """Parse every JSON object line of a CLI's stdout (other lines are ignored)."""
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def direct_invocation(
    tool: str,
    base_url: str,
    cwd: Path,
    tmp: Path,
    prompt: str,
    *,
    session_id: str | None = None,
    resume: str | None = None,
    api_key: str = "test-key",
) -> tuple[list[str], dict[str, str]]:
    """argv + env that drive the REAL `tool` against a scripted endpoint (what these tests learned works).

    claude: new session with `session_id`, or `resume`; codex: `exec resume <id>` when `resume`;
    gemini: `--resume <id>` when `resume`. Config homes are isolated under tmp.
    """
    binary = str(require_cli(tool))
    model = MODELS[tool]
    if tool == "claude":
        env = isolated_env(
            tmp, ANTHROPIC_BASE_URL=base_url, ANTHROPIC_API_KEY=api_key, CLAUDE_CONFIG_DIR=str(tmp / "claude-home")
        )
        argv = [
            binary,
            "-p",
            prompt,
            "--output-format",
            "stream-json",
            "--verbose",
            "--model",
            model,
            "--permission-mode",
            "acceptEdits",
            "--allowedTools",
            "Write",
            "Edit",
            "Read",
            "Bash",
        ]
        argv += ["--resume", resume] if resume else (["--session-id", session_id] if session_id else [])
        return argv, env
    if tool == "codex":
        codex_home = tmp / "codex-home"
        codex_home.mkdir(parents=True, exist_ok=True)
        env = isolated_env(tmp, CODEX_HOME=str(codex_home), ANIMUS_TEST_API_KEY=api_key)
        provider = f'model_providers.animus={{name="animus",base_url="{base_url}/v1",env_key="ANIMUS_TEST_API_KEY",wire_api="responses"}}'
        flags = [
            "--json",
            "--sandbox",
            "workspace-write",
            "--skip-git-repo-check",
            "-c",
            provider,
            "-c",
            "model_provider=animus",
            "-m",
            model,
        ]
        argv = [binary, "exec", *flags, *(["resume", resume] if resume else []), prompt]
        return argv, env
    if tool == "gemini":
        gemini_home = tmp / "gemini-home"
        (gemini_home / ".gemini").mkdir(parents=True, exist_ok=True)
        settings = {"security": {"auth": {"selectedType": "gemini-api-key"}}}
        (gemini_home / ".gemini" / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
        env = isolated_env(
            tmp,
            GOOGLE_GEMINI_BASE_URL=base_url,
            GEMINI_API_KEY=api_key,
            GEMINI_CLI_HOME=str(gemini_home),
            GEMINI_CLI_TRUST_WORKSPACE="true",
        )
        argv = [binary, "-p", prompt, "--output-format", "stream-json", "--approval-mode", "yolo", "-m", model]
        argv += ["--resume", resume] if resume else []
        return argv, env
    raise ValueError(f"unknown tool {tool!r}")


API_OF = {"claude": "anthropic", "codex": "openai", "gemini": "gemini", "opencode": "chat", "aider": "chat"}


class DirectRun:
    """The finished (or killed) real CLI: exit code, stdout, stderr and its JSON lines."""

    def __init__(self, returncode: int | None, stdout: str, stderr: str) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.events = jsonl(stdout)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    def describe(self) -> str:
        return f"exit={self.returncode}\n--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-2000:]}"


def run_direct(argv: list[str], env: dict[str, str], cwd: Path, *, timeout: float = 90.0) -> DirectRun:
    """Run a real CLI to completion with stdin closed; a hang beyond `timeout` fails the test."""
    import subprocess

    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        pytest.fail(f"{Path(argv[0]).name} did not finish within {timeout}s\n{DirectRun(None, out, err).describe()}")
    return DirectRun(proc.returncode, proc.stdout, proc.stderr)


def capture(tool: str, case: str, run: DirectRun, tmp: Path) -> None:
    """Refresh the golden capture when ANIMUS_REALCLI_CAPTURE=1 (so a normal test run never dirties the tree)."""
    if os.environ.get("ANIMUS_REALCLI_CAPTURE") == "1":
        # Claude Code also spells the cwd as a directory name with every non-alphanumeric as "-".
        encoded = {re.sub(r"[^A-Za-z0-9]", "-", str(p)): "-tmp-REALCLI" for p in (tmp, tmp.resolve())}
        save_capture(tool, case, run.stdout, {str(tmp.resolve()): "/tmp/REALCLI", str(tmp): "/tmp/REALCLI", **encoded})
