"""Issue 11's small ones: what `queue enqueue`, `status`, `web --open` and piped tables print, through the real CLI."""

from __future__ import annotations

from pathlib import Path

from support.cli import run_animus


def test_enqueue_says_queued_once(repo: Path) -> None:
    assert run_animus(["task", "create", "--title", "t", "--status", "ready"], cwd=repo).code == 0
    result = run_animus(["queue", "enqueue", "TASK-1"], cwd=repo)
    assert result.code == 0 and result.stdout == "TASK-1 queued\n"
    again = run_animus(["queue", "enqueue", "TASK-1"], cwd=repo)
    assert again.stdout == "TASK-1 was already queued\n"


def test_status_without_a_daemon_shows_no_pool_fraction(repo: Path) -> None:
    result = run_animus(["status"], cwd=repo)
    assert result.code == 0, result.stderr
    assert "/- in use" not in result.stdout and "pool:   none (no daemon)" in result.stdout


def test_web_open_without_a_browser_says_so(repo: Path) -> None:
    env = {"BROWSER": "/nonexistent/browser", "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    result = run_animus(["web", "--open"], cwd=repo, env=env)
    assert result.code == 0 and "no browser found" in result.stderr
    assert result.stdout.startswith("http://127.0.0.1:")  # the URL to open by hand


def test_piped_tables_do_not_cut_ids(repo: Path) -> None:
    label = "team-" + "x" * 60
    title = "Supercalifragilistic" * 5
    created = run_animus(["task", "create", "--title", title, "--label", label], cwd=repo, env={"COLUMNS": ""})
    assert created.code == 0, created.stderr
    listed = run_animus(["task", "list"], cwd=repo, env={"COLUMNS": ""})
    assert label in listed.stdout and title in listed.stdout and "…" not in listed.stdout
