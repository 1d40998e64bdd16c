"""Git for animus: task worktrees, tagged commits, landing, push, and GitHub (issues, pull requests), all idempotent."""

from animus.git._commit import RUN_TRAILER, CommitResult, commit_all, find_commit_by_trailer
from animus.git._diff import DiffStat, changed_files, changed_since, diff_stat, worktree_tree
from animus.git._github import (
    DEFAULT_API_URL,
    GitHubAuthError,
    GitHubClient,
    GitHubError,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubUnavailable,
    github_for_project,
    github_token,
    repo_from_remote,
)
from animus.git._land import LAND_TRAILER, LandResult, LandStatus, LandStrategy, land
from animus.git._pull_request import PullRequest, ensure_pull_request, find_pull_request
from animus.git._remote import (
    PushResult,
    fetch_branch,
    normalize_remote_url,
    push_branch,
    push_task_branch,
    remote_branch_sha,
    remote_url,
)
from animus.git._remote_land import land_remote
from animus.git._repo import Repo
from animus.git._restore import restore_worktree
from animus.git._worktree import (
    BRANCH_PREFIX,
    Worktree,
    WorktreeEntry,
    branch_for_task,
    list_worktrees,
    prepare_worktree,
    prune_worktrees,
    remove_worktree,
)

__all__ = [
    "BRANCH_PREFIX",
    "DEFAULT_API_URL",
    "LAND_TRAILER",
    "RUN_TRAILER",
    "CommitResult",
    "DiffStat",
    "GitHubAuthError",
    "GitHubClient",
    "GitHubError",
    "GitHubNotFound",
    "GitHubRateLimited",
    "GitHubUnavailable",
    "LandResult",
    "LandStatus",
    "LandStrategy",
    "PullRequest",
    "PushResult",
    "Repo",
    "Worktree",
    "WorktreeEntry",
    "branch_for_task",
    "changed_files",
    "changed_since",
    "commit_all",
    "diff_stat",
    "ensure_pull_request",
    "fetch_branch",
    "find_commit_by_trailer",
    "find_pull_request",
    "github_for_project",
    "github_token",
    "land",
    "land_remote",
    "list_worktrees",
    "normalize_remote_url",
    "prepare_worktree",
    "prune_worktrees",
    "push_branch",
    "push_task_branch",
    "remote_branch_sha",
    "remote_url",
    "remove_worktree",
    "repo_from_remote",
    "restore_worktree",
    "worktree_tree",
]
