"""docs/api.md's route table names every route with its real path, `/api/v1` prefix included."""

from __future__ import annotations

import re
from pathlib import Path

from animus.api import ENDPOINTS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)  # the docs say {id} where the route says {task_id}


def _documented() -> set[tuple[str, str]]:
    table = DOCS.read_text().split("| method & path |", 1)[1].split("\n\n", 1)[0]
    routes = set()
    for row in table.splitlines():
        for method, path in re.findall(r"`(GET|POST|PATCH|DELETE|PUT) (/[^`?\s]*)", row.split("|")[1] if "|" in row else ""):
            routes.add((method, _shape(path)))
    return routes


def test_every_documented_route_is_a_real_route_with_its_full_path() -> None:
    real = {(e.method, _shape(e.path)) for e in ENDPOINTS}
    documented = _documented()
    assert documented, "the route table was not found"
    assert sorted(documented - real) == []
