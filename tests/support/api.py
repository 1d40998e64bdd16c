"""HTTP API test helpers: a project's app behind Starlette's TestClient, with its token and store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from support.engine import Project as EngineProject

SECRET = "s3cret-value"
TRIGGERS = """\
triggers:
  - id: hook
    type: webhook
    config:
      secret_env: HOOK_SECRET
      rate_limit_per_minute: 3
      task: {title: "Deploy {{ payload.ref }}", description: "pushed by {{ payload.pusher.name }}"}
  - id: backlog-hook
    type: webhook
    config: {secret_env: HOOK_SECRET, enqueue: false}
  - id: tokenhook
    type: webhook
  - id: race-hook
    type: webhook
    config: {secret_env: HOOK_SECRET, rate_limit_per_minute: 10, enqueue: false}
  - id: gh
    type: webhook
    workflow_ref: main
    config: {secret_env: HOOK_SECRET, github: {label: animus}}
"""


class Api:
    """A TestClient with the project's token, and the project it serves."""

    def __init__(self, client: TestClient, token: str, project: EngineProject, state_dir: Path) -> None:
        self.client = client
        self.token = token
        self.project = project
        self.state_dir = state_dir

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        headers = {**self.auth, **kw.pop("headers", {})}
        return self.client.post(path, json=json, headers=headers, **kw)

    def patch(self, path: str, json: Any = None) -> Any:
        return self.client.patch(path, json=json, headers=self.auth)

    def delete(self, path: str) -> Any:
        return self.client.delete(path, headers=self.auth)

    def store(self) -> Any:
        from animus.store import open_store

        return open_store(db_path=self.state_dir / "animus.db")


def animus_project(project: EngineProject) -> Any:
    """The animus Project of a test project, independent of the ANIMUS_HOME of the test that uses it."""
    from animus.config.project import Project, scope_name

    return Project(root=project.repo.resolve(), state_dir=project.home / scope_name(project.repo))


def build(project: EngineProject, *, bind_host: str = "127.0.0.1") -> Api:
    from animus.api import create_app, ensure_token
    from animus.config import load_config

    proj = animus_project(project)
    token = ensure_token(proj.state_dir)
    app = create_app(proj, config=load_config(proj), token=token, bind_host=bind_host, poll_secs=0.05)
    # the Host a local client sends; TestClient's default `testserver` is refused like any foreign name
    return Api(TestClient(app, base_url="http://127.0.0.1"), token, project, proj.state_dir)
