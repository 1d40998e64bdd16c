"""The plugin lifecycle against a real plugin process: handshake, calls, notifications, timeouts, crashes, restarts."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

import animus
from animus.domain.errors import PluginError, PluginTimeout
from animus.plugins import CAPABILITY_NOT_SUPPORTED, TIMEOUT, PluginHost
from animus.procs import is_alive


def test_the_handshake_tells_each_side_who_the_other_is(host: PluginHost) -> None:
    info = host.info("pyecho")
    assert (info.name, info.version, info.plugin_kind, info.protocol_version) == ("pyecho", "1.2.0", "custom", "1.0.0")
    assert "echo/say" in info.methods
    sent = host.call("pyecho", "echo/pid")["initialize"]
    assert sent["protocol_version"] == "1.0.0"
    assert sent["host_info"] == {"name": "animus", "version": animus.__version__}
    assert sent["capabilities"]["cancellation"] is True


def test_calls_go_to_one_process_per_plugin(host: PluginHost) -> None:
    assert host.call("pyecho", "echo/say", {"text": "one"}) == {"text": "one"}
    first = host.call("pyecho", "echo/pid")["pid"]
    assert host.call("pyecho", "echo/pid")["pid"] == first
    assert host.client("pyecho").ping()


def test_a_method_the_plugin_did_not_list_is_refused_without_asking(host: PluginHost) -> None:
    with pytest.raises(PluginError, match="does not serve 'task/list'") as caught:
        host.call("pyecho", "task/list")
    assert caught.value.details["rpc_code"] == CAPABILITY_NOT_SUPPORTED


def test_notifications_reach_subscribers_before_the_answer(host: PluginHost) -> None:
    ticks: list[Any] = []
    host.subscribe("pyecho", "echo/tick", lambda method, params: ticks.append(params["n"]))
    assert host.call("pyecho", "echo/notify", {"count": 3}) == {"sent": 3}
    assert ticks == [0, 1, 2]


def test_a_slow_call_times_out_and_the_plugin_stays_usable(host: PluginHost) -> None:
    host.call("pyecho", "echo/say", {"text": "warm"})
    started = time.monotonic()
    with pytest.raises(PluginTimeout, match="did not answer within 0.3s") as caught:
        host.call("pyecho", "echo/sleep", {"secs": 1.5}, timeout=0.3)
    assert time.monotonic() - started < 1.0
    assert caught.value.details["rpc_code"] == TIMEOUT
    assert host.call("pyecho", "echo/say", {"text": "after"}, timeout=5) == {"text": "after"}


def test_a_crash_fails_every_call_in_flight_at_once_and_the_next_call_restarts_it(host: PluginHost) -> None:
    old_pid = host.call("pyecho", "echo/pid")["pid"]
    errors: list[BaseException] = []

    def sleeper() -> None:
        try:
            host.call("pyecho", "echo/sleep", {"secs": 30}, timeout=60)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=sleeper)
    thread.start()
    time.sleep(0.2)  # the sleep is in flight (the plugin reads it before the crash request)
    # the plugin is single-threaded: it sleeps first; kill it from outside, like a crash would
    client = host.client("pyecho")
    started = time.monotonic()
    client._proc.kill()  # playing a crash
    thread.join(timeout=5)
    assert not thread.is_alive() and time.monotonic() - started < 3
    assert len(errors) == 1 and isinstance(errors[0], PluginError)
    assert "while echo/sleep was in flight" in errors[0].message

    new_pid = host.call("pyecho", "echo/pid")["pid"]
    assert new_pid != old_pid and not is_alive(old_pid, None)
    health = {h.name: h for h in host.health()}["pyecho"]
    assert (health.status, health.restarts, health.pid) == ("healthy", 1, new_pid)


def test_a_plugin_that_exits_mid_call_says_so(host: PluginHost) -> None:
    with pytest.raises(PluginError, match="exited with code 7 while echo/crash was in flight"):
        host.call("pyecho", "echo/crash", {"code": 7}, timeout=10)


def test_restarts_back_off_when_a_plugin_keeps_crashing(host: PluginHost) -> None:
    gaps = []
    for _ in range(3):
        started = time.monotonic()
        with pytest.raises(PluginError):
            host.call("pyecho", "echo/crash", {"code": 1}, timeout=10)
        gaps.append(time.monotonic() - started)
    # the first start is immediate; then 0.25 s, 0.5 s before each restart
    assert gaps[1] >= 0.2 and gaps[2] >= 0.45 and gaps[2] > gaps[1]


def test_stderr_goes_to_the_plugins_log_file(host: PluginHost, state_dir: Path) -> None:
    pid = host.call("pyecho", "echo/pid")["pid"]
    log = state_dir / "logs" / "plugins" / "pyecho.log"
    assert f"pyecho started pid={pid}" in log.read_text()


def test_close_shuts_the_plugin_down_politely(host: PluginHost) -> None:
    client = host.client("pyecho")
    pid = client.pid
    host.close()
    assert not is_alive(pid, None)
    assert client.exit_code == 0  # it answered shutdown and left on `exit`, it was not killed


def test_a_subscription_survives_a_restart_and_unsubscribing_ends_it(host: PluginHost) -> None:
    ticks: list[Any] = []
    unsubscribe = host.subscribe("pyecho", "echo/tick", lambda method, params: ticks.append(params["n"]))
    with pytest.raises(PluginError):
        host.call("pyecho", "echo/crash", {"code": 1})
    host.call("pyecho", "echo/notify", {"count": 2})  # a new process
    assert ticks == [0, 1]
    unsubscribe()
    host.call("pyecho", "echo/notify", {"count": 2})
    assert ticks == [0, 1]


def test_a_plugin_speaking_another_major_protocol_is_refused(project: Path, make_host: Any, pyecho: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / ".animus" / "plugins.yaml").write_text(f"plugins:\n  pyecho:\n    binary: {pyecho}\n    env: [PYECHO_MODE]\n")
    host = make_host()
    host.lock()
    monkeypatch.setenv("PYECHO_MODE", "protocol-2")
    host = make_host()
    with pytest.raises(PluginError, match="speaks protocol 2.0.0, this animus speaks 1.0.0"):
        host.call("pyecho", "echo/say", {"text": "x"})


def test_a_plugin_that_dies_at_start_is_reported_with_its_log(project: Path, make_host: Any, pyecho: Path, monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
    (project / ".animus" / "plugins.yaml").write_text(f"plugins:\n  pyecho:\n    binary: {pyecho}\n    env: [PYECHO_MODE]\n")
    make_host().lock()
    monkeypatch.setenv("PYECHO_MODE", "crash-on-start")
    with pytest.raises(PluginError, match="exited with code 3 while initialize was in flight"):
        make_host().call("pyecho", "echo/say", {"text": "x"})
    assert "crashing on purpose" in (state_dir / "logs" / "plugins" / "pyecho.log").read_text()


def test_a_call_shorter_than_the_restart_backoff_fails_at_once_instead_of_waiting(host: PluginHost) -> None:
    for _ in range(4):  # backoff now 1 s
        with pytest.raises(PluginError):
            host.call("pyecho", "echo/crash", {"code": 1}, timeout=10)
    started = time.monotonic()
    with pytest.raises(PluginError, match=r"crashed \d+ time\(s\) in a row; it is started again in"):
        host.call("pyecho", "echo/say", {"text": "x"}, timeout=0.1)
    assert time.monotonic() - started < 0.1
    assert host.call("pyecho", "echo/say", {"text": "x"}, timeout=10) == {"text": "x"}  # waits out the backoff


def test_a_runaway_line_kills_the_plugin_instead_of_filling_memory(host: PluginHost) -> None:
    with pytest.raises(PluginError, match="was killed: it sent a line longer than 16777216 bytes while echo/flood was in flight"):
        host.call("pyecho", "echo/flood", timeout=30)
