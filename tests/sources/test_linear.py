"""LinearAdapter against a real HTTP endpoint (tests/support/fake_linear.py): listing, errors, status told back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from animus.config import LinearSource
from animus.domain.errors import InvalidInput, Unavailable
from animus.sources import (
    LinearAdapter,
    SourceAuthError,
    SourceContext,
    SourceRateLimited,
    StatusUpdate,
    status_marker,
)
from support.fake_linear import FakeLinear


@pytest.fixture
def linear() -> Iterator[FakeLinear]:
    with FakeLinear() as fake:
        fake.add_team("ENG", "Engineering")
        fake.add_team("OPS", "Operations")
        yield fake


def _ctx(tmp_path: Path) -> SourceContext:
    return SourceContext(project_root=tmp_path, state_dir=tmp_path / "state", worktrees_dir=tmp_path / "wt")


def _adapter(linear: FakeLinear, tmp_path: Path, **config: Any) -> LinearAdapter:
    fields: dict[str, Any] = {"id": "lin", "type": "linear", "team": "ENG", "api_url": linear.url, **config}
    return LinearAdapter(LinearSource.model_validate(fields), _ctx(tmp_path), token=linear.key)


def _update(issue_id: str, kind: str = "running", summary: str = "Run started.", run_id: str = "run-1") -> StatusUpdate:
    return StatusUpdate(external_id=issue_id, task_id="TASK-3", run_id=run_id, kind=kind,  # type: ignore[arg-type]
                        summary=summary)


# -- fetch ------------------------------------------------------------------------------------------


def test_a_full_listing_pages_through_every_matching_issue_with_all_fields(linear: FakeLinear, tmp_path: Path) -> None:
    linear.max_page_size = 2
    made = [linear.add_issue("ENG", f"Issue {n}", f"Body {n}", labels=["agent"], priority=n % 5) for n in range(5)]
    adapter = _adapter(linear, tmp_path, priority_map={"1": "critical", "2": "high"})
    result = adapter.fetch(None)
    assert [i.title for i in result.items] == [f"Issue {n}" for n in range(5)]
    assert result.complete and result.cursor == max(m["updatedAt"] for m in made)
    assert linear.count("AnimusIssues") == 3  # 2 + 2 + 1
    first, second = result.items[1], result.items[2]
    assert first.external_id == made[1]["id"] and first.key == "ENG-2" and first.url.endswith("/ENG-2")
    assert (first.description, first.labels, first.priority, first.open) == ("Body 1", ("agent",), "critical", True)
    assert first.updated_at == made[1]["updatedAt"]
    assert second.priority == "high" and result.items[0].priority is None  # "0" is not in the map
    assert all(r["authorization"] == linear.key for r in linear.requests)  # the key as-is, no "Bearer"


def test_team_state_and_every_label_filter_the_listing(linear: FakeLinear, tmp_path: Path) -> None:
    linear.add_issue("ENG", "both labels", labels=["agent", "backend"])
    linear.add_issue("ENG", "one label", labels=["agent"])
    linear.add_issue("ENG", "wrong state", state="In Progress", labels=["agent", "backend"])
    linear.add_issue("ENG", "backlog, both", state="Backlog", labels=["backend", "agent", "extra"])
    linear.add_issue("OPS", "other team", labels=["agent", "backend"])
    adapter = _adapter(linear, tmp_path, states=("Todo", "Backlog"), labels=("agent", "backend"))
    assert sorted(i.title for i in adapter.fetch(None).items) == ["backlog, both", "both labels"]
    sent = linear.requests[-1]["variables"]["filter"]
    assert sent["state"] == {"name": {"in": ["Todo", "Backlog"]}}
    assert sent["and"] == [{"labels": {"some": {"name": {"eq": "agent"}}}}, {"labels": {"some": {"name": {"eq": "backend"}}}}]


def test_the_team_may_be_named_by_its_name(linear: FakeLinear, tmp_path: Path) -> None:
    linear.add_issue("OPS", "ops work")
    assert [i.title for i in _adapter(linear, tmp_path, team="Operations").fetch(None).items] == ["ops work"]


def test_an_incremental_fetch_returns_only_what_changed_and_closed_issues_as_closed(
    linear: FakeLinear, tmp_path: Path
) -> None:
    a = linear.add_issue("ENG", "A")
    b = linear.add_issue("ENG", "B")
    c = linear.add_issue("ENG", "C")
    adapter = _adapter(linear, tmp_path)
    full = adapter.fetch(None)
    assert len(full.items) == 3
    assert adapter.fetch(full.cursor).items == []
    linear.update_issue(a["id"], title="A, retitled")
    linear.update_issue(b["id"], state="Done")
    linear.update_issue(c["id"], state="In Progress")  # a person took it: not reported either way
    later = adapter.fetch(full.cursor)
    assert not later.complete
    assert [(i.title, i.open) for i in later.items] == [("A, retitled", True), ("B", False)]
    assert later.cursor is not None and full.cursor is not None and later.cursor > full.cursor
    assert adapter.fetch(later.cursor).items == []


def test_get_returns_the_issue_and_none_once_it_is_deleted(linear: FakeLinear, tmp_path: Path) -> None:
    issue = linear.add_issue("ENG", "Gone soon", state="Canceled")
    adapter = _adapter(linear, tmp_path)
    item = adapter.get(issue["id"])
    assert item is not None and item.title == "Gone soon" and not item.open
    linear.delete_issue(issue["id"])
    assert adapter.get(issue["id"]) is None


# -- check ------------------------------------------------------------------------------------------


def test_check_names_the_identity_team_states_and_the_matching_count(linear: FakeLinear, tmp_path: Path) -> None:
    linear.add_issue("ENG", "one")
    linear.add_issue("ENG", "two")
    linear.add_issue("ENG", "started", state="In Progress")
    adapter = _adapter(linear, tmp_path, states=("Todo", "Ready"), state_map={"blocked": "Blocked"})
    assert adapter.check() == {
        "identity": "Ada Lovelace",
        "team": "ENG",
        "states": ["Todo", "In Progress", "Done"],
        "missing_states": ["Ready", "Blocked"],
        "matching": 2,
    }


def test_check_of_a_team_that_does_not_exist_is_invalid_input(linear: FakeLinear, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no team 'NOPE'"):
        _adapter(linear, tmp_path, team="NOPE").check()


# -- errors -----------------------------------------------------------------------------------------


def test_a_wrong_key_is_an_auth_error_that_never_shows_the_key(linear: FakeLinear, tmp_path: Path) -> None:
    config = LinearSource.model_validate({"id": "lin", "type": "linear", "team": "ENG", "api_url": linear.url})
    adapter = LinearAdapter(config, _ctx(tmp_path), token="lin_api_WRONG_secret")
    with pytest.raises(SourceAuthError) as caught:
        adapter.fetch(None)
    assert "lin_api_WRONG_secret" not in str(caught.value.to_dict())
    assert "LINEAR_API_KEY" in caught.value.message


def test_http_401_is_an_auth_error_without_the_key(linear: FakeLinear, tmp_path: Path) -> None:
    linear.fail_next(1, status=401)
    with pytest.raises(SourceAuthError) as caught:
        _adapter(linear, tmp_path).fetch(None)
    assert linear.key not in str(caught.value.to_dict()) and "HTTP 401" in caught.value.message


def test_the_key_is_read_from_token_env(linear: FakeLinear, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_LINEAR", linear.key)
    fields = {"id": "lin", "type": "linear", "team": "ENG", "api_url": linear.url, "token_env": "MY_LINEAR"}
    assert LinearAdapter(LinearSource.model_validate(fields), _ctx(tmp_path)).check()["identity"] == "Ada Lovelace"


def test_a_missing_key_variable_is_named_at_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_LINEAR", raising=False)
    config = LinearSource.model_validate({"id": "lin", "type": "linear", "team": "ENG", "token_env": "MY_LINEAR"})
    adapter = LinearAdapter(config, _ctx(tmp_path))  # building it contacts nothing and does not fail
    with pytest.raises(SourceAuthError, match="MY_LINEAR is not set"):
        adapter.check()


def test_http_429_is_rate_limited_until_linears_reset_time(linear: FakeLinear, tmp_path: Path) -> None:
    reset_ms = int((time.time() + 120) * 1000)
    linear.fail_next(1, status=429, headers={"X-RateLimit-Requests-Reset": str(reset_ms)})
    with pytest.raises(SourceRateLimited) as caught:
        _adapter(linear, tmp_path).fetch(None)
    assert caught.value.reset_at == pytest.approx(reset_ms / 1000)


def test_a_ratelimited_graphql_error_without_a_header_waits_a_minute(linear: FakeLinear, tmp_path: Path) -> None:
    linear.fail_next(1, status=400, code="RATELIMITED", headers={"X-RateLimit-Requests-Reset": "soon"})
    with pytest.raises(SourceRateLimited) as caught:
        _adapter(linear, tmp_path).fetch(None)
    assert time.time() + 50 < caught.value.reset_at < time.time() + 70


def test_http_500_and_a_dead_endpoint_are_unavailable(linear: FakeLinear, tmp_path: Path) -> None:
    linear.fail_next(1, status=500)
    adapter = _adapter(linear, tmp_path)
    with pytest.raises(Unavailable, match="HTTP 500"):
        adapter.fetch(None)
    assert adapter.fetch(None).items == []  # the next poll works again
    url = linear.url
    linear.__exit__(None, None, None)
    config = LinearSource.model_validate({"id": "lin", "type": "linear", "team": "ENG", "api_url": url})
    with pytest.raises(Unavailable, match="unreachable"):
        LinearAdapter(config, _ctx(tmp_path), token="k").check()


# -- report -----------------------------------------------------------------------------------------


def test_report_moves_the_state_once_and_keeps_one_comment_per_run(linear: FakeLinear, tmp_path: Path) -> None:
    issue = linear.add_issue("ENG", "Do it")
    adapter = _adapter(linear, tmp_path)
    assert adapter.report(_update(issue["id"])) == {"state": "set", "comment": "created"}
    assert linear.issue(issue["id"])["state"] == "In Progress"
    [comment] = linear.comments(issue["id"])
    assert comment["body"].startswith("Run started.") and status_marker("run-1") in comment["body"]

    assert adapter.report(_update(issue["id"])) == {"state": "unchanged", "comment": "unchanged"}
    assert adapter.report(_update(issue["id"], "waiting_gate", "Waiting for review.")) == {
        "state": "unchanged", "comment": "edited"}
    [comment] = linear.comments(issue["id"])
    assert comment["body"].startswith("Waiting for review.")
    assert (linear.count("AnimusSetState"), linear.count("AnimusCreateComment"), linear.count("AnimusEditComment")) \
        == (1, 1, 1)

    landed = StatusUpdate(external_id=issue["id"], task_id="TASK-3", run_id="run-1", kind="landed",
                          summary="Landed.", pr_url="https://github.example/acme/app/pull/9")
    assert adapter.report(landed) == {"state": "set", "comment": "edited"}
    assert linear.issue(issue["id"])["state"] == "Done"
    [comment] = linear.comments(issue["id"])
    assert "https://github.example/acme/app/pull/9" in comment["body"]

    assert adapter.report(_update(issue["id"], "running", "Second run.", run_id="run-2"))["comment"] == "created"
    assert len(linear.comments(issue["id"])) == 2


def test_report_finds_its_comment_by_the_visible_line_when_the_html_marker_was_dropped(
    linear: FakeLinear, tmp_path: Path
) -> None:
    issue = linear.add_issue("ENG", "Do it")
    adapter = _adapter(linear, tmp_path)
    adapter.report(_update(issue["id"]))
    [comment] = linear.comments(issue["id"])
    linear.edit_comment(comment["id"], comment["body"].replace(status_marker("run-1"), "").rstrip())
    assert adapter.report(_update(issue["id"]))["comment"] == "unchanged"
    assert adapter.report(_update(issue["id"], summary="Now different."))["comment"] == "edited"
    assert len(linear.comments(issue["id"])) == 1


def test_report_pages_through_comments_to_find_its_own(linear: FakeLinear, tmp_path: Path) -> None:
    issue = linear.add_issue("ENG", "Busy issue")
    adapter = _adapter(linear, tmp_path)
    for n in range(5):
        linear.add_comment(issue["id"], f"human comment {n}")
    adapter.report(_update(issue["id"]))  # ours is the sixth comment
    linear.max_page_size = 2
    assert adapter.report(_update(issue["id"], summary="Edited."))["comment"] == "edited"
    assert linear.count("AnimusIssueComments") == 2  # comments 3-4 and 5-6, after the first page of two
    assert linear.count("AnimusCreateComment") == 1 and len(linear.comments(issue["id"])) == 6


def test_report_leaves_the_state_alone_when_unmapped_or_missing(linear: FakeLinear, tmp_path: Path) -> None:
    issue = linear.add_issue("ENG", "Do it")
    adapter = _adapter(linear, tmp_path, state_map={"blocked": "Blocked", "running": None})
    assert adapter.report(_update(issue["id"], "running"))["state"] == "skipped"
    assert adapter.report(_update(issue["id"], "cancelled", "Cancelled."))["state"] == "skipped"
    assert adapter.report(_update(issue["id"], "failed", "Failed.")) == {
        "state": "missing", "missing_state": "Blocked", "comment": "edited"}
    assert linear.count("AnimusSetState") == 0 and linear.issue(issue["id"])["state"] == "Todo"


def test_report_on_a_deleted_issue_writes_nothing(linear: FakeLinear, tmp_path: Path) -> None:
    issue = linear.add_issue("ENG", "Do it")
    linear.delete_issue(issue["id"])
    assert _adapter(linear, tmp_path).report(_update(issue["id"]))["issue"] == "deleted"
    assert linear.count("AnimusCreateComment") == 0
