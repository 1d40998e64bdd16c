"""A plugin's subject backend as a task source: ``task/list``, ``task/get`` and ``task/status`` over the plugin host.

The plugin knows its tracker; animus's sync (``_sync.py``) and the outbox (``_status.py``) do the
rest exactly as for the built-in sources, so an item becomes one task and each status is handed
over until the plugin acknowledges it. What the plugin must promise is what every adapter
promises: ``task/status`` looks before it writes (a status delivered twice changes nothing).
A plugin that is down, slow or answers an error raises ``PluginError``: the sync backs off and
the status row is tried again later, like a tracker's 5xx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from animus.domain.errors import InvalidInput, PluginError
from animus.sources._types import ExternalItem, FetchResult, SourceContext, StatusUpdate

if TYPE_CHECKING:
    from animus.config import PluginSubjectSource
    from animus.plugins import PluginHost

#: the plugin kind a ``type: plugin`` source must be
SUBJECT_BACKEND_KIND = "subject_backend"
_PRIORITIES = ("critical", "high", "medium", "low")


class PluginSubjectAdapter:
    """One ``type: plugin`` source: the calls of the subject-backend protocol (docs/plugins.md "Subject backends")."""

    def __init__(self, config: PluginSubjectSource, ctx: SourceContext, host: PluginHost) -> None:
        self.config = config
        self.ctx = ctx
        self.host = host

    # -- the SourceAdapter interface ---------------------------------------------------------------
    def fetch(self, cursor: str | None) -> FetchResult:
        answer = self._call("task/list", {"cursor": cursor})
        if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
            raise self._broken("task/list", "a result {items: [...], cursor, complete}")
        items, problems = [], [str(p) for p in answer.get("problems") or [] if p]
        for n, raw in enumerate(answer["items"]):
            try:
                items.append(self._item(raw))
            except ValueError as err:
                problems.append(f"plugin {self.config.plugin}: task/list item {n}: {err}")
        next_cursor = answer.get("cursor")
        return FetchResult(items=items, cursor=None if next_cursor is None else str(next_cursor),
                           complete=bool(answer.get("complete", False)), problems=problems)

    def get(self, external_id: str) -> ExternalItem | None:
        answer = self._call("task/get", {"id": external_id})
        if not isinstance(answer, dict) or "item" not in answer:
            raise self._broken("task/get", "a result {item: {...} | null}")
        if answer["item"] is None:
            return None
        try:
            return self._item(answer["item"])
        except ValueError as err:
            raise self._broken("task/get", f"a valid item ({err})") from err

    def check(self) -> dict[str, Any]:
        info = self._ensure_kind()
        listed = self.fetch(None)
        return {"identity": f"plugin {info.name} {info.version}", "matching": sum(1 for i in listed.items if i.open),
                "problems": listed.problems, "methods": list(info.methods)}

    def report(self, update: StatusUpdate) -> dict[str, Any]:
        answer = self._call("task/status", {
            "id": update.external_id, "task_id": update.task_id, "run_id": update.run_id, "status": update.kind,
            "summary": update.summary, "pr_url": update.pr_url, "target_branch": update.target_branch,
            "run_status": update.data.get("status"),
        })
        return answer if isinstance(answer, dict) else {"result": answer}

    # -- the other two methods of the kind, for code that creates or edits upstream items ---------
    def create(self, *, title: str, description: str = "", labels: tuple[str, ...] = (), priority: str | None = None,
               type: str | None = None) -> ExternalItem:
        """``task/create``: a new upstream item (the next sync imports it like any other)."""
        answer = self._call("task/create", {"title": title, "description": description, "labels": list(labels),
                                            "priority": priority, "type": type})
        return self._item_of("task/create", answer)

    def update(self, external_id: str, **fields: Any) -> ExternalItem:
        """``task/update``: change fields of an upstream item (only those given)."""
        answer = self._call("task/update", {"id": external_id, **fields})
        return self._item_of("task/update", answer)

    # -- internals ---------------------------------------------------------------------------------
    def _call(self, method: str, params: dict[str, Any]) -> Any:
        self._ensure_kind()
        return self.host.call(self.config.plugin, method,
                              {"source_id": self.config.id, "settings": dict(self.config.settings), **params},
                              timeout=self.config.timeout_secs)

    def _ensure_kind(self) -> Any:
        info = self.host.client(self.config.plugin, wait_up_to=self.config.timeout_secs).info
        assert info is not None
        if info.plugin_kind != SUBJECT_BACKEND_KIND:
            raise InvalidInput(
                f"source {self.config.id!r}: plugin {self.config.plugin} is a {info.plugin_kind!r} plugin, not a {SUBJECT_BACKEND_KIND}",
                hint="name a subject_backend plugin in the source's `plugin:` (`animus plugin list` shows each kind)",
            )
        return info

    def _item_of(self, method: str, answer: Any) -> ExternalItem:
        if not isinstance(answer, dict) or not isinstance(answer.get("item"), dict):
            raise self._broken(method, "a result {item: {...}}")
        try:
            return self._item(answer["item"])
        except ValueError as err:
            raise self._broken(method, f"a valid item ({err})") from err

    def _item(self, raw: Any) -> ExternalItem:
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        ident = raw.get("id")
        if not isinstance(ident, str | int) or isinstance(ident, bool) or not str(ident).strip():
            raise ValueError("'id' (a non-empty string) is required")
        title = raw.get("title")
        if not isinstance(title, str):
            raise ValueError("'title' (a string) is required")
        labels = raw.get("labels") or []
        depends = raw.get("depends_on") or []
        if not isinstance(labels, list) or not isinstance(depends, list):
            raise ValueError("'labels' and 'depends_on' must be lists")
        data = raw.get("data") or {}
        if not isinstance(data, dict):
            raise ValueError("'data' must be an object")
        labels = [str(x) for x in labels]
        return ExternalItem(
            external_id=str(ident), title=title, description=str(raw.get("description") or ""),
            url=str(raw.get("url") or ""), key=str(raw.get("key") or ident), labels=tuple(labels),
            priority=self._priority(raw.get("priority"), labels), type=str(raw["type"]) if raw.get("type") else None,
            depends_on=tuple(str(x) for x in depends), open=bool(raw.get("open", True)),
            updated_at=str(raw.get("updated_at") or ""), data=data,
        )

    def _priority(self, given: Any, labels: list[str]) -> str | None:
        """The item's own priority word, else the source's ``priority_map`` of it or of a label (the most urgent wins)."""
        mapping = self.config.priority_map
        if isinstance(given, str | int) and not isinstance(given, bool):
            word = str(given)
            if word in _PRIORITIES:
                return word
            if word in mapping:
                return mapping[word]
        found = [mapping[label] for label in labels if label in mapping]
        return min(found, key=_PRIORITIES.index) if found else None

    def _broken(self, method: str, wanted: str) -> PluginError:
        return PluginError(f"plugin {self.config.plugin}: {method} did not answer {wanted}",
                           details={"plugin": self.config.plugin, "method": method},
                           hint=f"see {self.host.log_path(self.config.plugin)}; docs/plugins.md \"Subject backends\"")
