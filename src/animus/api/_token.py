"""The API bearer token: created once per project in the state dir (mode 0600), compared in constant time."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from animus import procs
from animus.config.project import StateLayout


def token_path(state_dir: Path) -> Path:
    return StateLayout(state_dir).web_token


def ensure_token(state_dir: Path) -> str:
    """The project's API token, generating ``<state_dir>/web-token`` (0600) on first use."""
    path = token_path(state_dir)
    try:
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text
    except FileNotFoundError:
        pass
    procs.private_dir(state_dir, top=StateLayout(state_dir).private_top)
    token = secrets.token_urlsafe(32)
    # first writer wins: two first uses racing must end with one token, the one already there
    if not procs.write_atomic(path, token + "\n", mode=0o600, first_wins=True):
        return path.read_text(encoding="utf-8").strip()
    return token


def token_matches(expected: str, presented: str | None) -> bool:
    if not presented or not expected:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), presented.encode("utf-8", "surrogateescape"))
