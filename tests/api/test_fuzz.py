"""Schemathesis against the app's own OpenAPI spec, in-process: no input it generates may cause a 5xx."""

from __future__ import annotations

import os
from typing import Any

import hypothesis
from hypothesis import HealthCheck, given, settings

from support.api import Api

EXAMPLES = int(os.environ.get("ANIMUS_FUZZ_EXAMPLES", "12"))
STREAMS = ("/api/v1/events", "/api/v1/runs/{agent_run_id}/stream")  # endless by design; covered in test_events.py


def test_the_spec_is_valid_openapi_and_no_generated_request_gets_a_5xx(fresh: Api) -> None:
    import schemathesis
    from schemathesis.generation.modes import GenerationMode

    app = fresh.client.app
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, headers={"Host": "127.0.0.1"})
    failures: list[str] = []
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in STREAMS:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode, headers={"Authorization": f"Bearer {fresh.token}",
                                                                                "Host": "127.0.0.1"})

            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.generate])
            @given(case=strategy)
            def check(case: Any) -> None:
                nonlocal tried
                tried += 1
                response = case.call()
                if response.status_code >= 500 or response.status_code == 421:  # 421: the Host check refused it untested
                    failures.append(f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:200]}")

            try:
                check()
            except hypothesis.errors.Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE, operation.path  # nothing invalid to send (no inputs)
    assert tried >= 100
    assert failures == []


def test_the_crash_inputs_of_issue_12_are_400s_through_schemathesis(fresh: Api) -> None:
    import schemathesis

    schema = schemathesis.openapi.from_asgi("/api/openapi.json", fresh.client.app, headers={"Host": "127.0.0.1"})
    headers = {"Authorization": f"Bearer {fresh.token}", "Host": "127.0.0.1"}
    tasks_list = schema["/api/v1/tasks"]["GET"]
    tasks_create = schema["/api/v1/tasks"]["POST"]
    long_query = tasks_list.Case(query={"q": "x" * 60_000}, headers=headers).call()
    nested = tasks_create.Case(body=b"[" * 100_000 + b"]" * 100_000, media_type="application/octet-stream",
                               headers=headers).call()
    assert (long_query.status_code, nested.status_code) == (400, 400), (long_query.text[:200], nested.text[:200])
    assert "limit is" in long_query.json()["error"]["message"]
    assert "nested too deeply" in nested.json()["error"]["message"]
