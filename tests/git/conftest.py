"""Real git repositories in temporary directories, isolated from the user's own git configuration."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from animus.procs import run_program


class Sandbox:
    """A repository under test (``root``, branch ``main`` with one commit) and the worktrees dir beside it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "repo"
        self.worktrees = base / "state" / "worktrees"
        self.root.mkdir()
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", "Tester")
        self.git("config", "user.email", "tester@example.com")
        self.write("README.md", "hello\n")
        self.commit("initial")

    def git(self, *args: str, cwd: Path | None = None, check: bool = True) -> str:
        result = run_program(["git", *args], cwd=cwd or self.root, env=dict(os.environ))
        if check and result.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
        return result.stdout.strip()

    def write(self, name: str, text: str, cwd: Path | None = None) -> Path:
        path = (cwd or self.root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def commit(self, message: str, cwd: Path | None = None) -> str:
        self.git("add", "-A", cwd=cwd)
        self.git("commit", "-q", "--allow-empty", "-m", message, cwd=cwd)
        return self.git("rev-parse", "HEAD", cwd=cwd)

    def sha(self, ref: str, cwd: Path | None = None) -> str:
        return self.git("rev-parse", ref, cwd=cwd)

    def count(self, rev_range: str, *extra: str, cwd: Path | None = None) -> int:
        return int(self.git("rev-list", "--count", *extra, rev_range, cwd=cwd))

    def status(self, cwd: Path | None = None) -> str:
        return self.git("status", "--porcelain", "--untracked-files=all", cwd=cwd)

    def registered(self) -> list[str]:
        lines = self.git("worktree", "list", "--porcelain").splitlines()
        return [os.path.realpath(line.removeprefix("worktree ")) for line in lines if line.startswith("worktree ")]


@pytest.fixture(autouse=True)
def _isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL", "GIT_DIR"):
        monkeypatch.delenv(key, raising=False)
    yield


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


class Clones:
    """A bare ``origin`` (branch ``main``, one commit) and two clones of it, ``a`` and ``b``, as two hosts.

    Each clone has its own worktrees directory, as each host's daemon has its own state directory.
    """

    def __init__(self, base: Path) -> None:
        from support.repo import git, make_repo

        self.git = git
        seed = make_repo(base / "seed")
        self.origin = base / "origin.git"
        git(base, "init", "-q", "--bare", "-b", "main", str(self.origin))
        git(seed, "push", "-q", str(self.origin), "main")
        self.a = base / "a"
        self.b = base / "b"
        for clone in (self.a, self.b):
            git(base, "clone", "-q", str(self.origin), str(clone))
        self.wt_a = base / "state-a" / "worktrees"
        self.wt_b = base / "state-b" / "worktrees"
        self.base_sha = self.sha(self.origin, "main")

    def sha(self, repo: Path, ref: str) -> str:
        return self.git(repo, "rev-parse", ref).strip()

    def work(self, repo: Path, worktrees: Path, task: str, files: dict[str, str]) -> Path:
        """Task ``task`` prepared in ``repo`` with one commit (run id ``run-<task>``) writing ``files``."""
        from animus.git import commit_all, prepare_worktree

        wt = prepare_worktree(repo, task, worktrees, "main")
        for name, text in files.items():
            (wt.path / name).write_text(text)
        commit_all(wt.path, f"work on {task}", f"run-{task}")
        return wt.path

    def count(self, repo: Path, ref: str, trailer: str) -> int:
        """How many commits on ``ref`` carry the line ``trailer`` exactly (plain ids: no regex characters)."""
        log = self.git(repo, "log", f"--grep=^{trailer}$", "--format=%H", ref)
        return len(log.split())


@pytest.fixture
def clones(tmp_path: Path) -> Clones:
    return Clones(tmp_path)
