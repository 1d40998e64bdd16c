"""Provider pauses: a usage limit one run meets stops every run from starting agents of that provider.

A run whose agent reports a rate or usage limit records it for the agent's *provider* (its tool, or
the agent's ``provider:``; plus its own ``api_key_env`` when it has one: another account is another
limit) with the reset time, in the database every daemon reads. Until the reset, the launch step of
any run refuses to start an agent of that provider: the phase runs on its next ``fallback_agents``
entry whose provider is free, else the run waits durably until the reset. The dispatcher leaves
queued tasks whose first agent phase has no free agent in the queue, and dispatches everything else.
The launch step checks only before it starts the agent: a launch re-executed after a crash finds
the run it started and never refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from animus.config import WorkflowConfig
    from animus.engine._steps import EngineContext
    from animus.store import Store

#: a limit reported without a reset time holds this long
_DEFAULT_PAUSE_SECS = 60.0
#: a waiting run looks again at least this often (a person may have cleared the pause)
_RECHECK_SECS = 300.0


def clock_now() -> float:
    """The engine's clock (epoch seconds; the ``ANIMUS_CLOCK_OFFSET_SECS`` test hook applies)."""
    from animus.engine._budgets import _clock_now

    return _clock_now()


def provider_key(agent: Mapping[str, Any]) -> str:
    """Whose limit an agent profile (a plan's agent dict or an ``AgentConfig`` dump) counts against."""
    provider = str(agent.get("provider") or agent.get("tool") or "unknown")
    account = agent.get("api_key_env")
    return f"{provider}:{account}" if account else provider


def paused_until(store: Store, provider: str, now: float) -> float | None:
    """When ``provider``'s pause ends, or None while it is not paused."""
    return next((limit.resets_at for limit in store.provider_limits(now) if limit.provider == provider), None)


def _check_paused(ctx: EngineContext, agent: Mapping[str, Any]) -> tuple[str, float | None]:
    from animus.engine._budgets import _clock_now
    from animus.engine._txns import _engine_store

    key = provider_key(agent)
    return key, paused_until(_engine_store(ctx), key, _clock_now())


def _record(ctx: EngineContext, provider: str, resets_at: float | None, reason: str, agent_run_id: str) -> None:
    """Pause ``provider`` (idempotent: the later reset wins, so a replayed record changes nothing)."""
    from animus.engine._budgets import _clock_now
    from animus.engine._txns import _engine_store

    until = float(resets_at) if resets_at else _clock_now() + _DEFAULT_PAUSE_SECS
    _engine_store(ctx).record_provider_limit(provider, until, reason or "rate limited", agent_run_id)


def first_agent_providers(config: WorkflowConfig, workflow_id: str) -> list[str]:
    """The providers that could run the workflow's first agent phase (its agent, then its fallbacks)."""
    for entry in config.expanded_phases(workflow_id):
        phase = config.phases[entry.phase]
        if phase.mode != "agent" or not phase.agent:
            continue
        ids = [phase.agent, *phase.fallback_agents]
        return [provider_key(config.agents[aid].model_dump()) for aid in ids if aid in config.agents]
    return []


def dispatchable(config: WorkflowConfig, workflow_id: str, paused: set[str]) -> bool:
    """False when every agent that could run the workflow's first agent phase has its provider paused."""
    if not paused:
        return True
    providers = first_agent_providers(config, workflow_id)
    return not providers or any(p not in paused for p in providers)
