"""Loading and validating the configuration stays light: no database or durable-engine imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from animus.config import render_default_config

PROBE = """
import sys
import animus.config
assert "pydantic" not in sys.modules and "yaml" not in sys.modules, "animus.config imported eagerly"
from animus.cli.main import main
try:
    main(["config", "validate", "--project-root", sys.argv[1]])
except SystemExit as exc:
    assert exc.code == 0, exc.code
heavy = sorted(m for m in ("sqlalchemy", "dbos", "psycopg", "fastapi", "starlette", "uvicorn") if m in sys.modules)
assert not heavy, heavy
print("ok")
"""


def test_config_validate_imports_no_database_or_engine(tmp_path: Path) -> None:
    (tmp_path / ".animus").mkdir()
    (tmp_path / ".animus" / "workflows.yaml").write_text(render_default_config(), encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
