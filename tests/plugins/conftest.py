"""Fixtures for the plugin host: a project with the Python reference plugin installed, and a host over it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from animus.plugins import PluginHost
from support.plugins import PYECHO, install


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".animus").mkdir(parents=True)
    return root


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def pyecho(project: Path) -> Path:
    """The Python reference plugin in ``.animus/plugins/``."""
    return install(project, PYECHO)


@pytest.fixture
def make_host(project: Path, state_dir: Path) -> Iterator[Callable[..., PluginHost]]:
    hosts: list[PluginHost] = []

    def make(**kwargs: object) -> PluginHost:
        host = PluginHost(project, state_dir, **kwargs)  # type: ignore[arg-type]
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.close()


@pytest.fixture
def host(make_host: Callable[..., PluginHost], pyecho: Path) -> PluginHost:
    """A host whose pyecho plugin is locked (trusted) and ready to start."""
    h = make_host()
    h.lock()
    return h
