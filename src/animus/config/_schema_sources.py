"""The task sources (GitHub issues, Linear, Markdown files, plugin subject backends) and the project's GitHub settings."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, Field

from animus.config._fields import _EnvName, _GitHubRepo, _Ident, _Model, _repo_folder, _url


class GitHubConfig(_Model):
    """The GitHub repository pull requests go to, and the API and token every GitHub call uses by default."""

    #: owner/name (null: read from the landing remote's URL)
    repo: _GitHubRepo | None = None
    api_url: Annotated[str, AfterValidator(_url)] = "https://api.github.com"
    token_env: _EnvName = "GITHUB_TOKEN"


# -- task sources ----------------------------------------------------------------------------------
_Priority = Literal["critical", "high", "medium", "low"]
_LabelName = Annotated[str, Field(min_length=1, max_length=100)]


class GitHubStatusLabels(_Model):
    """The labels a GitHub issue carries while its run is running, after it landed, and when it is blocked."""

    running: _LabelName = "animus:running"
    done: _LabelName = "animus:done"
    blocked: _LabelName = "animus:blocked"


class _SourceBase(_Model):
    id: _Ident
    enabled: bool = True
    #: the workflow an imported task runs (null: default_workflow)
    workflow_ref: _Ident | None = None
    #: label (GitHub, Markdown) or Linear priority number → task priority
    priority_map: dict[str, _Priority] = {}
    #: imported tasks are queued at once (false: they wait in the backlog)
    enqueue: bool = True
    poll_secs: Annotated[float, Field(ge=1, le=86400)] = 60.0


class GitHubSource(_SourceBase):
    """Open GitHub issues that carry every label in ``labels`` become tasks."""

    type: Literal["github"]
    #: owner/name (null: github.repo, else the landing remote's repository)
    repo: _GitHubRepo | None = None
    labels: tuple[_LabelName, ...] = ()
    assignee: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    state: Literal["open"] = "open"
    #: null: github.api_url
    api_url: Annotated[str, AfterValidator(_url)] | None = None
    #: null: github.token_env
    token_env: _EnvName | None = None
    status_labels: GitHubStatusLabels = GitHubStatusLabels()
    close_on_land: bool = False


class LinearStateMap(_Model):
    """The Linear workflow-state names an issue moves to (null: leave the state alone)."""

    running: str | None = "In Progress"
    done: str | None = "Done"
    blocked: str | None = None


class LinearSource(_SourceBase):
    """Linear issues of ``team`` in one of ``states`` (names) and carrying every label in ``labels``."""

    type: Literal["linear"]
    team: Annotated[str, Field(min_length=1, max_length=100)]
    states: tuple[Annotated[str, Field(min_length=1)], ...] = ("Todo",)
    labels: tuple[_LabelName, ...] = ()
    api_url: Annotated[str, AfterValidator(_url)] = "https://api.linear.app/graphql"
    token_env: _EnvName = "LINEAR_API_KEY"
    state_map: LinearStateMap = LinearStateMap()


class MarkdownSource(_SourceBase):
    """One Markdown file per task in a folder of the repository, with YAML front matter."""

    type: Literal["markdown"]
    path: Annotated[str, AfterValidator(_repo_folder)] = "tasks/"
    #: write ``status:`` back into the file and commit it on the target branch
    write_status: bool = True


#: a plugin's name as discovery spells it (``animus-plugin-<name>``)
_PluginName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


class PluginSubjectSource(_SourceBase):
    """The items a ``subject_backend`` plugin lists (``task/list``) become tasks; run status goes back by ``task/status``."""

    type: Literal["plugin"]
    #: the plugin's name (found and locked: `animus plugin list`, `animus plugin lock`)
    plugin: _PluginName
    #: handed to the plugin as ``settings`` in every call, as written (what to list, where its file is …)
    settings: dict[str, Any] = {}
    #: how long one call may take
    timeout_secs: Annotated[float, Field(gt=0, le=600)] = 30.0


_SourceConfig = Annotated[
    Union[GitHubSource, LinearSource, MarkdownSource, PluginSubjectSource], Field(discriminator="type")  # noqa: UP007
]
SOURCE_TYPES = ("github", "linear", "markdown", "plugin")
#: any configured source
SourceConfig = GitHubSource | LinearSource | MarkdownSource | PluginSubjectSource


