"""The GitHub issues adapter's status writes against the fake GitHub: the status labels are the ones the
source names, the issue is closed on landing only with ``close_on_land``, and one comment per run."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from animus.config import load_config
from animus.config.project import resolve_project
from animus.sources import SourceContext, StatusUpdate, adapter_for
from support.engine import make_project
from support.fake_github import FakeGitHub

REPO = "acme/app"
TOKEN = "t0ken-for-tests"
NAMES = '{running: "bot: working", done: "bot: shipped", blocked: "bot: stuck"}'


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with FakeGitHub(token=TOKEN) as server:
        yield server


def _adapter(tmp_path: Path, fake: FakeGitHub, **keys: str) -> Any:
    more = "".join(f", {k}: {v}" for k, v in keys.items())
    project = make_project(tmp_path, more=(f"github: {{repo: {REPO}, api_url: \"{fake.url}\"}}\n"
                                           f"sources:\n  - {{id: gh, type: github, labels: [animus]{more}}}\n"))
    config = load_config(resolve_project(project.repo))
    ctx = SourceContext(project.repo, project.state_dir, project.state_dir / "worktrees")
    return adapter_for(config.source("gh"), config, ctx)


def _tell(adapter: Any, number: int, kind: str) -> dict[str, Any]:
    update = StatusUpdate(external_id=str(number), task_id="TASK-1", run_id="TASK-1.main.1", kind=kind,  # type: ignore[arg-type]
                          summary=f"run is {kind}")
    return dict(adapter.report(update))


def _labels(fake: FakeGitHub, number: int) -> set[str]:
    return {lb["name"] for lb in fake.issue(REPO, number)["labels"]}


def test_the_status_labels_are_the_names_the_source_configures(tmp_path: Path, fake: FakeGitHub) -> None:
    adapter = _adapter(tmp_path, fake, status_labels=NAMES)
    number = fake.add_issue(REPO, "Ship it", labels=["animus", "docs"])["number"]
    _tell(adapter, number, "running")
    assert _labels(fake, number) == {"animus", "docs", "bot: working"}
    _tell(adapter, number, "blocked")
    assert _labels(fake, number) == {"animus", "docs", "bot: stuck"}
    _tell(adapter, number, "landed")
    assert _labels(fake, number) == {"animus", "docs", "bot: shipped"}
    assert fake.issue(REPO, number)["state"] == "open"  # close_on_land is off by default
    _tell(adapter, number, "cancelled")
    assert _labels(fake, number) == {"animus", "docs"}
    assert not any(lb.startswith("animus:") for lb in _labels(fake, number))
    (comment,) = fake.comments(REPO, number)  # one comment for the run, edited at each step
    assert comment["body"].startswith("run is cancelled") and "<!-- animus:run:TASK-1.main.1 -->" in comment["body"]
    assert fake.count("POST", f"/repos/{REPO}/issues/{number}/comments") == 1


def test_close_on_land_closes_the_issue_once(tmp_path: Path, fake: FakeGitHub) -> None:
    adapter = _adapter(tmp_path, fake, close_on_land="true")
    number = fake.add_issue(REPO, "Ship it", labels=["animus"])["number"]
    assert "closed" not in _tell(adapter, number, "running")
    assert fake.issue(REPO, number)["state"] == "open"
    assert _tell(adapter, number, "landed")["closed"] is True
    issue = fake.issue(REPO, number)
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    assert _labels(fake, number) == {"animus", "animus:done"}
    assert _tell(adapter, number, "landed") == {"comment": "unchanged", "labels": {"added": [], "removed": []},
                                                "closed": "already"}  # a repeat writes nothing


def test_an_issue_wearing_its_own_status_label_imports_without_it(tmp_path: Path, fake: FakeGitHub) -> None:
    adapter = _adapter(tmp_path, fake, status_labels=NAMES)
    fake.add_issue(REPO, "Again", labels=["animus", "bot: stuck", "web"])
    (item,) = adapter.fetch(None).items
    assert item.labels == ("web",) and item.open


def test_without_the_variable_the_token_comes_from_gh_auth_token(tmp_path: Path, fake: FakeGitHub,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = _adapter(tmp_path, fake)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(f"#!{sys.executable}\nimport sys\nif sys.argv[1:3] != ['auth', 'token']:\n    sys.exit(2)\nprint({TOKEN!r})\n")
    gh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("GITHUB_TOKEN")
    fake.add_issue(REPO, "Found with gh's token", labels=["animus"])
    checked = adapter.check()
    assert checked["identity"] == fake.login and checked["matching"] == 1
    assert "gh auth token" in repr(adapter.client)
