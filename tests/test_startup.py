"""Start-up of the hot paths: each command imports only what it uses.

Scripts run ``auditctl search … --format jsonl`` and ``auditctl --version`` in loops,
so every module they import is paid on every call. These tests run the command in a
fresh interpreter and look at ``sys.modules``: a top-level import that pulls one of the
modules below back onto the path fails them. (Timings are measured, not tested.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditctl import __version__
from auditctl.store.sqlite import SQLiteStore

# Runs main() as the console script does, then names every module imported.
CHILD = """
import sys
from auditctl.cli.main import main
try:
    main()
finally:
    print(" ".join(sorted(sys.modules)))
"""

SEARCH = ["search", "--limit", "1", "--format", "jsonl"]

NOT_ON_THE_READ_PATH = {
    # the model, redaction and the JSON codec: stored JSON lines are copied as text
    "auditctl.model",
    "auditctl.redact",
    "auditctl.jsonio",
    "orjson",
    # the full CLI
    "typer",
    "click",
    "rich",
    "pydantic",
    "auditctl.cli.commands",
    # the remote backend
    "httpx",
    "auditctl.store.http",
    # migrations
    "sqlite_utils",
    # hashing: writes and verify
    "hashlib",
    "hmac",
    # the CSV writer and reader
    "csv",
    # --since/--until, and stamping writes
    "auditctl.timeparse",
    # read only when there is a config file
    "tomllib",
}


def imported(home: Path, *argv: str) -> tuple[list[str], set[str]]:
    """The lines the command printed, and the modules it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITCTL_")}
    env["AUDITCTL_HOME"] = str(home)
    proc = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    *output, modules = proc.stdout.splitlines()
    return output, set(modules.split())


@pytest.fixture(scope="module")
def search_modules(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    folder = tmp_path_factory.mktemp("startup")
    store = folder / "empty.db"
    SQLiteStore(store, create=True).close()
    output, modules = imported(folder / "home", "--store", str(store), *SEARCH)
    assert output == []  # an empty store: nothing found, nothing printed
    return modules


def test_search_with_machine_output_imports_only_what_it_uses(search_modules: set[str]) -> None:
    assert "auditctl.store.sqlite" in search_modules  # it did search
    assert sorted(search_modules & NOT_ON_THE_READ_PATH) == []


def test_version_imports_nothing_else(tmp_path: Path) -> None:
    output, modules = imported(tmp_path, "--version")
    assert output == [f"auditctl {__version__}"]
    assert sorted(m for m in modules if m.startswith("auditctl")) == ["auditctl", "auditctl.cli", "auditctl.cli.main"]
