from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.cli import run_animus
from support.repo import git

NASTY_TITLE = "Fix \"$(rm -rf ~)\" `id` ; echo pwned | tee /tmp/x && ünï 🦀 \\n end"


def test_create_list_get_next_round_trip_in_json(repo: Path) -> None:
    created = run_animus(
        ["task", "create", "--title", NASTY_TITLE, "--priority", "high", "--label", "auth", "--status", "backlog", "--json"], cwd=repo
    )
    assert created.code == 0, created.stderr
    task = created.json()
    assert task["id"] == "TASK-1" and task["title"] == NASTY_TITLE and task["labels"] == ["auth"]
    run_animus(["task", "create", "--title", "second", "--status", "ready", "--depends-on", "TASK-1"], cwd=repo)

    listed = run_animus(["--json", "task", "list"], cwd=repo).json()
    assert [t["id"] for t in listed] == ["TASK-1", "TASK-2"]
    got = run_animus(["task", "get", "task-1", "--json"], cwd=repo).json()
    assert got == {**task, "external": None}  # typed in, not imported from a source

    nothing = run_animus(["task", "next", "--json"], cwd=repo)
    assert nothing.code == 3 and nothing.error()["code"] == "not_found"
    for status in ("ready", "in-progress", "done"):  # backlog → ready → in_progress → done
        assert run_animus(["task", "status", "TASK-1", status], cwd=repo).code == 0
    assert run_animus(["task", "next", "--json"], cwd=repo).json()["id"] == "TASK-2"


def test_description_from_a_100kb_file_round_trips_byte_exact(repo: Path, tmp_path: Path) -> None:
    text = ("line with 'quotes' and $(subshell) and unicode ✓\r\n" * 2000)[:100_000]
    source = tmp_path / "desc.txt"
    source.write_bytes(text.encode())
    created = run_animus(["task", "create", "--title", "big", "--description-file", str(source), "--json"], cwd=repo)
    assert created.json()["description"].encode() == text.encode()
    via_stdin = run_animus(["task", "create", "--title", "b2", "--description-file", "-", "--json"], cwd=repo, stdin=text.encode())
    assert via_stdin.json()["description"] == text


def test_unknown_task_exits_3_with_error_envelope_on_stderr(repo: Path) -> None:
    result = run_animus(["task", "get", "TASK-9", "--json"], cwd=repo)
    assert result.code == 3 and result.stdout == ""
    assert result.error() == {
        "code": "not_found",
        "message": "task TASK-9 not found",
        "exit_code": 3,
        "hint": "list tasks with `animus task list`",
    }
    human = run_animus(["task", "get", "TASK-9"], cwd=repo)
    assert human.code == 3 and "task TASK-9 not found" in human.stderr


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["task", "create", "--title", "x", "--type", "epic"], "feature, bugfix, refactor, docs, test, chore"),
        (["task", "create", "--title", "x", "--priority", "urgent"], "critical, high, medium, low"),
        (["task", "list", "--status", "doing"], "backlog, ready, in_progress, blocked, done, cancelled"),
    ],
)
def test_invalid_enum_values_exit_2_listing_allowed_values(repo: Path, args: list[str], allowed: str) -> None:
    result = run_animus([*args, "--json"], cwd=repo)
    assert result.code == 2
    assert allowed in result.error()["message"]


def test_invalid_transition_exits_4_unless_forced(repo: Path) -> None:
    run_animus(["task", "create", "--title", "x"], cwd=repo)
    refused = run_animus(["task", "status", "TASK-1", "done", "--json"], cwd=repo)
    assert refused.code == 4 and refused.error()["code"] == "conflict"
    assert run_animus(["task", "get", "TASK-1", "--json"], cwd=repo).json()["status"] == "ready"
    forced = run_animus(["task", "status", "TASK-1", "done", "--force", "--json"], cwd=repo)
    assert forced.code == 0 and forced.json()["status"] == "done"


def test_dependency_cycle_exits_4_and_delete_with_dependents_exits_4(repo: Path) -> None:
    run_animus(["task", "create", "--title", "a"], cwd=repo)
    run_animus(["task", "create", "--title", "b", "--depends-on", "TASK-1"], cwd=repo)
    cycle = run_animus(["task", "dep", "add", "TASK-1", "TASK-2", "--json"], cwd=repo)
    assert cycle.code == 4 and "cycle" in cycle.error()["message"]
    assert run_animus(["task", "delete", "TASK-1"], cwd=repo).code == 4
    assert run_animus(["task", "dep", "rm", "TASK-2", "TASK-1"], cwd=repo).code == 0
    assert run_animus(["task", "delete", "TASK-1"], cwd=repo).code == 0
    assert run_animus(["task", "get", "TASK-1"], cwd=repo).code == 3


def test_list_filters_sort_and_limit_from_the_cli(repo: Path) -> None:
    for title, prio, label in (("low one", "low", "x"), ("crit one", "critical", "y"), ("mid one", "medium", "x")):
        run_animus(["task", "create", "--title", title, "--priority", prio, "--label", label], cwd=repo)
    ids = lambda *a: [t["id"] for t in run_animus(["task", "list", "--json", *a], cwd=repo).json()]  # noqa: E731
    assert ids() == ["TASK-2", "TASK-3", "TASK-1"]
    assert ids("--label", "x") == ["TASK-3", "TASK-1"]
    assert ids("--sort", "id", "--desc", "--limit", "2") == ["TASK-3", "TASK-2"]
    assert ids("--text", "CRIT") == ["TASK-2"]
    human = run_animus(["task", "list"], cwd=repo)
    assert human.code == 0 and "crit one" in human.stdout and "TASK-1" in human.stdout


def test_project_root_resolves_from_subdirs_and_linked_worktrees(repo: Path, tmp_path: Path) -> None:
    run_animus(["task", "create", "--title", "from root"], cwd=repo)
    sub = repo / "a" / "b"
    sub.mkdir(parents=True)
    assert [t["title"] for t in run_animus(["task", "list", "--json"], cwd=sub).json()] == ["from root"]
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(linked))
    from_linked = run_animus(["task", "list", "--json"], cwd=linked)
    assert [t["title"] for t in from_linked.json()] == ["from root"]


def test_project_root_flag_and_env_and_outside_git(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "nowhere"
    outside.mkdir()
    failed = run_animus(["task", "list", "--json"], cwd=outside)
    assert failed.code == 2 and "not inside a git repository" in failed.error()["message"]
    run_animus(["task", "create", "--title", "t"], cwd=repo)
    by_flag = run_animus(["--project-root", str(repo), "task", "list", "--json"], cwd=outside)
    assert len(by_flag.json()) == 1
    by_env = run_animus(["task", "list", "--json"], cwd=outside, env={"ANIMUS_PROJECT_ROOT": str(repo)})
    assert len(by_env.json()) == 1
    missing = run_animus(["task", "list", "--project-root", str(tmp_path / "nope"), "--json"], cwd=outside)
    assert missing.code == 2


def test_state_dir_is_repo_scoped_under_animus_home(repo: Path, animus_home: Path) -> None:
    run_animus(["task", "create", "--title", "t"], cwd=repo)
    scopes = [p.name for p in animus_home.iterdir()]
    assert len(scopes) == 1 and re.fullmatch(r"repo-[0-9a-f]{12}", scopes[0]), scopes
    assert (animus_home / scopes[0] / "animus.db").is_file()


def test_postgres_database_url_is_used_when_set(repo: Path, pg_url: str, pg_schema: str) -> None:
    url = f"{pg_url}?options=-csearch_path%3D{pg_schema}"
    import sqlalchemy as sa

    engine = sa.create_engine("postgresql+psycopg://" + pg_url.split("://", 1)[1])
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{pg_schema}"')
    engine.dispose()
    created = run_animus(["task", "create", "--title", "in pg", "--json"], cwd=repo, env={"ANIMUS_DATABASE_URL": url})
    assert created.code == 0, created.stderr
    listed = run_animus(["task", "list", "--json"], cwd=repo, env={"ANIMUS_DATABASE_URL": url}).json()
    assert [t["title"] for t in listed] == ["in pg"]
    local = run_animus(["task", "list", "--json"], cwd=repo).json()
    assert local == []


def test_the_quick_start_chain_works_in_a_new_repo(repo: Path) -> None:
    # the acceptance chain: init, validate, create, next
    assert run_animus(["init"], cwd=repo).code == 0
    assert run_animus(["config", "validate"], cwd=repo).code == 0
    assert run_animus(["task", "create", "--title", "x"], cwd=repo).code == 0
    nxt = run_animus(["task", "next", "--json"], cwd=repo)
    assert nxt.code == 0 and nxt.json()["title"] == "x" and nxt.json()["status"] == "ready"
