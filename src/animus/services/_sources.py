"""The task sources as the fronts show them: what each watches, its sync state, counts, the last error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from animus.config import SourceConfig, WorkflowConfig
    from animus.store import Store


def source_overview(store: Store, config: WorkflowConfig) -> list[dict[str, Any]]:
    """Each configured source: what it watches, its sync state, counts, the last error, pending status rows."""
    from animus.store import SOURCE_NOTIFIER_PREFIX

    linked = store.source_item_counts()
    pending = {k.removeprefix(SOURCE_NOTIFIER_PREFIX): n for k, n in store.pending_outbox_by_notifier(SOURCE_NOTIFIER_PREFIX).items()}
    out = []
    for source in config.sources:
        state = store.source_state(source.id).to_dict()
        state.pop("source", None)
        out.append({"id": source.id, "type": source.type, "enabled": source.enabled, "watches": _watches(source, config),
                    "linked": linked.get(source.id, 0), "status_pending": pending.get(source.id, 0), **state})
    return out


def _watches(source: SourceConfig, config: WorkflowConfig) -> str:
    if source.type == "github":
        repo = source.repo or config.github.repo or f"<{config.landing.remote} remote>"
        labels = ",".join(source.labels) or "any label"
        return f"{repo} open issues labelled {labels}" + (f" assigned to {source.assignee}" if source.assignee else "")
    if source.type == "linear":
        return f"Linear team {source.team} in {', '.join(source.states)}" + (f" labelled {','.join(source.labels)}" if source.labels else "")
    if source.type == "plugin":
        return f"plugin {source.plugin} (subject backend)"
    return f"{source.path} (Markdown files)"

