"""What every task source speaks: the items it lists, the status it is told, and the adapter interface.

A source adapter (GitHub issues, Linear, Markdown files, a plugin's subject backend) knows its
tracker's wire format and nothing about animus's database: the sync (``_sync.py``) turns its items
into tasks exactly once, and the status delivery (``_status.py``) hands it ``StatusUpdate``s from
the durable outbox. Every ``report`` must check the world before it writes (the comment with this
run's marker exists? the label is there? the state is already that?), because a crash between the
write and its record makes the outbox hand the same update over again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from animus.domain.errors import Unavailable

if TYPE_CHECKING:
    from animus.plugins import PluginHost

#: what a run's life looks like from the tracker: the outbox tells a source each of these once per run
StatusKind = Literal["running", "waiting_gate", "waiting_pr", "failed", "blocked", "landed", "done", "cancelled"]
STATUS_KINDS: tuple[StatusKind, ...] = ("running", "waiting_gate", "waiting_pr", "failed", "blocked", "landed", "done",
                                        "cancelled")


class SourceRateLimited(Unavailable):
    """The tracker said to slow down; ``reset_at`` (Unix seconds) is when it may be asked again."""

    code = "source_rate_limited"

    def __init__(self, message: str, *, reset_at: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reset_at = reset_at


class SourceAuthError(Unavailable):
    """The tracker refused the credentials (a 401, or a token without access): nothing is imported."""

    code = "source_auth"


@dataclass(frozen=True)
class ExternalItem:
    """One upstream item (an issue, a file) as a source lists it.

    ``external_id`` is stable for the item's life (GitHub: the issue number; Linear: the issue id;
    Markdown: the file's path relative to the repository); ``key`` is what people call it (``#12``,
    ``ENG-7``, ``tasks/login.md``). ``open`` False means closed or deleted upstream.
    """

    external_id: str
    title: str
    description: str = ""
    url: str = ""
    key: str = ""
    labels: tuple[str, ...] = ()
    #: a task priority (critical | high | medium | low) already mapped by the source's priority_map; None: medium
    priority: str | None = None
    #: a task type (feature | bugfix | …); None: feature
    type: str | None = None
    #: external ids of items this one waits for (Markdown ``depends_on``)
    depends_on: tuple[str, ...] = ()
    open: bool = True
    #: upstream's last-change time (ISO 8601), used for cursors
    updated_at: str = ""
    #: anything else the adapter wants back in ``report`` (kept with the link, plain JSON)
    data: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """A digest of what an upstream edit may change on a task that has not started."""
        import hashlib
        import json

        shown = [self.title, self.description, sorted(self.labels), self.priority, self.type, list(self.depends_on)]
        return hashlib.sha256(json.dumps(shown, ensure_ascii=False).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class FetchResult:
    """One listing: the items, the cursor to keep, and whether the listing is every live item.

    ``complete`` True means an item missing from ``items`` is gone upstream (Markdown: the file was
    removed); False (an incremental listing since the cursor) says nothing about absent items.
    ``problems`` are items that could not be read (``file:line:col: message``); the rest still import.
    """

    items: list[ExternalItem]
    cursor: str | None = None
    complete: bool = False
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StatusUpdate:
    """What a source is told about one run of one of its items."""

    external_id: str
    task_id: str
    run_id: str
    kind: StatusKind
    #: the status text (Markdown) a comment shows; the adapter adds its own marker
    summary: str
    pr_url: str | None = None
    #: the target branch the run landed on (Markdown writes ``status:`` there)
    target_branch: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceContext:
    """Where a source runs: the project checkout (Markdown reads and commits there) and animus's state dir.

    ``plugins`` is the host plugin sources call through (one process per plugin for its owner);
    None: ``adapter_for`` gives none and a ``type: plugin`` source cannot be used (``with_plugins``).
    """

    project_root: Path
    state_dir: Path
    worktrees_dir: Path
    plugins: PluginHost | None = field(default=None, compare=False, repr=False)


class SourceAdapter(Protocol):
    """One configured source. Methods raise ``animus.domain.errors`` types (``Unavailable``, ``InvalidInput``,
    the GitHub client's errors, ``SourceRateLimited``) and never print or log a token."""

    def fetch(self, cursor: str | None) -> FetchResult:
        """The items changed since ``cursor`` (None: all live items), and the next cursor."""
        ...

    def get(self, external_id: str) -> ExternalItem | None:
        """One item as it is now; None when it was deleted."""
        ...

    def check(self) -> dict[str, Any]:
        """Verify credentials and filters without importing: ``{"identity": …, "matching": n, …}``; raises on failure."""
        ...

    def report(self, update: StatusUpdate) -> dict[str, Any]:
        """Tell the tracker, idempotently (check first, then write); returns what it did, e.g. ``{"comment": "edited"}``."""
        ...


def status_marker(run_id: str) -> str:
    """The hidden line that makes a run's status comment findable again (edit it, never post a second)."""
    return f"<!-- animus:run:{run_id} -->"
