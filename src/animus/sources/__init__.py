"""Task sources: GitHub issues, Linear, Markdown files and plugin subject backends become tasks, and hear back how their runs went."""

from animus.sources._github import GitHubIssuesAdapter
from animus.sources._linear import LinearAdapter
from animus.sources._markdown import MarkdownAdapter
from animus.sources._plugin import SUBJECT_BACKEND_KIND, PluginSubjectAdapter
from animus.sources._registry import FULL_SYNC_EVERY, SourcePoller, adapter_for, check_source, sync_now, with_plugins
from animus.sources._status import StatusReport, deliver_status, run_kind, scan_status_events, status_summary
from animus.sources._sync import SyncReport, backoff_secs, sync_source
from animus.sources._types import (
    STATUS_KINDS,
    ExternalItem,
    FetchResult,
    SourceAdapter,
    SourceAuthError,
    SourceContext,
    SourceRateLimited,
    StatusKind,
    StatusUpdate,
    status_marker,
)

__all__ = [
    "FULL_SYNC_EVERY",
    "STATUS_KINDS",
    "SUBJECT_BACKEND_KIND",
    "ExternalItem",
    "FetchResult",
    "GitHubIssuesAdapter",
    "LinearAdapter",
    "MarkdownAdapter",
    "PluginSubjectAdapter",
    "SourceAdapter",
    "SourceAuthError",
    "SourceContext",
    "SourcePoller",
    "SourceRateLimited",
    "StatusKind",
    "StatusReport",
    "StatusUpdate",
    "SyncReport",
    "adapter_for",
    "backoff_secs",
    "check_source",
    "deliver_status",
    "run_kind",
    "scan_status_events",
    "status_marker",
    "status_summary",
    "sync_now",
    "sync_source",
    "with_plugins",
]
