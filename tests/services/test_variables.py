"""Workflow variables are checked when a run is enqueued or created, by every front end alike (issue 12.7)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from animus.domain.errors import EXIT_INVALID, EXIT_NOT_FOUND
from support.api import animus_project, build
from support.engine import make_project
from support.services import Fronts

# a second workflow (the YAML continues the `workflows:` list) with both forms of variable declaration
WITH_VARS = """\
  - id: withvars
    phases: [implementation]
    variables:
      REF: HEAD
      FLAGS: {default: "", pattern: "(--stat|--oneline)?"}
"""


@pytest.fixture
def fronts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fronts]:
    from animus.mcp import build_server

    project = make_project(tmp_path, more=WITH_VARS)
    monkeypatch.setenv("ANIMUS_HOME", str(project.home))
    built = build(project)
    with built.client:
        yield Fronts(project, built, build_server(animus_project(project)))


def test_a_leading_dash_variable_is_refused_at_enqueue_by_the_cli_the_api_and_mcp(fronts: Fronts) -> None:
    cli = fronts.project.animus("queue", "enqueue", "TASK-1", "--workflow", "withvars", "--var", "REF=--output=/tmp/x")
    assert cli.code == EXIT_INVALID, cli.stderr
    assert "REF='--output=/tmp/x' starts with '-'" in cli.stderr

    api = fronts.api.post("/api/v1/queue", json={"task_id": "TASK-1", "workflow": "withvars",
                                                  "vars": {"REF": "--output=/tmp/x"}})
    assert api.status_code == 400 and api.json()["error"]["code"] == "invalid_input", api.text

    with pytest.raises(ToolError, match=re.escape("invalid_input: variable REF='--output=/tmp/x' starts with '-'")):
        fronts.mcp_call("queue_enqueue", {"task_id": "TASK-1", "workflow": "withvars", "vars": {"REF": "--output=/tmp/x"}})
    with fronts.store() as store:
        assert store.queue_entries() == []


def test_a_leading_dash_variable_is_refused_by_animus_run_before_any_run_exists(fronts: Fronts) -> None:
    run = fronts.project.animus("run", "TASK-1", "--workflow", "withvars", "--var", "REF=--output=/tmp/x")
    assert run.code == EXIT_INVALID, run.stderr
    assert "starts with '-', which a command would read as an option" in run.stderr
    with fronts.store() as store:
        assert store.active_run_for_task("TASK-1") is None


def test_a_declared_pattern_decides_instead_of_the_default_rule(fronts: Fronts) -> None:
    bad = fronts.project.animus("queue", "enqueue", "TASK-1", "--workflow", "withvars", "--var", "FLAGS=--output=x")
    assert bad.code == EXIT_INVALID and "does not match its pattern" in bad.stderr
    good = fronts.project.animus("queue", "enqueue", "TASK-1", "--workflow", "withvars", "--var", "FLAGS=--stat",
                                 "--var", "REF=main", "--json")
    assert good.code == 0, good.stderr
    assert good.json()["vars"] == {"FLAGS": "--stat", "REF": "main"} and good.json()["created"] is True


def test_mcp_queue_enqueue_refuses_an_unknown_workflow_and_variable_like_the_api(fronts: Fronts) -> None:
    api = fronts.api.post("/api/v1/queue", json={"task_id": "TASK-1", "workflow": "nope"})
    assert api.status_code == 404 and "no workflow 'nope'" in api.json()["error"]["message"]
    with pytest.raises(ToolError, match=re.escape("not_found: no workflow 'nope'")):
        fronts.mcp_call("queue_enqueue", {"task_id": "TASK-1", "workflow": "nope"})
    with pytest.raises(ToolError, match=re.escape("invalid_input: unknown variable(s) EVIL for workflow 'main'")):
        fronts.mcp_call("queue_enqueue", {"task_id": "TASK-1", "vars": {"EVIL": "x"}})
    cli = fronts.project.animus("queue", "enqueue", "TASK-1", "--workflow", "nope")
    assert cli.code == EXIT_NOT_FOUND
    with fronts.store() as store:
        assert store.queue_entries() == []
