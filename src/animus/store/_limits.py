"""Provider pauses: a rate or usage limit one run met, recorded for every run (and, on PostgreSQL, every daemon).

One row per provider key (``claude``, or ``claude:ANTHROPIC_KEY_B`` for an agent with its own
``api_key_env``): a later report keeps the later reset, so two runs hitting one limit agree on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from animus.store._db import Connection, _Row
from animus.store._tasks import now_iso


@dataclass(frozen=True)
class ProviderLimit:
    """A provider paused until ``resets_at`` (epoch seconds), as the run ``run_id`` reported it."""

    provider: str
    resets_at: float
    reason: str
    run_id: str
    recorded_at: str

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "resets_at": self.resets_at, "reason": self.reason, "run_id": self.run_id,
                "recorded_at": self.recorded_at}


def _limit(row: _Row) -> ProviderLimit:
    return ProviderLimit(provider=row["provider"], resets_at=float(row["resets_at"]), reason=row["reason"],
                         run_id=row["run_id"], recorded_at=row["recorded_at"])


def _record_limit(conn: Connection, provider: str, resets_at: float, reason: str, run_id: str) -> None:
    """Pause ``provider`` until ``resets_at``, unless it is paused until later already (idempotent)."""
    conn.execute(
        """INSERT INTO provider_limits (provider, resets_at, reason, run_id, recorded_at)
           VALUES (:p, :r, :why, :run, :at)
           ON CONFLICT (provider) DO UPDATE SET
               reason = CASE WHEN excluded.resets_at > provider_limits.resets_at THEN excluded.reason
                             ELSE provider_limits.reason END,
               run_id = CASE WHEN excluded.resets_at > provider_limits.resets_at THEN excluded.run_id
                             ELSE provider_limits.run_id END,
               recorded_at = CASE WHEN excluded.resets_at > provider_limits.resets_at THEN excluded.recorded_at
                                  ELSE provider_limits.recorded_at END,
               resets_at = CASE WHEN excluded.resets_at > provider_limits.resets_at THEN excluded.resets_at
                                ELSE provider_limits.resets_at END""",
        {"p": provider, "r": float(resets_at), "why": reason[:500], "run": run_id, "at": now_iso()},
    )


def _active_limits(conn: Connection, now: float) -> list[ProviderLimit]:
    """Every provider still paused at ``now`` (epoch seconds), the soonest reset first."""
    rows = conn.execute("SELECT * FROM provider_limits WHERE resets_at > :now ORDER BY resets_at, provider",
                        {"now": float(now)})
    return [_limit(row) for row in rows]
