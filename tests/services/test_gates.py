"""Deciding a gate through every front end: without a phase named, the gate open now is the one decided."""

from __future__ import annotations

import re

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from animus.domain.errors import EXIT_CONFLICT
from support.services import Fronts


@pytest.mark.parametrize("front", ["cli", "api", "mcp"])
def test_approving_without_a_phase_decides_the_open_gate_and_the_run_completes(fronts: Fronts, front: str) -> None:
    proc, run_id = fronts.run_to_gate()
    try:
        if front == "cli":
            done = fronts.project.animus("workflow", "approve", run_id, "--note", "ship it", "--json")
            assert done.code == 0, done.stderr
            decided = done.json()
        elif front == "api":
            response = fronts.api.post(f"/api/v1/workflow-runs/{run_id}/approve", json={"note": "ship it"})
            assert response.status_code == 200, response.text
            decided = response.json()
        else:
            decided = fronts.mcp_call("workflow_approve", {"run_id": run_id, "note": "ship it"})
        assert (decided["run_id"], decided["phase"], decided["approved"], decided["note"]) == (run_id, "signoff", True, "ship it")
        assert proc.wait(timeout=90) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    with fronts.store() as store:
        assert store.get_run(run_id).status.value == "completed"
        manual = [d for d in store.decisions(run_id) if d.phase == "signoff"]
        assert [d.effective for d in manual] == ["advance"]


def test_without_an_open_gate_every_front_end_refuses_a_decision_that_names_no_phase(fronts: Fronts) -> None:
    run = fronts.pending_run()
    expected = f"run {run.id} is not waiting at a manual gate (status pending)"

    cli = fronts.project.animus("workflow", "reject", run.id, "--json")
    assert cli.code == EXIT_CONFLICT
    assert cli.error()["message"] == expected
    api = fronts.api.post(f"/api/v1/workflow-runs/{run.id}/reject", json={})
    assert api.status_code == 409, api.text
    assert api.json()["error"]["message"] == expected
    with pytest.raises(ToolError, match=re.escape(f"conflict: {expected}")):
        fronts.mcp_call("workflow_reject", {"run_id": run.id})
