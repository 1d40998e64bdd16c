"""The step-store's contract, over each transport, against a real `animus step-store serve` process."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest

from support.stepstore import TOKEN, StepStoreError, served

TRANSPORTS = ["stdio", "socket", "http"]


def _begin(store: object, run: str, key: str, epoch: int, name: str = "spawn") -> dict:
    return store.call("begin_step", run_id=run, phase_id="implement", step_name=name,  # type: ignore[attr-defined]
                      idempotency_key=key, payload={"k": key}, epoch=epoch)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_method_keeps_its_contract(root: Path, tmp_path: Path, transport: str) -> None:
    with served(root, transport, tmp_path) as server:
        store = server.connect()
        hello = store.call("initialize", protocol_version="1.0.0", host_info={"name": "test", "version": "0"},
                           capabilities={})
        assert hello["plugin_info"]["plugin_kind"] == "durable_store"
        assert set(hello["capabilities"]["methods"]) == {
            "begin_workflow_run", "begin_step", "commit_step", "recover_in_flight", "complete_workflow_run"}
        assert store.call("$/ping") == {}
        assert store.call("health/check")["status"] == "healthy"

        e1 = store.call("begin_workflow_run", run_id="r1", phase_id="implement", inputs={"task": "T-1"})["epoch"]
        e2 = store.call("begin_workflow_run", run_id="r2", phase_id="review", inputs=None)["epoch"]
        assert e2 > e1 >= 1

        first = _begin(store, "r1", "dispatch", e1, "build-dispatch")
        assert first["status"] == "new" and first["step_id"].startswith("st_")
        assert _begin(store, "r1", "dispatch", e1, "build-dispatch") == first  # begun, not committed: still new
        assert store.call("commit_step", step_id=first["step_id"], output={"prompt": "p"}, epoch=e1) == {"ack": True}
        # a second commit is acked and changes nothing: the first result stands
        assert store.call("commit_step", step_id=first["step_id"], output={"prompt": "other"}, epoch=e1) == {"ack": True}
        again = _begin(store, "r1", "dispatch", e1, "build-dispatch")
        assert again == {"step_id": first["step_id"], "status": "already_committed", "prior_output": {"prompt": "p"}}

        failed = _begin(store, "r1", "spawn", e1)
        store.call("commit_step", step_id=failed["step_id"], error={"message": "boom"}, epoch=e1)
        assert _begin(store, "r1", "spawn", e1)["prior_error"] == {"message": "boom"}
        nothing = _begin(store, "r1", "wait", e1, "wait")
        store.call("commit_step", step_id=nothing["step_id"], output=None, epoch=e1)
        assert _begin(store, "r1", "wait", e1, "wait") == {
            "step_id": nothing["step_id"], "status": "already_committed", "prior_output": None}
        _begin(store, "r1", "evaluate", e1, "evaluate")  # begun, never committed: not in the replay state

        in_flight = {r["run_id"]: r for r in store.call("recover_in_flight", since_epoch=0)}
        assert set(in_flight) == {"r1", "r2"}
        r1 = in_flight["r1"]
        assert (r1["phase_id"], r1["epoch"], r1["last_committed_step"]) == ("implement", e1, "wait")
        assert [(s["step_name"], s["idempotency_key"], s["output"]) for s in r1["replay_state"]["steps"]] == [
            ("build-dispatch", "dispatch", {"prompt": "p"}), ("spawn", "spawn", None), ("wait", "wait", None)]
        assert r1["replay_state"]["steps"][1]["error"] == {"message": "boom"}
        assert [r["run_id"] for r in store.call("recover_in_flight", since_epoch=e2)] == ["r2"]
        assert store.call("recover_in_flight", since_epoch=e2 + 1) == []

        # a later owner's commit of a committed step is acked, and the first result still stands
        e_later = store.call("begin_workflow_run", run_id="r1", phase_id="implement", inputs=None)["epoch"]
        assert store.call("commit_step", step_id=first["step_id"], output="later", epoch=e_later) == {"ack": True}
        assert _begin(store, "r1", "dispatch", e_later)["prior_output"] == {"prompt": "p"}

        assert store.call("complete_workflow_run", run_id="r2", output={"verdict": "advance"}) == {"ack": True}
        assert store.call("complete_workflow_run", run_id="r2", error="late") == {"ack": True}  # changes nothing
        assert [r["run_id"] for r in store.call("recover_in_flight", since_epoch=0)] == ["r1"]
        # re-opening a completed run: a new epoch, in flight again
        e3 = store.call("begin_workflow_run", run_id="r2", phase_id="review", inputs=None)["epoch"]
        assert e3 > e2
        assert {r["run_id"]: r["epoch"] for r in store.call("recover_in_flight")}["r2"] == e3


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_bad_calls_get_json_rpc_errors(root: Path, tmp_path: Path, transport: str) -> None:
    with served(root, transport, tmp_path) as server:
        store = server.connect()
        with pytest.raises(StepStoreError) as unknown:
            store.call("step/begin")
        assert unknown.value.code == -32601
        with pytest.raises(StepStoreError) as missing:
            store.call("begin_workflow_run", phase_id="p")
        assert missing.value.code == -32602 and "run_id" in missing.value.message
        epoch = store.call("begin_workflow_run", run_id="r", phase_id="p", inputs={})["epoch"]
        step = _begin(store, "r", "k", epoch)
        with pytest.raises(StepStoreError) as no_epoch:
            store.call("commit_step", step_id=step["step_id"], output=1)
        assert no_epoch.value.code == -32602 and "epoch" in no_epoch.value.message
        with pytest.raises(StepStoreError) as both:
            store.call("commit_step", step_id=step["step_id"], output=1, error="x", epoch=epoch)
        assert both.value.code == -32602
        with pytest.raises(StepStoreError) as future:
            store.call("commit_step", step_id=step["step_id"], output=1, epoch=epoch + 100)
        assert future.value.code == -32602
        with pytest.raises(StepStoreError) as no_step:
            store.call("commit_step", step_id="st_nope", output=1, epoch=epoch)
        assert no_step.value.code == -1011
        with pytest.raises(StepStoreError) as no_run:
            _begin(store, "never-begun", "k", 1)
        assert no_run.value.code == -1011


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_stale_epochs_calls_are_refused(root: Path, tmp_path: Path, transport: str) -> None:
    with served(root, transport, tmp_path) as server:
        store = server.connect()
        old = store.call("begin_workflow_run", run_id="r", phase_id="p", inputs={})["epoch"]
        step = _begin(store, "r", "k", old)
        new = store.call("begin_workflow_run", run_id="r", phase_id="p", inputs={})["epoch"]  # another owner
        with pytest.raises(StepStoreError) as fenced:
            store.call("commit_step", step_id=step["step_id"], output="zombie", epoch=old)
        assert fenced.value.code == -1010
        assert fenced.value.data == {"run_id": "r", "epoch": old, "current_epoch": new}
        with pytest.raises(StepStoreError) as fenced_begin:
            _begin(store, "r", "k2", old)
        assert fenced_begin.value.code == -1010
        with pytest.raises(StepStoreError):  # refused for good, also when asked again
            store.call("commit_step", step_id=step["step_id"], output="zombie", epoch=old)
        store.call("commit_step", step_id=step["step_id"], output="owner", epoch=new)
        assert _begin(store, "r", "k", new)["prior_output"] == "owner"
        with pytest.raises(StepStoreError) as fenced_complete:
            store.call("complete_workflow_run", run_id="r", output=1, epoch=old)
        assert fenced_complete.value.code == -1010


def test_http_wants_the_bearer_token(root: Path, tmp_path: Path) -> None:
    with served(root, "http", tmp_path) as server:
        host, port = server.where.removeprefix("http://").rsplit(":", 1)
        body = b'{"jsonrpc":"2.0","id":1,"method":"$/ping"}'
        for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN}):
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("POST", "/rpc", body=body, headers=headers)
            assert conn.getresponse().status == 401
            conn.close()
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("POST", "/rpc", body=body, headers={"Authorization": f"Bearer {TOKEN}"})
        reply = conn.getresponse()
        assert reply.status == 200 and b'"result":{}' in reply.read()
        conn.close()
        cmdline = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes()
        assert TOKEN.encode() not in cmdline and TOKEN not in server.log()


def test_http_refuses_to_start_without_a_token(root: Path, tmp_path: Path) -> None:
    from support.cli import run_animus

    result = run_animus(["--project-root", str(root), "step-store", "serve", "--http", "127.0.0.1:0"], cwd=root,
                        env={"ANIMUS_STEPSTORE_TOKEN": ""})
    assert result.code == 2 and "bearer token" in result.stderr


def test_the_help_shows_an_example(root: Path) -> None:
    from support.cli import run_animus

    result = run_animus(["step-store", "serve", "--help"], cwd=root)
    assert result.code == 0 and "Examples:" in result.stdout and "--http" in result.stdout


def test_a_socket_left_by_a_killed_server_is_taken_over_and_a_live_one_refused(root: Path, tmp_path: Path) -> None:
    from support.cli import run_animus
    from support.stepstore import start_server

    first = start_server(root, "socket", tmp_path)
    path = first.where.removeprefix("unix:")
    refused = run_animus(["--project-root", str(root), "step-store", "serve", "--socket", path], cwd=root)
    assert refused.code == 4 and "already listens" in refused.stderr
    first.kill()
    assert Path(path).exists()  # SIGKILL left the socket file behind

    import subprocess

    from support.stepstore import StepStoreClient, _wait_ready, serve_argv

    stderr_path = tmp_path / "second.stderr"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(serve_argv(root, "--socket", path), stdin=subprocess.DEVNULL, stderr=stderr)
    try:
        assert _wait_ready(stderr_path, proc) == f"unix:{path}"
        with StepStoreClient.unix(path) as store:
            assert store.call("$/ping") == {}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert not Path(path).exists()  # a clean stop removes it
