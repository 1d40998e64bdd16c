"""Workflow-run endpoints (list, get, phases, decisions, cancel, resume, retry, approve, reject) and agent runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from animus import services
from animus.api import _present as present
from animus.api._endpoint import Endpoint, _Call, _Param
from animus.api._input import _b_str, _no_unknown, _q_enums, _q_int, _safe_id, _task_id
from animus.domain.errors import InvalidInput, NotFound
from animus.domain.runs import RunStatus, WorkflowRun

_RUN_STATUS = {"type": "string", "enum": [s.value for s in RunStatus]}
_GATE_BODY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "phase": {"type": "string", "description": "the waiting manual phase (default: the one open now)"},
        "note": {"type": "string"},
    },
}
_EMPTY_BODY: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}


def _run(call: _Call) -> WorkflowRun:
    return call.store().get_run(_safe_id(call.path["run_id"], "run id"))


def _list_runs(call: _Call) -> list[dict[str, Any]]:
    raw_task = call.query.get("task")
    runs = call.store().list_runs(
        task_id=_task_id(raw_task) if raw_task else None,
        statuses=_q_enums(call.query_lists.get("status", []), RunStatus, "status"),
        limit=_q_int(call.query, "limit", 50, low=1, high=1000),
    )
    return [present._run(r) for r in runs]


def _get_run(call: _Call) -> dict[str, Any]:
    store = call.store()
    run = _run(call)
    return present._run_detail(run, store.phase_runs(run.id), store.decisions(run.id))


def _run_phases(call: _Call) -> list[dict[str, Any]]:
    return [present._phase(p) for p in call.store().phase_runs(_run(call).id)]


def _run_decisions(call: _Call) -> list[dict[str, Any]]:
    return [present._decision(d) for d in call.store().decisions(_run(call).id)]


def _cancel_run(call: _Call) -> dict[str, Any]:
    updated = services.cancel_run(call.store(), call.state.project.runs_dir, _run(call).id)
    call.state.queue_changed()
    return present._run(updated)


def _resume_run(call: _Call) -> dict[str, Any]:
    """Mark the run pending (a new generation) and queue its task: the daemon picks it up."""
    run = services.resume_run(call.store(), _run(call).id, enqueue=True)
    call.state.queue_changed()
    return present._run(run)


def _retry_run(call: _Call) -> dict[str, Any]:
    """A new run of the same task and workflow from the first phase, queued for the daemon."""
    old = _run(call)
    run = services.retry_run(call.store(), call.state.workflow_config(), old.id, root=call.state.project.root,
                             cancel_hint=f"cancel it first: POST .../{old.id}/cancel", enqueue=True)
    call.state.queue_changed()
    return present._run(run)


def _gate(call: _Call, approve: bool) -> dict[str, Any]:
    _no_unknown(call.body, set(_GATE_BODY["properties"]))
    decided = services.decide_gate(call.store(), _run(call).id, _b_str(call.body, "phase") or None, approve=approve,
                                   note=_b_str(call.body, "note"))
    return dict(decided)


def _approve_gate(call: _Call) -> dict[str, Any]:
    return _gate(call, True)


def _reject_gate(call: _Call) -> dict[str, Any]:
    return _gate(call, False)


# -- agent runs ---------------------------------------------------------------------------------------
def _agent_run_id(call: _Call) -> str:
    run_id = _safe_id(call.path["agent_run_id"], "agent run id")
    if not (call.state.project.runs_dir / run_id).is_dir():
        raise NotFound(f"no agent run {run_id!r}")
    return run_id


def _open_reader(runs_dir: Path, run_id: str) -> Any:
    """A reader on an agent run; a run directory that no agent adapter wrote is "not an agent run" (404)."""
    from animus.agents import RunReader
    from animus.domain.errors import AgentError

    try:
        return RunReader(run_id, runs_dir)
    except AgentError:
        raise NotFound(f"{run_id!r} is not an agent run") from None


def _get_agent_run(call: _Call) -> dict[str, Any]:
    run_id = _agent_run_id(call)
    reader = _open_reader(call.state.project.runs_dir, run_id)
    view = reader.view(reader.poll())
    data = present._agent_run(view, call.state.secrets_env)
    tally = view.cursor.tally
    total = tally.total or {}
    data["tally"] = {"input_tokens": int(total.get("input_tokens") or tally.step_input),
                     "output_tokens": int(total.get("output_tokens") or tally.step_output),
                     "cost_usd": total.get("cost_usd", tally.step_cost), "tool_calls": tally.tool_calls,
                     "events": tally.events}
    return data


def _replay_to(reader: Any, offset: int) -> Any:
    """A cursor at ``offset`` whose parser state is what reading from 0 builds (parsers keep context)."""
    from animus.agents import ReadCursor

    cursor = ReadCursor(offset=0, state=reader.adapter.new_state())
    if offset == 0:
        return cursor
    for line, end in reader.handle.follow(0, wait=False):
        if end > offset:
            break
        reader.adapter.parse_line(line, cursor.state)
        cursor.offset = end
        if end == offset:
            return cursor
    raise InvalidInput(f"offset {offset} is not the end of a line; use a next_offset (or event id) this API returned")


def _agent_run_log(call: _Call) -> dict[str, Any]:
    """Normalized events from byte ``offset`` on (at most ``limit``); pass the returned offset to continue."""
    run_id = _agent_run_id(call)
    offset = _q_int(call.query, "offset", 0, high=2**62)
    limit = _q_int(call.query, "limit", 500, low=1, high=5000)
    reader = _open_reader(call.state.project.runs_dir, run_id)
    log_file = reader.handle.dir / "stdout.log"
    size = log_file.stat().st_size if log_file.exists() else 0
    if offset > size:
        raise InvalidInput(f"offset {offset} is past the end of the log ({size} bytes)")
    reader.cursor = _replay_to(reader, offset)
    events: list[dict[str, Any]] = []
    next_offset = offset
    for line, end in reader.handle.follow(offset, wait=False):
        for event in reader.adapter.parse_line(line, reader.cursor.state):
            events.append(present._agent_event(event, call.state.secrets_env))
        next_offset = end
        if len(events) >= limit:
            break
    state = reader.handle.state()
    return {"run_id": run_id, "status": state.status, "offset": offset, "next_offset": next_offset, "events": events}


_RUN = {"type": "object"}
ENDPOINTS = (
    Endpoint("GET", "/api/v1/workflow-runs", _list_runs, "List workflow runs, newest first", "workflow runs",
             query=(_Param("task", {"type": "string"}), _Param("status", _RUN_STATUS, repeated=True),
                    _Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000})),
             response={"type": "array", "items": _RUN}),
    Endpoint("GET", "/api/v1/workflow-runs/{run_id}", _get_run, "A run with its timeline (phases, verdicts)",
             "workflow runs"),
    Endpoint("GET", "/api/v1/workflow-runs/{run_id}/phases", _run_phases, "A run's phase attempts", "workflow runs",
             response={"type": "array", "items": _RUN}),
    Endpoint("GET", "/api/v1/workflow-runs/{run_id}/decisions", _run_decisions, "A run's verdicts", "workflow runs",
             response={"type": "array", "items": _RUN}),
    Endpoint("POST", "/api/v1/workflow-runs/{run_id}/cancel", _cancel_run, "Cancel a run (stops its agent)",
             "workflow runs", body=_EMPTY_BODY),
    Endpoint("POST", "/api/v1/workflow-runs/{run_id}/resume", _resume_run,
             "Resume a failed/escalated/cancelled run (queued for the daemon)", "workflow runs", body=_EMPTY_BODY),
    Endpoint("POST", "/api/v1/workflow-runs/{run_id}/retry", _retry_run,
             "Start a new run of the same task and workflow (queued for the daemon)", "workflow runs",
             body=_EMPTY_BODY, status=201),
    Endpoint("POST", "/api/v1/workflow-runs/{run_id}/approve", _approve_gate, "Approve the open manual gate",
             "workflow runs", body=_GATE_BODY),
    Endpoint("POST", "/api/v1/workflow-runs/{run_id}/reject", _reject_gate, "Reject the open manual gate",
             "workflow runs", body=_GATE_BODY),
    Endpoint("GET", "/api/v1/runs/{agent_run_id}", _get_agent_run, "An agent run: state, exit, outcome, tallies",
             "agent runs"),
    Endpoint("GET", "/api/v1/runs/{agent_run_id}/log", _agent_run_log,
             "An agent run's normalized events from a byte offset", "agent runs",
             query=(_Param("offset", {"type": "integer", "minimum": 0}),
                    _Param("limit", {"type": "integer", "minimum": 1, "maximum": 5000}))),
)
