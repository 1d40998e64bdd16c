"""The one error hierarchy of animus, each class mapped to one CLI exit code.

    AnimusError                     code: stable string, exit_code 1 (internal)
      ├── InvalidInput              exit 2  bad flags, bad values, bad enum choices
      │     └── ConfigError         exit 2  workflow YAML: every problem as file:line:col
      ├── NotFound                  exit 3  unknown task, run, workflow, project root
      ├── Conflict                  exit 4  invalid transition, file exists, lock held, cycle
      │     └── Fenced              exit 4  a step-store call from an epoch older than the run's newest
      ├── Unavailable               exit 5  database unreachable, daemon down, CLI missing
      ├── StoreError                exit 1  the database misbehaved in a way we did not expect
      ├── ProcError                 exit 1  a supervised process could not be started or read
      │     └── SpawnError          exit 1
      ├── GitError                  exit 1  git refused an operation
      │     └── GitHubError         exit 1  GitHub refused a request (animus.git: its auth, rate-limit,
      │                                     unavailable and not-found subclasses exit 5, 5, 5, 3)
      ├── AgentError                exit 1  an agent CLI failed in a way a phase cannot judge
      └── PluginError               exit 1  a plugin crashed, broke the protocol or answered an error
            └── PluginTimeout       exit 1  a plugin did not answer a call in time
    (a plugin that is unknown is NotFound; one refused by .animus/plugins.lock is Conflict)

Boundaries translate third-party errors into these with ``raise X(...) from exc``; nothing
else escapes to the CLI except as ``internal`` (exit 1).
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INVALID = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_UNAVAILABLE = 5


class AnimusError(Exception):
    """Base of every error animus raises on purpose."""

    code: str = "internal"
    exit_code: int = EXIT_INTERNAL

    def __init__(self, message: str, *, details: dict[str, Any] | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.hint = hint

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "message": self.message, "exit_code": self.exit_code}
        if self.details:
            data["details"] = self.details
        if self.hint:
            data["hint"] = self.hint
        return data


class InvalidInput(AnimusError):
    """Input that can never succeed as given: a bad flag value, an unknown enum choice."""

    code = "invalid_input"
    exit_code = EXIT_INVALID


class ConfigError(InvalidInput):
    """The workflow configuration is invalid; ``problems`` holds every ``file:line:col: message``."""

    code = "config_invalid"

    def __init__(self, problems: list[str], *, details: dict[str, Any] | None = None) -> None:
        self.problems = list(problems)
        head = f"{len(self.problems)} configuration error(s)" if len(self.problems) != 1 else "configuration error"
        super().__init__(head + ":\n" + "\n".join(self.problems), details={"problems": self.problems, **(details or {})})


class NotFound(AnimusError):
    """The thing named does not exist."""

    code = "not_found"
    exit_code = EXIT_NOT_FOUND


class Conflict(AnimusError):
    """The request clashes with the current state (transition, existing file, held lock, cycle)."""

    code = "conflict"
    exit_code = EXIT_CONFLICT


class Fenced(Conflict):
    """A step-store call from an epoch a newer ``begin_workflow_run`` replaced: that owner lost the run."""

    code = "fenced"


class Unavailable(AnimusError):
    """Something animus needs is not reachable right now (database, daemon, agent CLI)."""

    code = "unavailable"
    exit_code = EXIT_UNAVAILABLE


class StoreError(AnimusError):
    """The database failed in a way that is not the caller's fault."""

    code = "store_error"


class ProcError(AnimusError):
    """A supervised process could not be started, read or stopped."""

    code = "process_error"


class SpawnError(ProcError):
    """The program could not be started (missing executable, bad cwd, permissions)."""

    code = "spawn_error"


class GitError(AnimusError):
    """git refused an operation animus asked of it."""

    code = "git_error"


class AgentError(AnimusError):
    """An agent CLI failed in a way the phase cannot judge (not a verdict)."""

    code = "agent_error"


class PluginError(AnimusError):
    """A plugin process crashed, broke the protocol, or answered a call with an error (``details.rpc_code``)."""

    code = "plugin_error"


class PluginTimeout(PluginError):
    """A plugin did not answer a call within its timeout (JSON-RPC code -1003)."""

    code = "plugin_timeout"
