"""The agent events of a run, as the await step follows its stream, handed to the log storage plugins (``log/entry``).

Only when a ``log_storage_backend`` plugin is locked: then the await step follows the agent's
stream instead of just waiting for its exit, and offers each event to the process's ``LogSink``
(best effort, a bounded buffer: plugins/_log_sink.py). The step reads the stream from its first
byte at every execution, so after a restart the same events are offered again under the same
``entry_id`` (``<agent run id>:<seq>``): a plugin keeps one entry per id.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from animus import procs
from animus.domain.errors import AnimusError

if TYPE_CHECKING:
    from animus import agents
    from animus.engine._steps import EngineContext
    from animus.plugins import LogSink

_lock = threading.Lock()
#: per (project root, state dir): the plugins found last time and their sink (None: no log storage plugin)
_sinks: dict[tuple[str, str], tuple[tuple[str, ...], LogSink | None]] = {}


def _log_sink(ctx: EngineContext) -> LogSink | None:
    """This process's sink for the project's locked log storage plugins (rebuilt when that set changes); None: none."""
    from animus.plugins import LOG_STORAGE_KIND, LogSink, PluginHost

    key = (str(ctx.project_root), str(ctx.state_dir))
    with _lock:
        known = _sinks.get(key)
        host = known[1].host if known and known[1] else PluginHost(ctx.project_root, ctx.state_dir)
        try:
            names = tuple(sorted(host.of_kind(LOG_STORAGE_KIND)))
        except (AnimusError, OSError):
            names = ()  # an unreadable lock or plugins.yaml: no log storage, the run goes on
        if known is not None and known[0] == names:
            return known[1]
        if known is not None and known[1] is not None:
            known[1].close()
        sink = LogSink(host, list(names)) if names else None
        _sinks[key] = (names, sink)
        return sink


def _ship_events(ctx: EngineContext, reader: agents.RunReader, sink: LogSink, secrets: dict[str, str]) -> None:
    """Follow the run's stream to its end, offering each event (secrets masked) to ``sink``."""
    import json

    run_id = reader.handle.run_id
    labels = {k: v for k, v in reader.labels.items() if k in ("workflow_run", "phase", "task", "tool")}
    for seq, event in enumerate(reader.follow(poll=0.1)):
        sink.offer(_entry(run_id, seq, json.loads(procs.redact(json.dumps(event.to_dict()), secrets)), labels))


def _entry(run_id: str, seq: int, event: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    return {"entry_id": f"{run_id}:{seq}", "run_id": run_id, "seq": seq, "workflow_run_id": labels.get("workflow_run"),
            "task_id": labels.get("task"), "phase": labels.get("phase"), "tool": labels.get("tool"),
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event}
