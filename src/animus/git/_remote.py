"""Remotes: their identity, fetching one branch, pushing a task branch (skipped when the remote has it)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from animus.domain.errors import GitError, InvalidInput
from animus.git._command import _NETWORK_TIMEOUT, _git_failure, _out, _run_git
from animus.git._lock import _locked
from animus.git._repo import Repo
from animus.git._worktree import BRANCH_PREFIX

#: Hosts whose repository paths are case-insensitive: ``Org/Repo`` and ``org/repo`` name one repository there.
#: Elsewhere (a self-hosted server, a plain ssh host) the path is kept as written: it may be a file system path.
_CASE_INSENSITIVE_HOSTS = frozenset({"github.com", "gitlab.com", "bitbucket.org"})
_DEFAULT_PORTS = {"ssh": 22, "git+ssh": 22, "ssh+git": 22, "git": 9418, "http": 80, "https": 443, "ftp": 21, "ftps": 990}
_MISSING_REMOTE_REF = "couldn't find remote ref"


@dataclass(frozen=True)
class PushResult:
    """``sha`` now on the remote branch; ``pushed`` is False when the remote already had it."""

    remote: str
    branch: str
    sha: str
    pushed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"remote": self.remote, "branch": self.branch, "sha": self.sha, "pushed": self.pushed}


def remote_branch_sha(repo_root: Path, branch: str, remote: str = "origin") -> str | None:
    """The commit ``branch`` points at on ``remote`` (asked over the network), or None when absent."""
    ref = f"refs/heads/{branch}"
    result = _run_git(["ls-remote", "--heads", remote, ref], Path(repo_root), check=False, timeout=_NETWORK_TIMEOUT)
    if result.returncode != 0:
        raise _git_failure(result, Path(repo_root), what=f"asking {remote!r} for {branch!r}")
    for line in result.stdout.splitlines():
        sha, _, name = line.partition("\t")
        if name.strip() == ref:
            return sha.strip()
    return None


def push_branch(repo_root: Path, branch: str, remote: str = "origin", *, force: bool = False) -> PushResult:
    """Push the local ``branch`` to the same name on ``remote`` unless the remote already has that commit.

    Without ``force`` a remote branch that diverged (for example after a rebase landing) is an error;
    with it the push replaces exactly the commit seen a moment ago (``--force-with-lease``), never more.
    """
    repo = Repo(Path(repo_root))
    local = repo.head_sha(f"refs/heads/{branch}")
    seen = remote_branch_sha(repo.root, branch, remote)
    if seen == local:
        return PushResult(remote, branch, local, pushed=False)
    ref = f"refs/heads/{branch}"
    args = ["push", "--porcelain", "--no-verify", remote, f"{ref}:{ref}"]
    if force:
        args.insert(1, f"--force-with-lease={ref}:{seen or ''}")
    result = _run_git(args, repo.root, check=False, timeout=_NETWORK_TIMEOUT)
    if result.returncode != 0:
        error = _git_failure(result, repo.root, what=f"push of {branch!r} to {remote!r}")
        if "rejected" in result.stdout + result.stderr:
            raise GitError(
                error.message,
                details=error.details,
                hint=f"{remote}/{branch} has commits the local branch lacks; pull them in, or push with force",
            )
        raise error
    return PushResult(remote, branch, local, pushed=True)


def remote_url(repo_root: Path, remote: str = "origin") -> str | None:
    """The URL ``remote`` fetches from (``git remote get-url``, ``insteadOf`` applied), None when no such remote.

    It may hold credentials (``https://user:token@host/...``): pass it through ``normalize_remote_url``
    before showing, storing or comparing it.
    """
    result = _run_git(["remote", "get-url", "--", remote], Path(repo_root), check=False)
    if result.returncode == 0:
        return result.stdout.strip() or None
    if result.returncode == 2 or "No such remote" in result.stderr:
        return None
    raise _git_failure(result, Path(repo_root), what=f"reading the URL of remote {remote!r}")


def normalize_remote_url(url: str) -> str:
    """One spelling per repository, so hosts can tell whether their clones share one ``origin``.

    ``git@github.com:Org/Repo.git``, ``ssh://git@github.com:22/Org/Repo`` and
    ``https://user:tok@GitHub.com/Org/Repo.git/`` all give ``github.com/org/repo``: the scheme, any
    credentials, a default port, a trailing ``.git`` and slashes are dropped, the host is lowercased,
    and the path too, but only on hosts known to ignore its case (github.com, gitlab.com,
    bitbucket.org); a non-default port stays (``host:2222/path``). A local path or ``file://`` URL gives
    ``file:`` + the absolute path with symlinks resolved (relative paths against the current
    directory) and a trailing ``/.git`` or ``.git`` dropped, so every clone of one bare repository on a
    machine gives the same answer however it spelled the path. Credentials never appear in the result.
    """
    text = url.strip()
    if not text:
        raise InvalidInput("a remote URL must not be empty")
    if "://" in text:
        return _normalize_url(text)
    scp = _scp_like(text)
    if scp is not None:
        host, path = scp
        return _join(host.lower(), path)
    return _normalize_local(text)


def _normalize_url(text: str) -> str:
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidInput(f"file URL {text!r} names a host; only local file URLs are understood")
        return _normalize_local(unquote(parts.path) or "/")
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput("remote URL has an invalid port", details={"url": _without_credentials(text)}) from None
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidInput("remote URL names no host", details={"url": _without_credentials(text)})
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address keeps its brackets, so a port after it stays readable
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return _join(host, parts.path)


def _without_credentials(text: str) -> str:
    """``text`` with any ``user:password@`` of a URL in it removed (for error messages)."""
    return re.sub(r"(?<=://)[^/@\s]*@", "", text)


def _scp_like(text: str) -> tuple[str, str] | None:
    """``(host, path)`` of git's scp-like syntax ``[user@]host:path``, or None when ``text`` is a local path.

    As for git: a colon before any slash makes it scp-like; a single letter before it is a Windows drive.
    """
    first_slash = text.find("/")
    head = text if first_slash < 0 else text[:first_slash]
    if "@" in head:  # user (and anything after a colon in it) is dropped: never a credential in the result
        text = text[head.rindex("@") + 1 :]
    colon = text.find(":")
    slash = text.find("/")
    if colon <= 0 or (0 <= slash < colon):
        return None
    host = text[:colon]
    if len(host) == 1 and host.isalpha():
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, text[colon + 1 :]


def _join(host: str, path: str) -> str:
    path = _strip_git_suffix(path.strip("/"))
    bare_host = host.rsplit(":", 1)[0] if not host.startswith("[") else host
    if bare_host in _CASE_INSENSITIVE_HOSTS:
        path = path.lower()
    return f"{host}/{path}" if path else host


def _normalize_local(path: str) -> str:
    real = os.path.realpath(os.path.expanduser(path))
    trimmed = _strip_git_suffix(real.rstrip("/")) or "/"
    return "file:" + trimmed


def _strip_git_suffix(path: str) -> str:
    path = path.rstrip("/")
    if path.endswith("/.git"):
        path = path[: -len("/.git")]
    elif path.endswith(".git"):
        path = path[: -len(".git")]
    return path.rstrip("/")


@_locked
def fetch_branch(repo_root: Path, branch: str, remote: str = "origin") -> str | None:
    """Fetch ``refs/heads/<branch>`` from ``remote`` into ``refs/remotes/<remote>/<branch>``; its sha.

    None when the remote has no such branch: that is an answer, not an error (a task nobody pushed
    yet). The tracking ref is then deleted if it was left from an earlier fetch, so it never claims a
    branch the remote no longer has. The fetch is forced (``+``): a remote task branch may have been
    rewritten by a rebase landing, and the tracking ref must follow it. Under the repository lock:
    a fetch checks every worktree's HEAD, and one half-made by a concurrent ``worktree add`` (or
    half-removed) fails it with "bad object worktrees/…/HEAD".
    """
    root = Path(repo_root)
    tracking = f"refs/remotes/{remote}/{branch}"
    refspec = f"+refs/heads/{branch}:{tracking}"
    args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", remote, refspec]
    result = _run_git(args, root, check=False, timeout=_NETWORK_TIMEOUT)
    if result.returncode != 0:
        if _MISSING_REMOTE_REF in result.stderr:
            _run_git(["update-ref", "-d", tracking], root, check=False)
            return None
        raise _git_failure(result, root, what=f"fetch of {branch!r} from {remote!r}")
    return _out(["rev-parse", "--verify", "--end-of-options", f"{tracking}^{{commit}}"], root)


@_locked
def push_task_branch(repo_root: Path, branch: str, remote: str = "origin") -> PushResult:
    """Publish the local task branch on ``remote`` so another host can take the task over.

    The local branch is the truth for a task running here, so a remote branch it diverged from (a
    rebase rewrote it) is replaced, but only the exact commit seen a moment ago (force-with-lease):
    a push another host made in between is never overwritten. Nothing is pushed when the remote
    already has the commit. Only ``animus/`` task branches are pushed this way; a forced push of any
    other branch (``main``) is refused.
    """
    if not branch.startswith(BRANCH_PREFIX) or branch == BRANCH_PREFIX:
        raise InvalidInput(
            f"{branch!r} is not a task branch (they start with {BRANCH_PREFIX!r})",
            hint="use push_branch to push other branches",
        )
    return push_branch(repo_root, branch, remote, force=True)
