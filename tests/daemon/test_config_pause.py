"""A broken configuration on disk pauses dispatch (in-flight runs go on), says why everywhere, and resumes when fixed."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable

from support.daemon import (
    create_task,
    daemon_info,
    log_text,
    queue_rows,
    start,
    task_statuses,
    unique_impl_script,
    wait_for,
)
from support.engine import Project, live_run_processes


def _api_daemon(project: Project, port: int) -> dict[str, object]:
    token = project.animus("web", "token").stdout.strip()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/daemon", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def test_an_invalid_config_pauses_dispatch_until_the_file_is_fixed(project_factory: Callable[..., Project]) -> None:
    project = project_factory(pool=2, impl=unique_impl_script(10, sleeps=[3.0, 0.0]))
    config = project.repo / ".animus" / "workflows.yaml"
    good = config.read_text()
    info = start(project)
    assert project.animus("queue", "enqueue", "TASK-1").code == 0
    wait_for(lambda: live_run_processes(project, "TASK-1.main.1-implementation-1"), 30, "TASK-1's agent to start")

    config.write_text(good + "bogus_key: 1\n")  # an unknown top-level key, on the file's last line
    line = len(good.splitlines()) + 1
    paused = wait_for(lambda: (daemon_info(project) or {}).get("config_error"), 15, "the daemon to notice the broken file")
    assert paused.startswith(f".animus/workflows.yaml:{line}:1:") and "bogus_key" in paused, paused
    assert "config_invalid" in log_text(project)

    second = create_task(project, "Second")
    queued = project.animus("queue", "enqueue", second)
    assert queued.code == 0 and f"{second} queued" in queued.stdout
    assert "dispatch paused" in queued.stderr and f"workflows.yaml:{line}:1" in queued.stderr
    assert project.animus("queue", "enqueue", second, "--json").json()["dispatch_paused"] == paused
    status = project.animus("status")
    assert status.code == 0 and "dispatch paused" in status.stdout and f"workflows.yaml:{line}:1" in status.stdout
    assert project.animus("status", "--json").json()["daemon"]["config_error"] == paused
    assert _api_daemon(project, info["http_port"])["config_error"] == paused

    # what was in flight finishes; the new task is not started while the file stays broken
    wait_for(lambda: task_statuses(project)["TASK-1"] == "done", 60, "the in-flight TASK-1 to land")
    time.sleep(1.5)  # several daemon ticks (interval 0.2 s)
    assert [(r["task_id"], r["status"]) for r in queue_rows(project)] == [(second, "queued")]
    assert task_statuses(project)[second] == "ready"

    config.write_text(good)
    wait_for(lambda: task_statuses(project)[second] == "done", 60, "the daemon to resume by itself")
    assert (daemon_info(project) or {}).get("config_error") is None
    assert "dispatch paused" not in project.animus("status").stdout
