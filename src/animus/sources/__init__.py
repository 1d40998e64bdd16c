"""Task sources: GitHub issues, Linear and Markdown files become tasks, and hear back how their runs went."""

from animus.sources._linear import LinearAdapter
from animus.sources._markdown import MarkdownAdapter
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
    "STATUS_KINDS",
    "ExternalItem",
    "FetchResult",
    "LinearAdapter",
    "MarkdownAdapter",
    "SourceAdapter",
    "SourceAuthError",
    "SourceContext",
    "SourceRateLimited",
    "StatusKind",
    "StatusUpdate",
    "status_marker",
]
