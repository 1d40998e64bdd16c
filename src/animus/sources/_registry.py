"""The configured sources as adapters, what the daemon's source thread does each pass, and the overview fronts show."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from animus.domain.errors import AnimusError
from animus.sources._types import SourceContext

if TYPE_CHECKING:
    from animus.config import SourceConfig, WorkflowConfig
    from animus.sources._status import StatusReport
    from animus.sources._sync import SyncReport
    from animus.sources._types import SourceAdapter
    from animus.store import Store

#: every this many polls a source with a cursor lists everything, so deleted items are noticed
FULL_SYNC_EVERY = 20


def adapter_for(source: SourceConfig, config: WorkflowConfig, ctx: SourceContext) -> SourceAdapter:
    """The adapter of one configured source (nothing is contacted until it is used)."""
    if source.type == "github":
        from animus.sources._github import GitHubIssuesAdapter

        return GitHubIssuesAdapter(source, ctx, config.github, remote=config.landing.remote)
    if source.type == "linear":
        from animus.sources._linear import LinearAdapter

        return LinearAdapter(source, ctx)
    if source.type == "plugin":
        from animus.sources._plugin import PluginSubjectAdapter

        if ctx.plugins is None:
            raise AnimusError(f"source {source.id!r} needs a plugin host (a SourceContext made by `with_plugins`)")
        return PluginSubjectAdapter(source, ctx, ctx.plugins)
    from animus.sources._markdown import MarkdownAdapter

    return MarkdownAdapter(source, ctx)


@contextmanager
def with_plugins(ctx: SourceContext) -> Iterator[SourceContext]:
    """``ctx`` with a plugin host for ``type: plugin`` sources (its own, shut down on the way out, unless it has one)."""
    if ctx.plugins is not None:
        yield ctx
        return
    from animus.plugins import PluginHost

    host = PluginHost(ctx.project_root, ctx.state_dir)
    try:
        yield replace(ctx, plugins=host)
    finally:
        host.close()


class SourcePoller:
    """The daemon's source work: sync each enabled source when due, deliver status rows; adapters kept per config.

    It owns one plugin host for the plugin sources (``close()`` shuts their plugins down).
    """

    def __init__(self, ctx: SourceContext) -> None:
        if ctx.plugins is None:
            from animus.plugins import PluginHost

            ctx = replace(ctx, plugins=PluginHost(ctx.project_root, ctx.state_dir))
        self.ctx = ctx
        self._config: WorkflowConfig | None = None
        self._adapters: dict[str, SourceAdapter] = {}
        self._polls: dict[str, int] = {}

    def adapters(self, config: WorkflowConfig) -> dict[str, SourceAdapter]:
        if config is not self._config:
            self._config = config
            self._adapters = {s.id: adapter_for(s, config, self.ctx) for s in config.sources if s.enabled}
        return self._adapters

    def poll_due(self, store: Store, config: WorkflowConfig, now: datetime | None = None) -> list[SyncReport]:
        from animus.sources._sync import sync_source

        now = now or datetime.now(UTC)
        reports = []
        for source in config.sources:
            if not source.enabled:
                continue
            state = store.source_state(source.id)
            if state.next_poll_at and state.next_poll_at > now.isoformat(timespec="seconds"):
                continue
            count = self._polls.get(source.id, 0)
            self._polls[source.id] = count + 1
            full = count % FULL_SYNC_EVERY == 0  # the first poll of each daemon start, then every FULL_SYNC_EVERY
            reports.append(sync_source(store, config, source, self.adapters(config)[source.id], now=now, full=full))
        return reports

    def deliver(self, store: Store, config: WorkflowConfig, now: datetime | None = None) -> StatusReport:
        from animus.sources._status import deliver_status

        return deliver_status(store, config, self.adapters(config), now or datetime.now(UTC))

    def close(self) -> None:
        if self.ctx.plugins is not None:
            self.ctx.plugins.close()


def sync_now(store: Store, config: WorkflowConfig, ctx: SourceContext, source_ids: list[str] | None = None,
             *, full: bool = False) -> list[SyncReport]:
    """`animus source sync`: sync the named (default: every enabled) source once, now."""
    from animus.sources._sync import sync_source

    chosen = [config.source(sid) for sid in source_ids] if source_ids else [s for s in config.sources if s.enabled]
    with with_plugins(ctx) as ctx:
        return [sync_source(store, config, s, adapter_for(s, config, ctx), full=full) for s in chosen]


def check_source(config: WorkflowConfig, ctx: SourceContext, source_id: str) -> dict[str, Any]:
    """`animus source check`: credentials and filters, without importing; ``ok`` False with the error on failure."""
    source = config.source(source_id)
    out: dict[str, Any] = {"source": source.id, "type": source.type, "enabled": source.enabled}
    try:
        with with_plugins(ctx) as ctx:
            out.update(adapter_for(source, config, ctx).check())
    except AnimusError as err:
        out.update(ok=False, error=err.message, code=err.code, hint=err.hint)
        return out
    out["ok"] = True
    return out
