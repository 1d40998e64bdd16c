"""A git repository as a value: questions about its branches, refs and working trees (read-only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from animus.domain.errors import GitError, NotFound
from animus.git._command import _ok, _out, _run_git, _split_z


@dataclass(frozen=True)
class Repo:
    """A repository addressed by any directory inside it (usually the project root)."""

    root: Path

    @classmethod
    def at(cls, path: Path | str) -> Repo:
        """The repository containing ``path``; NotFound when it is not inside a git work tree."""
        where = Path(path)
        result = _run_git(["rev-parse", "--show-toplevel"], where, check=False) if where.is_dir() else None
        if result is None or result.returncode != 0:
            raise NotFound(
                f"{where} is not inside a git repository", hint="run `git init` there, or pass the right path"
            )
        return cls(Path(result.stdout.strip()))

    @property
    def common_dir(self) -> Path:
        """The repository's shared git directory (``.git`` of the main worktree)."""
        return Path(_out(["rev-parse", "--path-format=absolute", "--git-common-dir"], self.root))

    @property
    def main_worktree(self) -> Path:
        """The main working tree (the first entry of ``git worktree list``), whichever worktree ``root`` is."""
        fields = _split_z(_out(["worktree", "list", "--porcelain", "-z"], self.root))
        return Path(fields[0].removeprefix("worktree "))

    def current_branch(self, path: Path | None = None) -> str | None:
        """The short name of the branch checked out at ``path`` (default: root); None when HEAD is detached."""
        result = _run_git(["symbolic-ref", "--quiet", "--short", "HEAD"], path or self.root, check=False)
        return result.stdout.strip() or None if result.returncode == 0 else None

    def head_sha(self, ref: str = "HEAD") -> str:
        """The commit ``ref`` points at; GitError when it names no commit (e.g. a repository without commits)."""
        result = _run_git(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], self.root, check=False
        )
        sha = result.stdout.strip()
        if result.returncode != 0 or not sha:
            if ref == "HEAD":
                raise GitError(
                    f"the repository at {self.root} has no commits yet",
                    hint="make a first commit (git commit --allow-empty -m init), then retry",
                )
            raise GitError(f"{ref!r} does not name a commit in {self.root}")
        return sha

    def ref_exists(self, ref: str) -> bool:
        """Whether the full ref name (``refs/heads/x``, ``refs/remotes/origin/x``) exists."""
        return _ok(["show-ref", "--verify", "--quiet", ref], self.root)

    def branch_exists(self, name: str) -> bool:
        """Whether the local branch ``name`` exists."""
        return self.ref_exists(f"refs/heads/{name}")

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether commit ``ancestor`` is reachable from ``descendant`` (equal counts)."""
        return _ok(["merge-base", "--is-ancestor", ancestor, descendant], self.root)

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of two commits, or None for unrelated histories."""
        result = _run_git(["merge-base", a, b], self.root, check=False)
        return result.stdout.strip() or None if result.returncode == 0 else None

    def dirty_files(self, path: Path | None = None, *, untracked: bool = True) -> list[str]:
        """Paths with staged or unstaged changes at ``path`` (default: root); untracked ones too if asked.

        Ignored files never count.
        """
        mode = "--untracked-files=all" if untracked else "--untracked-files=no"
        text = _out(["status", "--porcelain=v1", "-z", "--ignore-submodules=none", mode], path or self.root)
        files: list[str] = []
        fields = text.split("\0")
        i = 0
        while i < len(fields):
            entry = fields[i]
            i += 1
            if len(entry) < 4:
                continue
            files.append(entry[3:])
            if entry[0] in "RC":
                i += 1  # a rename's source path follows as its own field
        return sorted(set(files))

    def is_clean(self, path: Path | None = None, *, untracked: bool = True) -> bool:
        """Whether the working tree at ``path`` (default: root) has no staged, unstaged or untracked change."""
        return not self.dirty_files(path, untracked=untracked)
