"""The cost of a run on every CLI: dollars where the CLI reports them, else tokens × the shipped price table."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from animus.agents import find_price, shipped_prices
from animus.agents.fake import install_fake_clis
from support.engine import Project, drive, make_project
from support.repo import git


def _script(usage: dict[str, Any], reason: str, write: str | None = None) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [{"write": {"path": write, "content": "x\n"}}] if write else []
    return [*steps, {"usage": usage},
            {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": reason}}]


def _on_tools(tmp_path: Path, project: Project, agents: dict[str, tuple[str, str, Any]]) -> dict[str, str]:
    """Swap the scripted agents for fake real CLIs: name → (tool, model, script)."""
    config = project.repo / ".animus" / "workflows.yaml"
    text = config.read_text()
    for name, (tool, model, script) in agents.items():
        path = project.repo / ".animus" / f"{name}-{tool}.json"
        path.write_text(json.dumps({"invocations": [script]}))
        script_line = ".animus/impl.json\n    max_attempts: 2\n" if name == "impl" else ".animus/review.json\n"
        old = f"  {name}:\n    tool: scripted\n    script: {script_line}"
        assert old in text, name
        text = text.replace(old, f"  {name}:\n    tool: {tool}\n    model: {model}\n    animus_mcp: false\n"
                                 f'    env: {{ANIMUS_FAKE_SCRIPT: "{path}"}}\n    max_attempts: 1\n')
        text = text.replace(f'    max_attempts: 1\n    env: {{ANIMUS_FAKE_LEDGER: "{project.ledger}"}}\n', "    max_attempts: 1\n", 1)
    config.write_text(text)
    git(project.repo, "add", ".animus")
    git(project.repo, "commit", "-q", "-m", "agents on real CLIs")
    bin_dir = tmp_path / "bin"
    install_fake_clis(bin_dir)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def _phases(project: Project) -> dict[str, dict[str, Any]]:
    got = project.animus("workflow", "get", "TASK-1.main.1", "--json")
    assert got.code == 0, got.stderr
    data = json.loads(got.stdout)["data"]
    return {"run": data["cost"], **{p["phase"]: p for p in data["phases"]}}


def test_codex_and_gemini_runs_cost_their_tokens_times_the_table_price(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    env = _on_tools(tmp_path, project, {
        "impl": ("codex", "gpt-5", _script({"input_tokens": 400_000, "cached_input_tokens": 100_000,
                                            "output_tokens": 20_000}, "wrote a.txt", write="a.txt")),
        "reviewer": ("gemini", "gemini-2.5-pro", _script({"input_tokens": 80_000, "output_tokens": 3_000}, "good")),
    })
    assert drive(project, env=env).exits == [0]

    phases = _phases(project)
    gpt5, pro = shipped_prices()["gpt-5"], shipped_prices()["gemini-2.5-pro"]
    assert gpt5.cached_input is not None
    expected_impl = (300_000 * gpt5.input + 100_000 * gpt5.cached_input + 20_000 * gpt5.output) / 1e6
    expected_review = (80_000 * pro.input + 3_000 * pro.output) / 1e6
    assert phases["implementation"]["cost_usd"] == pytest.approx(expected_impl, abs=1e-6)
    assert phases["implementation"]["agent"] == "impl" and phases["implementation"]["model"] == "gpt-5"
    assert phases["review"]["cost_usd"] == pytest.approx(expected_review, abs=1e-6)
    assert phases["run"]["cost_usd"] == pytest.approx(expected_impl + expected_review, abs=1e-6)

    by_model = project.animus("cost", "--by", "model", "--json")
    assert by_model.code == 0, by_model.stderr
    lines = {line["key"]: line for line in json.loads(by_model.stdout)["data"]["lines"]}
    assert lines["gpt-5"]["cost_usd"] == pytest.approx(expected_impl, abs=1e-6)
    assert lines["gemini-2.5-pro"]["input_tokens"] == 80_000


def test_a_model_without_a_price_costs_unknown_never_zero(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    env = _on_tools(tmp_path, project, {
        "impl": ("codex", "house-model-7", _script({"input_tokens": 5_000, "output_tokens": 500}, "wrote a.txt", write="a.txt")),
    })
    assert drive(project, env=env).exits == [0]

    phases = _phases(project)
    assert phases["implementation"]["cost_usd"] is None  # tokens only: unknown, not $0
    assert phases["implementation"]["input_tokens"] == 5_000
    assert phases["review"]["cost_usd"] == pytest.approx(0.001)  # the scripted (claude) agent reported dollars
    assert phases["run"]["cost_usd"] is None  # one unknown phase makes the run's total unknown
    run = phases["run"]
    assert run["unpriced_phases"] == 2  # both implementation attempts (the review asked for one rework)
    assert run["priced_usd"] == pytest.approx(0.001 * (run["phases"] - 2))  # the reviews' reported dollars
    shown = project.animus("cost", "--by", "day")
    assert shown.code == 0, shown.stderr
    assert "unknown" in shown.stdout and "$0.0000" not in shown.stdout


def test_a_projects_pricing_entry_wins_over_the_table_and_prices_a_new_model() -> None:
    from animus.agents import price_table, run_cost

    table = price_table({"house-model-7": {"input": 2.0, "output": 4.0}, "gpt-5": {"input": 1.0, "output": 1.0}})
    assert run_cost(reported_usd=None, model="house-model-7", input_tokens=1_000_000, output_tokens=500_000,
                    table=table) == pytest.approx(4.0)
    assert run_cost(reported_usd=None, model="gpt-5", input_tokens=1_000_000, output_tokens=0, table=table) == 1.0
    assert run_cost(reported_usd=0.5, model="house-model-7", input_tokens=1, output_tokens=1, table=table) == 0.5


def test_model_names_match_dated_and_prefixed_variants_of_a_table_entry() -> None:
    table = shipped_prices()
    assert find_price("claude-sonnet-4-5-20250929", table) == table["claude-sonnet-4-5"]
    assert find_price("openai/gpt-5-codex", table) == table["gpt-5-codex"]
    assert find_price("gpt-5.1-codex-mini", table) == table["gpt-5.1-codex-mini"]
    assert find_price("house-model-7", table) is None
    assert all(price.checked for price in table.values())  # every shipped price says when it was read
