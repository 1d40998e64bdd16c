"""Issue 12, web and API: the Host check (DNS rebinding), bounded request bodies, and three inputs that crashed (400 now)."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.api import SECRET, Api, animus_project

_MB = 1024 * 1024


# -- a real server ---------------------------------------------------------------------------------
@pytest.fixture
def served(fresh: Api) -> Iterator[str]:
    """The dashboard app (API, pages, static files) on a real uvicorn in this process."""
    from animus.api import serve_in_thread
    from animus.config import load_config
    from animus.web import create_app

    proj = animus_project(fresh.project)
    handle = serve_in_thread(create_app(proj, config=load_config(proj), token=fresh.token, poll_secs=0.05), "127.0.0.1", 0)
    try:
        yield handle.url
    finally:
        handle.stop()


_SERVER = """
import sys
from pathlib import Path
from animus.api import create_app, serve_in_thread
from animus.config import load_config
from animus.config.project import Project

project = Project(root=Path(sys.argv[1]), state_dir=Path(sys.argv[2]))
handle = serve_in_thread(create_app(project, config=load_config(project), token=sys.argv[3]), "127.0.0.1", 0)
print(handle.port, flush=True)
sys.stdin.read()
"""


@pytest.fixture
def server_process(fresh: Api) -> Iterator[tuple[int, int]]:
    """The API in a process of its own, so its memory can be measured: (pid, port)."""
    proj = animus_project(fresh.project)
    proc = subprocess.Popen([sys.executable, "-c", _SERVER, str(proj.root), str(proj.state_dir), fresh.token],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "HOOK_SECRET": SECRET})
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield proc.pid, port
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(20)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _zeros(total: int, chunk: int = _MB) -> Iterator[bytes]:
    block = b"\0" * chunk
    for _ in range(total // chunk):
        yield block


def _upload(port: int, path: str, headers: dict[str, str], body: Iterator[bytes], *, chunked: bool = False) -> tuple[str, int]:
    """Send a request head, then ``body`` until the server answers; (status line, bytes sent) once it has hung up."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "127.0.0.1", "Content-Type": "application/json", **headers}.items())
    sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode())
    sent = 0
    sock.setblocking(False)
    answer = b""
    try:
        for block in body:
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            if answer:
                break
            data = b"%x\r\n%s\r\n" % (len(block), block) if chunked else block
            view = memoryview(data)
            while view:
                try:
                    n = sock.send(view)
                    view = view[n:]
                    sent += n
                except BlockingIOError:
                    time.sleep(0.001)
                    try:
                        answer += sock.recv(65536)
                    except BlockingIOError:
                        pass
                    if answer:
                        break
            if answer:
                break
        sock.settimeout(10)
        while chunk := sock.recv(65536):  # to the end: the server must close, not wait for the rest of the body
            answer += chunk
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.close()
    return answer.split(b"\r\n", 1)[0].decode(), sent


# -- 1. DNS rebinding --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/tasks", "/api/v1/events?limit=1", "/", "/static/app.js", "/api/openapi.json"])
def test_a_rebound_host_name_gets_no_data_while_loopback_names_do(served: str, path: str) -> None:
    with httpx.Client(timeout=10) as client:
        refused = client.get(served + path, headers={"Host": "evil.example:4177"})
        assert refused.status_code == 421
        assert refused.json()["error"]["code"] == "misdirected_request"
        assert refused.headers["x-frame-options"] == "DENY"
        for host in ("127.0.0.1", "localhost", "localhost:4177", "127.0.0.1:1"):
            assert client.get(served + path, headers={"Host": host}).status_code == 200, host


def test_ipv6_loopback_is_accepted_and_odd_host_headers_are_refused(fresh: Api) -> None:
    client = fresh.client
    assert client.get("/api/v1/tasks", headers={"Host": "[::1]:4177"}).status_code == 200
    for bad in ("testserver", "127.0.0.1.evil.example", "localhost:x", "[::1", "", "127.0.0.2"):
        assert client.get("/api/v1/tasks", headers={"Host": bad}).status_code == 421, bad


def test_allowed_hosts_from_the_config_are_answered_with_the_token(fresh: Api, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from animus.api import create_app
    from animus.config import load_config

    proj = animus_project(fresh.project)
    config = load_config(proj)
    config = config.model_copy(update={"daemon": config.daemon.model_copy(
        update={"http": config.daemon.http.model_copy(update={"allowed_hosts": ("animus.internal",)})})})
    with TestClient(create_app(proj, config=config, token=fresh.token), base_url="http://127.0.0.1") as client:
        # a name that is not loopback is how a proxy or another machine reaches us: reads need the token then
        assert client.get("/api/v1/tasks", headers={"Host": "Animus.Internal:443"}).status_code == 401
        assert client.get("/api/v1/tasks", headers={"Host": "Animus.Internal:443", **fresh.auth}).status_code == 200
        assert client.get("/api/v1/tasks", headers={"Host": "evil.example"}).status_code == 421


def test_allowed_hosts_is_validated_strictly() -> None:
    from pydantic import ValidationError

    from animus.config import HttpConfig

    assert HttpConfig.model_validate({"allowed_hosts": ("animus.example.org", "[::1]", "10.0.0.5")}).allowed_hosts
    for bad in ("http://x", "x:80", "a b", "*"):
        with pytest.raises(ValidationError):
            HttpConfig.model_validate({"allowed_hosts": (bad,)})


# -- 2. bodies: checked before, capped while, bounded in time ------------------------------------------
def test_a_600_mb_upload_to_an_unknown_trigger_is_refused_without_the_server_growing(server_process: tuple[int, int]) -> None:
    pid, port = server_process
    _upload(port, "/api/v1/triggers/nope", {"Content-Length": "2"}, iter([b"{}"]))  # warm up the code paths
    before = _rss_kib(pid)
    status, sent = _upload(port, "/api/v1/triggers/nope", {"Content-Length": str(600 * _MB)}, _zeros(600 * _MB))
    assert status == "HTTP/1.1 404 Not Found"
    assert sent < 50 * _MB  # answered long before the upload could finish
    assert _rss_kib(pid) - before < 5 * 1024


def test_a_chunked_upload_to_a_real_trigger_is_cut_off_at_the_limit(server_process: tuple[int, int]) -> None:
    pid, port = server_process
    _upload(port, "/api/v1/triggers/nope", {"Content-Length": "2"}, iter([b"{}"]))
    before = _rss_kib(pid)
    status, sent = _upload(port, "/api/v1/triggers/hook", {"Transfer-Encoding": "chunked"}, _zeros(600 * _MB, 64 * 1024),
                           chunked=True)
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert sent < 50 * _MB
    assert _rss_kib(pid) - before < 5 * 1024


def test_a_content_length_over_the_limit_is_refused_before_any_byte_of_the_body(served: str) -> None:
    port = int(served.rsplit(":", 1)[1])
    started = time.monotonic()
    status, sent = _upload(port, "/api/v1/triggers/hook", {"Content-Length": str(2 * _MB)}, iter(()))
    assert status == "HTTP/1.1 413 Request Entity Too Large" and sent == 0
    assert time.monotonic() - started < 5  # not after the body timeout: the body was never waited for


def test_a_stalled_upload_is_answered_and_closed_within_the_body_timeout(served: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from animus.api import _endpoint

    monkeypatch.setattr(_endpoint, "_BODY_TIMEOUT_SECS", 1.0)
    port = int(served.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        started = time.monotonic()
        sock.sendall(b"POST /api/v1/triggers/hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")
        received = b""
        while chunk := sock.recv(65536):  # b"": the server closed the connection
            received += chunk
        assert time.monotonic() - started < 3
        assert received.startswith(b"HTTP/1.1 408 ")
    finally:
        sock.close()


# -- 8. three inputs that crashed ------------------------------------------------------------------------
def test_deeply_nested_json_is_a_400(fresh: Api) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    response = fresh.client.post("/api/v1/tasks", content=nested, headers={**fresh.auth, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]["message"]


def test_a_60000_character_search_is_a_400_that_names_no_database_error(fresh: Api) -> None:
    response = fresh.get("/api/v1/tasks", params={"q": "x" * 60_000})
    assert response.status_code == 400
    assert "limit is 1000" in response.json()["error"]["message"]
    assert not any(word in response.text.lower() for word in ("sqlite", "operational", "pattern", "internal"))


def test_an_out_of_range_last_event_id_is_a_400_without_a_logged_traceback(fresh: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        response = fresh.get("/api/v1/events", headers={"Last-Event-ID": "99999999999999999999"})
    assert response.status_code == 400
    assert "Last-Event-ID" in json.loads(response.text)["error"]["message"]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
