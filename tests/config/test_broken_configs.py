"""Every broken config in broken/*.yaml fails `animus config validate` with exit 2 at the exact file:line:col."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

BROKEN = sorted((Path(__file__).parent / "broken").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+): (.+)$")
# A few run in --json mode too, to pin the error envelope on stderr.
JSON_CASES = {
    "unknown_agent_key.yaml",
    "tab_indent.yaml",
    "cyclic_workflow_ref.yaml",
    "bad_cron.yaml",
    "enum_tool.yaml",
}


def expectations(path: Path) -> list[tuple[int, int, str]]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = EXPECT.match(line)
        if match:
            found.append((int(match[1]), int(match[2]), match[3]))
    assert found, f"{path.name} has no '# expect: line:col: message' header"
    return found


def install(repo: Path, source: Path) -> None:
    (repo / ".animus").mkdir()
    shutil.copyfile(source, repo / ".animus" / "workflows.yaml")


def test_the_broken_corpus_is_big_enough() -> None:
    assert len(BROKEN) >= 25


@pytest.mark.parametrize("source", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_config_reports_exact_position(source: Path, repo: Path, animus) -> None:
    install(repo, source)
    result = animus("config", "validate", cwd=repo)
    assert result.code == 2, result.stderr
    reported = [line for line in result.stderr.splitlines() if line.startswith(".animus/workflows.yaml:")]
    wanted = expectations(source)
    for line, col, fragment in wanted:
        prefix = f".animus/workflows.yaml:{line}:{col}: "
        assert any(r.startswith(prefix) and fragment in r for r in reported), (
            f"want {prefix}…{fragment}…\ngot:\n{result.stderr}"
        )
    assert len(reported) == len(wanted), result.stderr


@pytest.mark.parametrize("name", sorted(JSON_CASES))
def test_broken_config_json_envelope_on_stderr(name: str, repo: Path, animus) -> None:
    source = Path(__file__).parent / "broken" / name
    install(repo, source)
    result = animus("config", "validate", "--json", cwd=repo)
    assert result.code == 2
    assert result.stdout == ""
    envelope = result.json_err()
    assert envelope["schema"] == "animus.cli.v1"
    assert envelope["ok"] is False
    error = envelope["error"]
    assert error["code"] == "config_invalid"
    assert error["exit_code"] == 2
    (line, col, fragment), *_ = expectations(source)
    first = error["details"]["errors"][0]
    assert (first["file"], first["line"], first["col"]) == (".animus/workflows.yaml", line, col)
    assert fragment in first["message"]
    assert error["details"]["problems"][0].startswith(f".animus/workflows.yaml:{line}:{col}: ")


def test_api_key_value_never_appears_in_the_error(repo: Path, animus) -> None:
    install(repo, Path(__file__).parent / "broken" / "api_key_not_a_name.yaml")
    for args in (("config", "validate"), ("config", "validate", "--json")):
        result = animus(*args, cwd=repo)
        assert result.code == 2
        assert "DO-NOT-PRINT-ME" not in result.stderr + result.stdout
