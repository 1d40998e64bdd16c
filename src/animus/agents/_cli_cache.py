"""The agent CLIs animus installs: their pinned npm/PyPI packages, the cache off PATH, and finding a CLI's binary.

The pins live in ``pinned-clis.txt`` beside this module, the one copy that ``animus agents install``,
``scripts/install-agent-clis`` and the test suite all read. A cache entry
``<cache>/<tool>-<version>/`` counts only once its ``.animus-installed`` stamp exists (written after
npm or pip succeeded), so an interrupted install is never mistaken for a working one. An npm package
installs into ``node_modules/`` there; a ``pypi:<name>`` package (aider) into its own venv, ``venv/``.

"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from animus.domain.errors import InvalidInput, Unavailable

ENV_CLI_CACHE = "ANIMUS_CLI_CACHE"
_STAMP = ".animus-installed"
_PINS_FILE = Path(__file__).with_name("pinned-clis.txt")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]*$")
_NODE_MAJOR = 20
_NPM_TIMEOUT_SECS = 900.0
_PYPI = "pypi:"


@dataclass(frozen=True)
class PinnedCli:
    """One installable agent CLI: the animus tool name, its package (npm, or ``pypi:<name>``), the pinned version, its binary."""

    tool: str
    package: str
    version: str
    binary: str

    @property
    def registry(self) -> Literal["npm", "pypi"]:
        return "pypi" if self.package.startswith(_PYPI) else "npm"

    @property
    def package_name(self) -> str:
        """The name the registry knows (``pypi:aider-chat`` → ``aider-chat``)."""
        return self.package.removeprefix(_PYPI)

    def binary_in(self, directory: Path) -> Path:
        """Where the binary lies in a cache directory of this CLI."""
        if self.registry == "pypi":
            return directory / "venv" / "bin" / self.binary
        return directory / "node_modules" / ".bin" / self.binary


@dataclass(frozen=True)
class CliLocation:
    """Where a tool's CLI was found: the path (or the bare name found on PATH) and how it was found."""

    path: str
    source: Literal["binary", "PATH", "cache"]


@dataclass(frozen=True)
class InstalledCli:
    """The result of ``install_cli``: the binary, its cache directory, and whether npm ran just now."""

    tool: str
    package: str
    version: str
    binary: str
    directory: str
    fresh: bool


@cache
def pinned_clis() -> dict[str, PinnedCli]:
    """The pins, by tool name, in file order."""
    pins: dict[str, PinnedCli] = {}
    for line in _PINS_FILE.read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            tool, package, version, binary = fields
            pins[tool] = PinnedCli(tool, package, version, binary)
    return pins


def cli_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$ANIMUS_CLI_CACHE``, else ``~/.cache/animus/agent-clis`` (the same rule as the install script)."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV_CLI_CACHE):
        return Path(environ[ENV_CLI_CACHE]).expanduser()
    home = environ.get("HOME") or str(Path.home())
    return Path(home) / ".cache" / "animus" / "agent-clis"


def cached_cli(tool: str, version: str | None = None, *, environ: Mapping[str, str] | None = None) -> Path | None:
    """The cached binary of ``tool`` at ``version``; with no version the pinned one, else the newest installed."""
    pin = pinned_clis().get(tool)
    if pin is None:
        return None
    root = cli_cache_dir(environ)
    if version is not None:
        return _installed_binary(root / f"{tool}-{version}", pin)
    found = _installed_binary(root / f"{tool}-{pin.version}", pin)
    if found is not None:
        return found
    others = sorted(root.glob(f"{tool}-*"), key=lambda d: _version_key(d.name.removeprefix(f"{tool}-")), reverse=True)
    for directory in others:
        found = _installed_binary(directory, pin)
        if found is not None:
            return found
    return None


def find_cli(
    tool: str,
    name: str,
    *,
    configured: str | None = None,
    path: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> CliLocation | None:
    """Where ``tool``'s CLI is: the agent's ``binary:`` if set, else ``name`` on ``path``, else the install cache.

    A configured binary is never second-guessed: when it is missing the answer is None, not a CLI
    found somewhere else.
    """
    if configured:
        if os.sep in configured:
            target = Path(configured).expanduser()
            return CliLocation(str(target), "binary") if _executable(target) else None
        found = shutil.which(configured, path=path)
        return CliLocation(found, "binary") if found else None
    if shutil.which(name, path=path):
        return CliLocation(name, "PATH")
    cached = cached_cli(tool, environ=environ)
    return CliLocation(str(cached), "cache") if cached is not None else None


def install_hint(tool: str) -> str:
    """The command that puts ``tool``'s CLI on this machine."""
    if tool in pinned_clis():
        pin = pinned_clis()[tool]
        return f"run `animus agents install {tool}` (npm package {pin.package}@{pin.version})"
    return _OTHER_HINTS.get(tool, f"install the {tool} CLI and put it on PATH")


_OTHER_HINTS = {
    "opencode": "install opencode (`npm install -g opencode-ai`) or set `binary:` on the agent",
    "aider": "install aider (`pipx install aider-chat`) or set `binary:` on the agent",
    "cursor": "install the Cursor CLI (`curl https://cursor.com/install -fsS | bash`) or set `binary:` on the agent",
    "gh": "install the GitHub CLI (https://cli.github.com) and run `gh auth login`",
}


def install_cli(
    tool: str,
    version: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> InstalledCli:
    """Install ``tool``'s package (the pinned version unless ``version``) into the cache; idempotent."""

    pin = pinned_clis().get(tool)
    if pin is None:
        raise InvalidInput(f"animus cannot install {tool!r}: choose one of {', '.join(pinned_clis())}")
    version = version or pin.version
    if not _VERSION.match(version):
        raise InvalidInput(f"invalid version {version!r}: expected e.g. {pin.version}")
    environ = os.environ if environ is None else environ
    directory = cli_cache_dir(environ) / f"{tool}-{version}"
    result = InstalledCli(tool, pin.package, version, str(pin.binary_in(directory)), str(directory), fresh=False)
    if _installed_binary(directory, pin) is not None:
        progress(f"{pin.package_name}@{version} is already installed in {directory}")
        return result
    if pin.registry == "pypi":
        _pip_install(pin, version, directory, environ, progress)
    else:
        _npm_install(pin, version, directory, environ, progress)
    binary = pin.binary_in(directory)
    if not _executable(binary):
        raise Unavailable(f"{pin.package_name}@{version} installed, but {binary} is missing")
    (directory / _STAMP).write_text(f"{pin.package}@{version}\n", encoding="utf-8")
    progress(f"installed {tool} {version}: {binary}")
    return InstalledCli(tool, pin.package, version, str(binary), str(directory), fresh=True)


def _npm_install(
    pin: PinnedCli, version: str, directory: Path, environ: Mapping[str, str], progress: Callable[[str], None]
) -> None:
    from animus import procs

    npm = shutil.which("npm", path=environ.get("PATH"))
    node = shutil.which("node", path=environ.get("PATH"))
    if npm is None or node is None:
        missing = "npm" if npm is None else "node"
        raise Unavailable(f"{missing} is not on PATH", hint=f"install Node.js {_NODE_MAJOR}+ (it ships npm) and retry")
    probe = procs.run_program([node, "-p", "process.versions.node"], env=environ, timeout=30)
    major = probe.stdout.strip().split(".")[0]
    if not probe.ok or not major.isdigit() or int(major) < _NODE_MAJOR:
        raise Unavailable(
            f"Node.js {probe.stdout.strip() or '(unknown version)'} is too old: the agent CLIs need Node.js >= {_NODE_MAJOR}",
            hint=f"install Node.js {_NODE_MAJOR}+ and retry",
        )
    progress(f"installing {pin.package}@{version} into {directory} (npm install; this can take a minute)")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    # Optional dependencies carry the native binaries (claude, codex); never omit them.
    argv = [
        npm,
        "install",
        "--prefix",
        str(directory),
        "--no-audit",
        "--no-fund",
        "--include=optional",
        "--loglevel=error",
        f"{pin.package}@{version}",
    ]
    run = procs.run_program(argv, env=environ, timeout=_NPM_TIMEOUT_SECS)
    if not run.ok:
        tail = (run.stderr or run.stdout).strip().splitlines()[-5:]
        why = "timed out" if run.timed_out else f"exited {run.returncode}"
        raise Unavailable(
            f"npm install {pin.package}@{version} {why}" + (": " + " | ".join(tail) if tail else ""),
            hint="check the network and the npm registry (npm config get registry); nothing was stamped, rerun to retry",
        )


def _pip_install(
    pin: PinnedCli, version: str, directory: Path, environ: Mapping[str, str], progress: Callable[[str], None]
) -> None:
    """A venv of its own (aider pins dozens of libraries), made by this Python; pip from the configured index."""
    from animus import procs

    progress(f"installing {pin.package_name}=={version} into a venv in {directory} (pip; this can take a minute)")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    venv = directory / "venv"
    python = _venv_python(environ)
    if python is None:
        raise Unavailable(
            f"{pin.package_name} needs Python 3.10 to 3.12 for its venv, and none was found",
            hint="install python3.12 (or 3.11, 3.10) and put it on PATH, then retry",
        )
    steps = [
        [python, "-m", "venv", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
         f"{pin.package_name}=={version}"],
    ]
    for argv in steps:
        run = procs.run_program(argv, env=environ, timeout=_NPM_TIMEOUT_SECS)
        if not run.ok:
            tail = (run.stderr or run.stdout).strip().splitlines()[-5:]
            why = "timed out" if run.timed_out else f"exited {run.returncode}"
            raise Unavailable(
                f"{' '.join(argv[1:4])} for {pin.package_name}=={version} {why}" + (": " + " | ".join(tail) if tail else ""),
                hint="check the network and the Python package index (pip config list); nothing was stamped, rerun to retry",
            )


def _venv_python(environ: Mapping[str, str]) -> str | None:
    """A Python aider's pins accept (3.10-3.12): $ANIMUS_PYTHON, else this one if it is, else one on PATH."""
    if environ.get("ANIMUS_PYTHON"):
        return environ["ANIMUS_PYTHON"]
    if (3, 10) <= sys.version_info[:2] <= (3, 12):
        return sys.executable
    for name in ("python3.12", "python3.11", "python3.10"):
        found = shutil.which(name, path=environ.get("PATH"))
        if found:
            return found
    return None


def _installed_binary(directory: Path, pin: PinnedCli) -> Path | None:
    target = pin.binary_in(directory)
    return target if (directory / _STAMP).is_file() and _executable(target) else None


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"[.+-]", version))
