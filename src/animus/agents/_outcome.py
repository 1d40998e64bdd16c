"""How an agent run ended: the Outcome, and the Tally of events it is judged from."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from animus.agents._decision import Decision, NoDecision
from animus.agents._events import AgentEvent

OUTCOME_STATUSES: tuple[str, ...] = ("ok", "failed", "rate_limited", "killed")
_RATE_LIMITED_STATUSES = frozenset({"rejected", "exceeded", "limited", "blocked"})
_RATE_LIMIT_RE = re.compile(
    r"rate[ _-]?limit|usage limit|quota|resource_exhausted|too many requests|\b429\b", re.IGNORECASE
)
_FINAL_TEXT_CAP = 256 * 1024


def _looks_rate_limited(message: str) -> bool:
    return _RATE_LIMIT_RE.search(message) is not None


@dataclass
class Tally:
    """Running totals over a run's events, so an outcome can be judged without keeping every event."""

    session_id: str | None = None
    model: str | None = None
    step_input: int = 0
    step_output: int = 0
    step_cost: float | None = None
    step_cached: int = 0
    total: dict[str, Any] | None = None
    texts: list[str] = field(default_factory=list)
    text_chars: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    rate_limit: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    tool_calls: int = 0
    events: int = 0

    def add(self, event: AgentEvent) -> None:
        self.events += 1
        kind, data = event
        if kind == "text":
            self._keep_text(data["text"])
        elif kind == "usage":
            if data.get("scope") == "total":
                self.total = data
            else:
                self.step_input += int(data.get("input_tokens") or 0)
                self.step_output += int(data.get("output_tokens") or 0)
                self.step_cached += int(data.get("cached_input_tokens") or 0)
                cost = data.get("cost_usd")
                if cost is not None:
                    self.step_cost = (self.step_cost or 0.0) + float(cost)
        elif kind == "tool_call":
            self.tool_calls += 1
        elif kind == "session":
            self.session_id = data.get("id") or self.session_id
            self.model = data.get("model") or self.model
        elif kind == "error":
            self.errors.append(data)
        elif kind == "rate_limit":
            if data.get("status") in _RATE_LIMITED_STATUSES or self.rate_limit is None:
                if data.get("resets_at") is None and self.rate_limited and self.rate_limit is not None:
                    # A later rejection that names no reset (e.g. claude's HTTP 429 result) keeps the known one.
                    data = {**data, "resets_at": self.rate_limit.get("resets_at")}
                self.rate_limit = data
        elif kind == "result":
            self.result = data

    def extend(self, events: Iterable[AgentEvent]) -> None:
        for event in events:
            self.add(event)

    def _keep_text(self, value: str) -> None:
        # Only the tail matters for the final text and the decision; a flood must not grow memory.
        self.texts.append(value)
        self.text_chars += len(value)
        while self.text_chars > _FINAL_TEXT_CAP and len(self.texts) > 1:
            self.text_chars -= len(self.texts.pop(0))

    @property
    def rate_limited(self) -> bool:
        return self.rate_limit is not None and self.rate_limit.get("status") in _RATE_LIMITED_STATUSES

    def cached_input_tokens(self) -> int:
        """How many of the input tokens were read from the provider's cache (priced apart)."""
        if self.total is not None and self.total.get("cached_input_tokens") is not None:
            return int(self.total["cached_input_tokens"])
        return self.step_cached

    def tokens(self) -> tuple[int, int, float | None]:
        if self.total is not None:
            cost = self.total.get("cost_usd")
            return (
                int(self.total.get("input_tokens") or 0),
                int(self.total.get("output_tokens") or 0),
                cost if cost is not None else self.step_cost,
            )
        return self.step_input, self.step_output, self.step_cost

    def result_verdict(self, exit_code: int | None, ok_reason: str = "success") -> tuple[str, str]:
        """The verdict of a stream that ends in one result event: a failed result (with the exit code when
        not 0), else a non-zero exit, else no result at all (a crash mid-stream) fails; otherwise ok."""
        if self.result is not None and not self.result.get("ok"):
            return "failed", str(self.result.get("reason")) + ("" if exit_code in (0, None) else f" (exit {exit_code})")
        if exit_code not in (0, None):
            return "failed", f"exited with status {exit_code}"
        if self.result is None:
            return "failed", "stream ended without a result event"
        return "ok", ok_reason


@dataclass(frozen=True)
class Outcome:
    """The judged end of an agent run (``status`` ok|failed|rate_limited|killed) and what it produced."""

    status: str
    reason: str
    session_id: str | None = None
    final_text: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    resets_at: int | None = None
    decision: Decision | NoDecision = field(default_factory=lambda: NoDecision("no phase_decision JSON found"))
    exit_code: int | None = None
    signal: int | None = None
    model: str | None = None
    cached_input_tokens: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "session_id": self.session_id,
            "model": self.model,
            "final_text": self.final_text,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "cost_usd": self.cost_usd,
            "resets_at": self.resets_at,
            "decision": self.decision.to_dict(),
            "exit_code": self.exit_code,
            "signal": self.signal,
        }
