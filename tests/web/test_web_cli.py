"""`animus web`, `animus web token`, `animus web serve`: real CLI processes against a real project."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from support.cli import run_animus
from support.repo import make_repo


def test_web_prints_the_url_with_the_token_fragment_and_token_matches(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    env = {"ANIMUS_HOME": str(tmp_path / "home"), "ANIMUS_HTTP_PORT": "4999"}
    url = run_animus(["web", "--json"], cwd=repo, env=env).json()
    token = run_animus(["web", "token"], cwd=repo, env=env)
    assert token.code == 0 and len(token.stdout.strip()) >= 40
    assert url["url"] == f"http://127.0.0.1:4999/#token={token.stdout.strip()}" and url["port"] == 4999
    again = run_animus(["web", "token", "--json"], cwd=repo, env=env).json()
    assert again["token"] == token.stdout.strip() and oct(Path(again["path"]).stat().st_mode & 0o777) == "0o600"
    help_text = run_animus(["web", "--help"], cwd=repo, env=env).stdout
    assert "Examples:" in help_text and "serve" in help_text and "token" in help_text


def test_web_serve_answers_api_and_dashboard_and_stops_on_sigterm(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    env = {**os.environ, "ANIMUS_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "animus.cli.main", "web", "serve", "--port", "0", "--json"],
                            cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        started = json.loads(proc.stdout.readline())["data"]
        base = started["url"].rstrip("/")
        page = httpx.get(base + "/", timeout=10)
        assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
        assert httpx.get(base + "/static/app.js", timeout=10).status_code == 200
        assert httpx.get(base + "/api/v1/health", timeout=10).json()["ok"] is True
        assert httpx.post(base + "/api/v1/tasks", json={"title": "x"}, timeout=10).status_code == 401
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_dashboard_script_never_writes_html_from_data() -> None:
    from animus.web import STATIC_DIR, asset_names

    assert asset_names() == ["app.js", "index.html", "style.css"]
    script = (STATIC_DIR / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink
    assert "<script>" not in (STATIC_DIR / "index.html").read_text().split("</head>", 1)[1]  # no inline scripts
