"""Discover the project root and its repo-scoped state dir, and name every path in it (no subprocess: read .git files directly)."""

from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from animus.domain.errors import InvalidInput

ENV_PROJECT_ROOT = "ANIMUS_PROJECT_ROOT"
ENV_HOME = "ANIMUS_HOME"
CONFIG_DIRNAME = ".animus"


@dataclass(frozen=True)
class StateLayout:
    """Every path animus keeps in a project's state dir, named once (DESIGN.md "State layout")."""

    state_dir: Path

    @property
    def private_top(self) -> Path:
        """The highest directory animus owns here: ``$ANIMUS_HOME`` when the state dir is in it (both are kept 0700)."""
        home = animus_home()
        return home if self.state_dir.parent == home else self.state_dir

    @property
    def db_path(self) -> Path:
        """The embedded SQLite database (unless ``ANIMUS_DATABASE_URL`` names another)."""
        return self.state_dir / "animus.db"

    @property
    def runs_dir(self) -> Path:
        """``runs/<agent-run-id>/``: one run directory per agent process (procs owns the format)."""
        return self.state_dir / "runs"

    @property
    def worktrees_dir(self) -> Path:
        """``worktrees/<task-id>/``: one git worktree per task."""
        return self.state_dir / "worktrees"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def daemon_log(self) -> Path:
        return self.logs_dir / "daemon.log"

    @property
    def engine_log(self) -> Path:
        return self.logs_dir / "engine.log"

    def plugin_log(self, name: str) -> Path:
        """``logs/plugins/<name>.log``: everything a plugin process wrote on its stderr."""
        return self.logs_dir / "plugins" / f"{name}.log"

    def command_log(self, attempt_id: str) -> Path:
        """``logs/commands/<run>-<phase>-<attempt>.log``: a command phase attempt's full stdout and stderr."""
        return self.logs_dir / "commands" / f"{attempt_id}.log"

    @property
    def daemon_info(self) -> Path:
        """``daemon.json``: the ready daemon's identity (written by ``daemon``, read by ``read_daemon_info``)."""
        return self.state_dir / "daemon.json"

    @property
    def executor_id(self) -> Path:
        return self.state_dir / "executor-id"

    @property
    def executor_lock(self) -> Path:
        """Held (flock) by the one executor of this project: the daemon or a foreground ``animus run``."""
        return self.state_dir / "executor.lock"

    @property
    def web_token(self) -> Path:
        return self.state_dir / "web-token"

    def agent_home(self, tool: str) -> Path:
        """An agent CLI's isolated config home."""
        return self.state_dir / "agent-homes" / tool


class InStateDir:
    """The state layout's paths as shortcuts on anything that has a ``state_dir`` (a project, an engine context)."""

    state_dir: Path

    @property
    def layout(self) -> StateLayout:
        return StateLayout(self.state_dir)

    @property
    def db_path(self) -> Path:
        return self.layout.db_path

    @property
    def runs_dir(self) -> Path:
        return self.layout.runs_dir

    @property
    def worktrees_dir(self) -> Path:
        return self.layout.worktrees_dir

    @property
    def logs_dir(self) -> Path:
        return self.layout.logs_dir


@dataclass(frozen=True)
class Project(InStateDir):
    """A project: its canonical root (the main worktree) and the state dir outside it."""

    root: Path
    state_dir: Path

    @property
    def config_dir(self) -> Path:
        return self.root / CONFIG_DIRNAME


def animus_home() -> Path:
    raw = os.environ.get(ENV_HOME)
    return Path(raw).expanduser() if raw else Path.home() / ".animus"


def scope_name(root: Path) -> str:
    """``<sanitized folder name>-<12 hex of sha256(canonical path)>``."""
    canonical = str(root.resolve())
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    name = re.sub(r"[^a-z0-9]+", "-", root.name.lower()).strip("-") or "project"
    return f"{name[:48]}-{digest}"


def state_dir_for(root: Path) -> Path:
    return animus_home() / scope_name(root)


def main_worktree_of(start: Path) -> Path | None:
    """The main worktree of the git repository containing ``start`` (also from a linked worktree)."""
    here = start.resolve()
    for candidate in (here, *here.parents):
        dotgit = candidate / ".git"
        if dotgit.is_dir():
            return candidate
        if dotgit.is_file():
            return _main_from_gitfile(candidate, dotgit)
    return None


def _main_from_gitfile(worktree: Path, dotgit: Path) -> Path:
    # A linked worktree's .git file says "gitdir: <common>/worktrees/<name>"; <gitdir>/commondir
    # points back at the common dir, whose parent is the main worktree.
    try:
        text = dotgit.read_text(encoding="utf-8").strip()
    except OSError:
        return worktree
    if not text.startswith("gitdir:"):
        return worktree
    gitdir = Path(text[len("gitdir:") :].strip())
    if not gitdir.is_absolute():
        gitdir = (worktree / gitdir).resolve()
    commondir_file = gitdir / "commondir"
    if not commondir_file.is_file():
        return worktree  # a submodule or something else: treat it as its own root
    common = Path(commondir_file.read_text(encoding="utf-8").strip())
    if not common.is_absolute():
        common = (gitdir / common).resolve()
    return common.parent if common.name == ".git" else common


def mcp_server_argv(project_root: str | os.PathLike[str], *, scope: str = "full") -> list[str]:
    """The argv of ``animus mcp serve`` for ``project_root`` (this interpreter, so a venv install works too).

    ``scope="agent"`` is what agents get injected: their server has no tool that passes a gate or starts work.
    """
    argv = [sys.executable, "-m", "animus.cli.main", "--project-root", str(Path(project_root).resolve()), "mcp", "serve"]
    return argv if scope == "full" else [*argv, "--scope", scope]


def resolve_project(project_root: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Project:
    """``--project-root`` → ``ANIMUS_PROJECT_ROOT`` → main worktree of the repo holding cwd → error."""
    raw = project_root if project_root not in (None, "") else os.environ.get(ENV_PROJECT_ROOT) or None
    if raw is not None:
        root = Path(raw).expanduser()
        if not root.is_dir():
            source = "--project-root" if project_root not in (None, "") else ENV_PROJECT_ROOT
            raise InvalidInput(f"project root {str(raw)!r} (from {source}) is not a directory")
        root = root.resolve()
    else:
        found = main_worktree_of(cwd or Path.cwd())
        if found is None:
            raise InvalidInput(
                f"{cwd or Path.cwd()} is not inside a git repository, so there is no project here",
                hint="run inside a git repository (`git init`), or pass --project-root DIR / set ANIMUS_PROJECT_ROOT",
            )
        root = found
    return Project(root=root, state_dir=state_dir_for(root))
