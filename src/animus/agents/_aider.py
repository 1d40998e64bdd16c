"""aider (`aider --message …`): argv, the plain-text output, and its `Tokens: … Cost: …` line."""

from __future__ import annotations

import re

from animus.agents import _events as ev
from animus.agents._adapter import Adapter, ParseState, _api_key_value, _prompt_with_system
from animus.agents._events import AgentEvent
from animus.agents._outcome import Tally
from animus.agents._profile import Invocation, _LaunchRequest

_NUM = r"([\d.]+[kKmM]?)"
_TOKENS_RE = re.compile(rf"^Tokens: {_NUM} sent(?:, {_NUM} cache write)?(?:, {_NUM} cache hit)?, {_NUM} received\.")
_COST_RE = re.compile(r"Cost: \$([\d.]+) message, \$([\d.]+) session\.")
_TEXT_CAP = 64 * 1024
# What aider prints when it stops retrying a failed model call (it retries a RateLimitError with backoff first).
_GIVE_UP_MARKS = ("RateLimitError", "The API provider has rate limited you")


def _parse_count(token: str) -> int:
    """aider's short counts: "2.3k" → 2300, "12k" → 12000, "1.2M" → 1200000."""
    scale = 1
    if token[-1] in "kK":
        scale, token = 1000, token[:-1]
    elif token[-1] in "mM":
        scale, token = 1_000_000, token[:-1]
    try:
        return round(float(token) * scale)
    except ValueError:
        return 0


class _AiderAdapter(Adapter, tool="aider", binary="aider"):
    def _invocation(self, request: _LaunchRequest) -> Invocation:
        profile = request.profile
        env: dict[str, str] = dict(profile.env)
        argv = [
            self.binary,
            "--message",
            _prompt_with_system(profile, request.prompt),
            "--yes-always",
            "--no-auto-commits",
            "--no-pretty",
            "--no-stream",
            "--analytics-disable",
            "--no-check-update",
            # Verified with aider 0.86.2: without these it appends `.aider*` to the worktree's .gitignore (a
            # change the phase did not ask for) and warns about every model litellm has no metadata for.
            "--no-gitignore",
            "--no-show-model-warnings",
            "--no-show-release-notes",
        ]
        if profile.model:
            argv += ["--model", profile.model]
        # litellm's own price-list fetch at import: use the bundled list (aider's separate download still runs).
        env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        if profile.base_url:
            env["OPENAI_API_BASE"] = profile.base_url
        key = _api_key_value(profile, request.environ)
        if key is not None:
            env["OPENAI_API_KEY"] = key
        argv += list(profile.extra_args)
        return Invocation(argv=argv, env_extra=env, stdin=None)

    def parse_line(self, line: bytes, state: ParseState) -> list[AgentEvent]:
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if not text.strip():
            return []
        if text.startswith("Tokens: "):
            match = _TOKENS_RE.match(text)
            if match:
                cost = _COST_RE.search(text)
                return [
                    ev._usage(
                        _parse_count(match.group(1)) + sum(_parse_count(g) for g in match.group(2, 3) if g),
                        _parse_count(match.group(4)),
                        float(cost.group(1)) if cost else None,
                    )
                ]
        elif text.startswith("Cost: $"):
            # With both cache parts aider prints the cost on its own line.
            cost = _COST_RE.match(text)
            if cost:
                return [ev._usage(0, 0, float(cost.group(1)))]
        if len(text) > _TEXT_CAP:
            text = text[:_TEXT_CAP]
        return [ev._text(text)]

    def verdict_of(self, tally: Tally, exit_code: int | None) -> tuple[str, str]:
        # aider 0.86.2 gives up on a rate limit after ~60 s of retries and still exits 0: its last lines say so.
        given_up = [t for t in tally.texts[-2:] if any(mark in t for mark in _GIVE_UP_MARKS)]
        if given_up:
            return "failed", f"gave up: {given_up[0][:300]}" + ("" if exit_code in (0, None) else f" (exit {exit_code})")
        if exit_code == 0:
            return "ok", "exited 0"
        # aider has no error events: the last lines usually say what went wrong (e.g. litellm.RateLimitError).
        tail = [t for t in tally.texts[-5:] if "error" in t.lower()]
        return "failed", f"exited with status {exit_code}" + (f": {tail[-1][:300]}" if tail else "")

    def final_text(self, tally: Tally) -> str | None:
        return "\n".join(tally.texts) if tally.texts else None
