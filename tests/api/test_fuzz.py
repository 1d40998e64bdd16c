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
