"""The dashboard in real headless Chromium (Debian's, via Playwright): create a task, watch it run live,
approve its manual gate, see it land; a hostile title renders as text. Screenshots go to test-artifacts/.

Set ANIMUS_UPDATE_SCREENSHOT=1 to refresh docs/images/dashboard.png (the README's screenshot).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.api import animus_project
from support.engine import make_project

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
XSS = "<script>alert(1)</script>"
IMPL = {"invocations": [[
    {"text": "Reading the code base."},
    {"sleep": 1.0},
    {"text": "Halfway there: writing a.txt"},
    {"write": {"path": "a.txt", "content": "hello\n"}},
    {"sleep": 2.0},
    {"usage": {"input_tokens": 1200, "output_tokens": 340, "cost_usd": 0.0123}},
    {"decision": {"verdict": "advance", "confidence": 0.9, "risk": "low", "reason": "wrote a.txt"}},
]]}
REVIEW = {"invocations": [[
    {"text": "Looks right."},
    {"usage": {"input_tokens": 400, "output_tokens": 60, "cost_usd": 0.004}},
    {"decision": {"verdict": "advance", "confidence": 0.95, "risk": "low", "reason": "a.txt is there"}},
]]}


def _chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing; CI must install Debian's chromium (scripts/test-setup)")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Any, str, str]]:
    from animus.api import ensure_token, serve_in_thread
    from animus.web import create_app, dashboard_url

    project = make_project(tmp_path, impl=IMPL, review=REVIEW, manual=True)
    proj = animus_project(project)
    token = ensure_token(proj.state_dir)
    handle = serve_in_thread(create_app(proj, config=None, token=token, poll_secs=0.1), "127.0.0.1", 0)
    try:
        yield project, dashboard_url(handle.host, handle.port, token), token
    finally:
        handle.stop()


@pytest.fixture
def daemon_served(tmp_path: Path) -> Iterator[tuple[Any, str, str]]:
    """The production path: the daemon serves the dashboard and runs what the page queues."""
    from animus.api import ensure_token
    from animus.web import dashboard_url

    project = make_project(tmp_path, impl=IMPL, review=REVIEW, manual=True)
    token = ensure_token(animus_project(project).state_dir)
    started = project.animus("daemon", "start", "--json", timeout=90)
    assert started.code == 0, started.stderr
    try:
        yield project, dashboard_url("127.0.0.1", started.json()["http_port"], token), token
    finally:
        project.animus("daemon", "stop", timeout=60)


@pytest.fixture
def page() -> Iterator[Any]:
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            tab = browser.new_page(viewport={"width": 1500, "height": 950})
            yield tab
        finally:
            browser.close()


def _shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"dashboard-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_create_run_watch_live_approve_and_land_in_the_browser(daemon_served: tuple[Any, str, str], page: Any) -> None:
    project, url, _token = daemon_served
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.goto(url)
    assert "#token=" not in page.url  # taken from the fragment, kept in localStorage, dropped from the address bar
    page.wait_for_selector('#col-ready .task-card[data-id="TASK-1"]')

    page.fill("#new-title", XSS)
    page.click("#new-create")
    hostile = page.wait_for_selector('.task-card[data-id="TASK-2"]')
    assert hostile.query_selector(".title").inner_text() == XSS
    assert page.eval_on_selector_all("#board script", "nodes => nodes.length") == 0

    page.fill("#new-title", "Write the greeting file")
    page.fill("#new-description", "a.txt must say hello")
    page.select_option("#new-priority", "high")
    page.check("#new-queue")  # hand it to the daemon at once
    page.click("#new-create")
    page.wait_for_selector("#live-output .live-line:has-text('Halfway there')", timeout=60_000)
    store = project.store()
    try:
        running = [p for p in store.phase_runs("TASK-3.main.1") if p.status.value == "running"]
    finally:
        store.close()
    assert running, "the line arrived while the agent was still running"
    page.wait_for_selector('#col-in_progress .task-card[data-id="TASK-3"]')
    _shot(page, "live-output")
    page.wait_for_selector(".gate[data-phase='signoff'] .gate-approve", timeout=60_000)
    page.click("#active a")  # open the run's timeline
    page.wait_for_selector("#timeline .phase-row")
    gate_shot = _shot(page, "gate")
    page.fill(".gate[data-phase='signoff'] .gate-note", "looks good")
    page.wait_for_timeout(1500)  # two refreshes: the typed note must survive them
    assert page.input_value(".gate[data-phase='signoff'] .gate-note") == "looks good"
    page.click(".gate[data-phase='signoff'] .gate-approve")
    page.wait_for_selector('#col-done .task-card[data-id="TASK-3"]', timeout=60_000)
    page.wait_for_selector("#run-status.status-completed")
    phases = page.eval_on_selector_all("#timeline .phase-row td:nth-child(2)", "cells => cells.map(c => c.textContent)")
    assert phases == ["implementation", "review", "signoff"]
    assert project.animus("task", "get", "TASK-3", "--json").json()["status"] == "done"
    done_shot = _shot(page, "done")
    assert dialogs == [] and page_errors == []
    if os.environ.get("ANIMUS_UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs" / "images").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(gate_shot if gate_shot.exists() else done_shot, ROOT / "docs" / "images" / "dashboard.png")


def test_the_page_asks_for_the_token_and_mutations_fail_without_it(served: tuple[Any, str, str], page: Any) -> None:
    _project, url, token = served
    page.goto(url.split("#", 1)[0])
    page.evaluate("localStorage.clear()")
    page.reload()
    assert page.is_visible("#token-form")
    page.fill("#new-title", "no token")
    page.click("#new-create")
    page.wait_for_selector("#error:has-text('unauthorized')")
    page.fill("#token-input", token)
    page.click("#token-save button")
    page.fill("#new-title", "with token")
    page.click("#new-create")
    page.wait_for_selector('.task-card:has-text("with token")')
    assert not page.is_visible('.task-card:has-text("no token")')
    csp = page.evaluate("fetch('/').then(r => r.headers.get('content-security-policy'))")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_a_run_waiting_on_its_pull_request_shows_the_link_and_what_each_look_decided(served: tuple[Any, str, str], page: Any) -> None:
    from animus.domain.runs import DecisionRecord, RunStatus

    project, url, _token = served
    pr_url = "https://github.com/acme/repo/pull/7"
    store = project.store()
    try:
        run = store.create_run("TASK-1", "main", {})
        store.update_run(run.id, status=RunStatus.RUNNING)
        store.update_run(run.id, status=RunStatus.WAITING_PR, pr_url=pr_url)
        for verdict, effective, reason in [("opened", "wait", "PR #7 opened"), ("checks_failed", "rework", f"ci failed {XSS}")]:
            store.add_decision(DecisionRecord(run_id=run.id, seq=0, phase="pr", attempt=1, source="pr", verdict=verdict,
                                              effective=effective, target_phase=None, confidence=None, risk=None, reason=reason))
    finally:
        store.close()
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("#active .row:has-text('PR 7')")
    page.click("#active a")
    page.wait_for_selector("#run-status.status-waiting_pr")
    assert page.get_attribute("#run-pr-link", "href") == pr_url and page.is_visible("#run-pr")
    looks = page.eval_on_selector_all("#run-pr-decisions li", "items => items.map(i => i.textContent)")
    assert looks == ["opened → wait PR #7 opened", f"checks_failed → rework ci failed {XSS}"]
    assert page.eval_on_selector_all("#run-pr script", "nodes => nodes.length") == 0
    assert page.is_visible("#run-actions button:has-text('cancel')")
    assert page_errors == []
