"""The fleet as the fronts show it, and the project's identity across clones (docs/scaling.md).

A project is one database on PostgreSQL: every clone of one repository that points there is the
same project. Its id is ``project.id`` from the configuration when set, else the normalized URL
of the landing remote (``origin``), else — one clone without a remote — ``path:<root>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from animus.config import WorkflowConfig
    from animus.store import Store


@dataclass(frozen=True)
class ProjectIdentity:
    """The project's id and where it came from: ``config`` (project.id), ``remote`` or ``path``."""

    id: str
    source: str
    remote_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "remote_url": self.remote_url}


def project_identity(root: Path, config: WorkflowConfig) -> ProjectIdentity:
    from animus import git

    url = git.remote_url(root, config.landing.remote)
    if config.project.id:
        return ProjectIdentity(config.project.id, "config", url and git.normalize_remote_url(url))
    if url:
        normalized = git.normalize_remote_url(url)
        return ProjectIdentity(normalized, "remote", normalized)
    return ProjectIdentity(f"path:{root.resolve()}", "path", None)


def fleet_members(store: Store, lease_secs: float) -> list[dict[str, Any]]:
    """Every member with its state as a peer sees it: ``alive``, ``dead`` (also when its lease ran out but
    no peer declared it yet: ``declared`` False) or ``stopped``; its last heartbeat and the runs it owns."""
    now = store.db_now()
    owned = store.runs_by_owner()
    out = []
    for member in store.members():
        age = max(0.0, now - member.heartbeat)
        state = member.state
        declared = state != "alive"
        if state == "alive" and age > lease_secs:
            state, declared = "dead", False
        out.append({**member.to_dict(), "state": state, "declared": declared, "heartbeat_age_secs": round(age, 1),
                    "runs": owned.get(member.executor_id, [])})
    return out
