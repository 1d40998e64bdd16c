"""The environment a child of animus gets: the user's, without animus's own variables and virtualenv, and secret redaction."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase

#: what every process needs to start at all; kept even with ``env_inherit: none``
_BASIC_NAMES = frozenset({"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TERM", "TMPDIR", "TZ"})
_BASIC_PREFIXES = ("LC_",)
#: animus's own settings (state dir, project root, database URL) are not the agent's business
_OWN_PREFIXES = ("ANIMUS_",)
#: a nested Claude Code refuses to start when it sees this
_DROPPED_NAMES = frozenset({"CLAUDECODE"})
# Database URLs usually carry a password (postgresql://user:pw@host/db), so they count as secrets too.
_SECRET_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET", "_PASSWORD", "_DATABASE_URL", "_DSN")
#: any value of the form scheme://user:password@host (a proxy, a database) is a secret whatever its name
_URL_WITH_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@")
#: shorter values are too likely to occur by chance in ordinary text to be masked
_MIN_SECRET_LEN = 6
_MASK = "***"


def _own_venv_bins(base: Mapping[str, str]) -> set[str]:
    """The bin directories of animus's own virtualenv: the running one, and VIRTUAL_ENV's."""
    bins = set()
    if sys.prefix != sys.base_prefix:
        bins.add(os.path.join(sys.prefix, "bin"))
    if base.get("VIRTUAL_ENV"):
        bins.add(os.path.join(base["VIRTUAL_ENV"], "bin"))
    return {os.path.normpath(b) for b in bins}


def without_own_venv(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` without animus's virtualenv: its bin dir off PATH and no VIRTUAL_ENV.

    Installing animus must not change which ``python`` (or ``pytest``) the user's project sees, so
    a command phase or an agent running the project's tests finds the project's own tools.
    """
    env = dict(base)
    bins = _own_venv_bins(base)
    env.pop("VIRTUAL_ENV", None)
    if "PATH" in env and bins:
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if os.path.normpath(p or ".") not in bins)
    return env


def _inherits(name: str, inherit: str | Sequence[str]) -> bool:
    """True when ``name`` of the user's environment passes the agent's ``env_inherit`` setting."""
    if name.startswith(_OWN_PREFIXES) or name in _DROPPED_NAMES:
        return False
    if inherit == "all":
        return True
    if name in _BASIC_NAMES or name.startswith(_BASIC_PREFIXES):
        return True
    if isinstance(inherit, str):  # "none"
        return False
    return any(fnmatchcase(name, pattern) for pattern in inherit)


def build_env(base: Mapping[str, str], extra: Mapping[str, str], *, inherit: str | Sequence[str] = "all") -> dict[str, str]:
    """The full environment for an agent: ``base`` as ``inherit`` lets it through, then ``extra`` on top.

    ``inherit`` is an agent's ``env_inherit``: ``"all"`` (the user's environment), ``"none"`` (only
    PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_*, TERM, TMPDIR, TZ) or those plus the names and
    globs listed. Never inherited: ``ANIMUS_*`` and ``CLAUDECODE``; animus's virtualenv is off PATH.
    """
    env = {name: value for name, value in without_own_venv(base).items() if _inherits(name, inherit)}
    env.update(extra)
    for name in _DROPPED_NAMES:
        env.pop(name, None)
    return env


def is_secret_name(name: str) -> bool:
    """True for names that hold secrets: ``*_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD``, ``*_DATABASE_URL``, ``*_DSN``."""
    return name.upper().endswith(_SECRET_SUFFIXES)


def is_secret(name: str, value: str) -> bool:
    """True when ``name=value`` holds a secret: a secret name, or a URL carrying a password."""
    return is_secret_name(name) or _URL_WITH_PASSWORD.match(value) is not None


def secret_env(*envs: Mapping[str, str], named: Iterable[str] = ()) -> dict[str, str]:
    """Every secret of ``envs`` (and the values of the ``named`` variables, secret names or not) as one map for `redact`.

    The sources overlap (the process env, each agent profile's ``env:``, ``api_key_env`` targets) and
    may give one name two values, so the keys are made up (``<n>_SECRET``): every value is masked.
    """
    forced = set(named)
    values = {value for env in envs for name, value in env.items() if value and (name in forced or is_secret(name, value))}
    return {f"{n}_SECRET": value for n, value in enumerate(sorted(values))}


def _secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of secret variables long enough to mask, longest first (so no prefix survives a shorter mask)."""
    values = {value for name, value in env.items() if len(value) >= _MIN_SECRET_LEN and is_secret(name, value)}
    return sorted(values, key=len, reverse=True)


def redact(text: str, env: Mapping[str, str]) -> str:
    """``text`` with the value of every secret variable in ``env`` replaced by ``***``."""
    for value in _secret_values(env):
        text = text.replace(value, _MASK)
    return text
