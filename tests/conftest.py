"""Shared fixtures: an isolated auditctl home, CLI runners, and the store backends.

Tests never touch the real home: every test gets its own ``AUDITCTL_HOME`` and no
``AUDITCTL_*`` variable leaks in from the environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditctl.cli.commands import app
from auditctl.model import Event

FIXED_NOW = "2026-11-25T12:00:00Z"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("AUDITCTL_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("AUDITCTL_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "160")
    return home


class Cli:
    """Run the real typer app in-process; ``result.stdout`` and ``result.stderr`` apart."""

    def __init__(self, store: Path) -> None:
        self.runner = CliRunner()
        self.store = store

    def __call__(self, *args: str, input: str | bytes | None = None, env: dict[str, str] | None = None,
                 store: bool = True) -> Any:
        argv = [*args]
        if store and "--store" not in argv:
            argv = ["--store", str(self.store), *argv]
        return self.runner.invoke(app, argv, input=input, env=env, catch_exceptions=False)

    def json_lines(self, *args: str, **kw: Any) -> list[dict[str, Any]]:
        result = self(*args, "--format", "jsonl", **kw)
        assert result.exit_code == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.db"


@pytest.fixture
def cli(store_path: Path) -> Cli:
    return Cli(store_path)


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m auditctl`` as a real process (for signals, TTY-less pipes, exit codes)."""

    def runner(*args: str, input: str | None = None, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items()}
        full_env.update(env or {})
        return subprocess.run([sys.executable, "-m", "auditctl", *args], input=input, capture_output=True,
                              text=True, env=full_env, timeout=timeout)

    return runner


def make_event(**overrides: Any) -> Event:
    data: dict[str, Any] = {
        "action": "update",
        "actor": {"type": "user", "id": "user_1", "email": "ann@example.com"},
        "source": "api",
        "entity": {"type": "part", "id": "part_1"},
        "changes": [{"field": "status", "old": "draft", "new": "ready"}],
        "timestamp": "2026-11-20T10:00:00Z",
    }
    data.update(overrides)
    return Event.from_dict(data)


# Store backends the contract tests run against. The HTTP backend registers itself
# here (tests/http_backend.py) once the server exists.
BACKENDS: dict[str, Callable[[Path], Any]] = {}


def _sqlite_backend(tmp_path: Path) -> Iterator[Any]:
    from auditctl.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "contract.db", create=True)
    yield store
    store.close()


BACKENDS["sqlite"] = _sqlite_backend  # type: ignore[assignment]

try:
    from tests.http_backend import http_backend

    BACKENDS["http"] = http_backend  # type: ignore[assignment]
except ImportError:  # the server is not built yet
    pass


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Every store contract test runs once per backend."""
    yield from BACKENDS[request.param](tmp_path)
