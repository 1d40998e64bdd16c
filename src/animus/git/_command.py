"""The one way animus runs git: argv only, a scrubbed environment, errors a user can act on."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from animus.domain.errors import GitError, SpawnError, Unavailable
from animus.procs import ProgramResult, run_program

#: Local git operations; network operations pass their own, longer timeout.
_DEFAULT_TIMEOUT = 120.0
_NETWORK_TIMEOUT = 300.0

_DEFAULT_NAME = "animus"
_DEFAULT_EMAIL = "animus@localhost"

# Inherited from a git hook or a user's shell, these would point every command at another repository.
_REPO_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CEILING_DIRECTORIES",
    "GIT_LITERAL_PATHSPECS",
    "GIT_GLOB_PATHSPECS",
    "GIT_NOGLOB_PATHSPECS",
    "GIT_ICASE_PATHSPECS",
)


def _git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for git: no inherited repository pointers, English messages, never a prompt."""
    env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
    env.update(
        {
            "LC_ALL": "C",
            "LANGUAGE": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_EDITOR": "true",
            "GIT_SEQUENCE_EDITOR": "true",
            "GIT_MERGE_AUTOEDIT": "no",
            # status must not take index.lock behind the user's back while they run git themselves
            "GIT_OPTIONAL_LOCKS": "0",
        }
    )
    if extra:
        env.update(extra)
    return env


def _run_git(
    args: Sequence[str],
    cwd: Path,
    *,
    check: bool = True,
    config: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
    timeout: float = _DEFAULT_TIMEOUT,
) -> ProgramResult:
    """Run ``git [-c k=v ...] <args>`` in ``cwd``; with ``check`` a non-zero exit raises GitError."""
    argv = ["git"]
    for item in config:
        argv += ["-c", item]
    argv += list(args)
    try:
        result = run_program(argv, cwd=cwd, env=_git_env(env), timeout=timeout, input_text=input_text)
    except SpawnError as exc:
        if not Path(cwd).is_dir():
            raise GitError(f"cannot run git in {cwd}: the directory does not exist") from exc
        raise Unavailable("git is not installed or not on PATH", hint="install git 2.39 or newer") from exc
    if result.timed_out:
        raise GitError(f"git {args[0]} timed out after {timeout:.0f}s in {cwd}", details={"argv": argv})
    if check and result.returncode != 0:
        raise _git_failure(result, cwd)
    return result


def _git_failure(result: ProgramResult, cwd: Path, what: str | None = None) -> GitError:
    """A GitError carrying git's own words (the last lines of stderr) and, where known, a remedy."""
    sub = next((a for a in result.argv[1:] if not a.startswith("-") and "=" not in a), "?")
    text = (result.stderr.strip() or result.stdout.strip()).splitlines()
    said = " | ".join(line.strip() for line in text[-4:] if line.strip()) or f"exit code {result.returncode}"
    hint = None
    if ".lock" in result.stderr and "File exists" in result.stderr:
        hint = "another git process holds a lock; if none is running, delete the .lock file git names and retry"
    return GitError(
        f"{what or 'git ' + sub} failed in {cwd}: {said}",
        details={"argv": list(result.argv), "returncode": result.returncode, "stderr": result.stderr[-4000:]},
        hint=hint,
    )


def _out(args: Sequence[str], cwd: Path, *, input_text: str | None = None, config: Sequence[str] = ()) -> str:
    """stdout of a git command that must succeed, without the trailing newline."""
    return _run_git(args, cwd, input_text=input_text, config=config).stdout.rstrip("\n")


def _ok(args: Sequence[str], cwd: Path) -> bool:
    """Whether a git query command exits 0 (for yes/no questions such as ``--is-ancestor``)."""
    return _run_git(args, cwd, check=False).returncode == 0


def _split_z(text: str) -> list[str]:
    """Split ``-z`` output into its non-empty fields."""
    return [part for part in text.split("\0") if part]


def _identity_config(cwd: Path) -> list[str]:
    """``-c user.name=… -c user.email=…`` for whichever of the two the repository does not configure.

    The user's own configuration is never written; the fallback lives only on animus's command line.
    """
    result: list[str] = []
    for key, env_keys, default in (
        ("user.name", ("GIT_COMMITTER_NAME", "GIT_AUTHOR_NAME"), _DEFAULT_NAME),
        ("user.email", ("GIT_COMMITTER_EMAIL", "GIT_AUTHOR_EMAIL", "EMAIL"), _DEFAULT_EMAIL),
    ):
        if all(os.environ.get(k) for k in env_keys[:2]):
            continue
        if _run_git(["config", "--get", key], cwd, check=False).stdout.strip():
            continue
        result.append(f"{key}={default}")
    return result


def _with_trailer(message: str, key: str, value: str, cwd: Path) -> str:
    """``message`` with the trailer ``key: value`` added to its trailer block (git's own parser)."""
    if not message.strip():
        raise GitError("a commit message must not be empty")
    if not value or any(c in value for c in "\r\n"):
        raise GitError(f"invalid {key} trailer value {value!r}: it must be one non-empty line")
    return (
        _out(
            ["interpret-trailers", "--trailer", f"{key}: {value}"],
            cwd,
            input_text=message.rstrip("\n") + "\n",
        )
        + "\n"
    )


def _find_trailer_commit(cwd: Path, key: str, value: str, revs: Sequence[str]) -> str | None:
    """The newest commit in ``revs`` whose trailer ``key`` equals ``value`` exactly, or None."""
    result = _run_git(
        [
            "log",
            "--fixed-strings",
            f"--grep={key}: {value}",
            f"--format=%H%x00%(trailers:key={key},valueonly,separator=%x01)%x1e",
            *revs,
            "--",
        ],
        cwd,
    )
    for record in result.stdout.split("\x1e"):
        sha, _, values = record.strip("\n").partition("\0")
        if sha and value in (v.strip() for v in values.split("\x01")):
            return sha.strip()
    return None
