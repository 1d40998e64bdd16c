"""The environment an agent gets: an allowlist of the caller's variables plus its own, and secret redaction."""

from __future__ import annotations

from collections.abc import Mapping

_ALLOWED_NAMES = frozenset({"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TERM", "TMPDIR", "TZ"})
_ALLOWED_PREFIXES = (
    "LC_",
    "XDG_",
    "ANTHROPIC_",
    "OPENAI_",
    "GEMINI_",
    "GOOGLE_",
    "CLAUDE_",
    "CODEX_",
    "OPENCODE_",
    "AZURE_OPENAI_",
)
#: a nested Claude Code refuses to start when it sees this
_DROPPED_NAMES = frozenset({"CLAUDECODE"})
# Database URLs usually carry a password (postgresql://user:pw@host/db), so they count as secrets too.
_SECRET_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET", "_PASSWORD", "_DATABASE_URL", "_DSN")
#: shorter values are too likely to occur by chance in ordinary text to be masked
_MIN_SECRET_LEN = 6
_MASK = "***"


def _is_allowed_name(name: str) -> bool:
    """True when a variable of the caller's environment may be passed on to an agent."""
    return name in _ALLOWED_NAMES or name.startswith(_ALLOWED_PREFIXES)


def build_env(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """The full environment for an agent: allowlisted variables of ``base``, then ``extra`` on top."""
    env = {name: value for name, value in base.items() if _is_allowed_name(name)}
    env.update(extra)
    for name in _DROPPED_NAMES:
        env.pop(name, None)
    return env


def is_secret_name(name: str) -> bool:
    """True for names that hold secrets: ``*_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD``, ``*_DATABASE_URL``, ``*_DSN``."""
    return name.upper().endswith(_SECRET_SUFFIXES)


def _secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of secret variables long enough to mask, longest first (so no prefix survives a shorter mask)."""
    values = {value for name, value in env.items() if is_secret_name(name) and len(value) >= _MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)


def redact(text: str, env: Mapping[str, str]) -> str:
    """``text`` with the value of every secret variable in ``env`` replaced by ``***``."""
    for value in _secret_values(env):
        text = text.replace(value, _MASK)
    return text
