"""Repo: read-only questions about branches, refs and working trees."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from animus.domain.errors import GitError, NotFound
from animus.git import Repo

if TYPE_CHECKING:
    from conftest import Sandbox


def test_repo_answers_branch_and_ref_questions(sandbox: Sandbox) -> None:
    repo = Repo.at(sandbox.root / ".git" / "..")
    assert repo.current_branch() == "main"
    assert repo.head_sha() == sandbox.sha("HEAD") == repo.head_sha("main")
    assert repo.branch_exists("main") and not repo.branch_exists("nope")
    assert repo.ref_exists("refs/heads/main") and not repo.ref_exists("refs/heads/nope")
    with pytest.raises(GitError):
        repo.head_sha("nope")
    sandbox.git("checkout", "-q", "--detach")
    assert repo.current_branch() is None


def test_is_clean_counts_tracked_staged_and_untracked_but_not_ignored(sandbox: Sandbox) -> None:
    repo = Repo(sandbox.root)
    sandbox.write(".gitignore", "*.log\n")
    sandbox.commit("ignore logs")
    sandbox.write("x.log", "ignored\n")
    assert repo.is_clean()
    sandbox.write("new.txt", "n\n")
    assert not repo.is_clean() and repo.is_clean(untracked=False)
    (sandbox.root / "README.md").write_text("edit\n")
    assert repo.dirty_files() == ["README.md", "new.txt"]


def test_repo_at_a_plain_directory_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        Repo.at(tmp_path)
