"""The start-up fast path (cli/fast.py) answers exactly like the typer application."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditctl.cli import fast
from auditctl.cli.commands import app

NOW = "2026-11-25T12:00:00Z"


@pytest.fixture
def filled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from auditctl.generate import generate
    from auditctl.model import Event
    from auditctl.store.sqlite import SQLiteStore

    monkeypatch.setenv("AUDITCTL_NOW", NOW)
    path = tmp_path / "fast.db"
    store = SQLiteStore(path, create=True)
    store.append([Event.from_dict(d) for d in generate(400, seed=5, now=datetime(2026, 11, 25, 12, tzinfo=UTC))])
    store.close()
    return path


CASES = [
    ["search", "--format", "jsonl"],
    ["search", "--action", "delete", "--since", "7d", "--limit", "5", "--format", "jsonl"],
    ["search", "-a", "create", "-a", "update", "-n", "3", "-f", "json"],
    ["search", "--format=csv", "--limit=4", "--reverse"],
    ["search", "globex", "--format", "jsonl", "--limit", "7"],
    ["search", "--format", "JSONL", "--source", "api,web", "--actor-type", "user", "--limit", "6"],
    ["search", "--", "update", "--format"],
    ["filter", "--changed", "status", "--format", "jsonl", "--flat"],
    ["search", "--entity", "part", "--until", "2026-11-20", "--format", "jsonl", "--no-color", "--utc"],
]


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(c) for c in CASES])
def test_fast_path_prints_what_typer_prints(filled: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from typer.testing import CliRunner

    full = ["--store", str(filled), *argv]
    code = fast.run(full)
    fast_out = capsys.readouterr().out
    result = CliRunner().invoke(app, full, catch_exceptions=False)
    assert code == 0
    assert result.exit_code == 0, result.stderr
    assert fast_out.replace("\r\n", "\n") == result.stdout  # click's Result normalises line ends


@pytest.mark.parametrize("argv", [
    ["search", "--help"],
    ["search", "--format", "table"],
    ["search", "--debug", "--format", "jsonl"],
    ["filter", "--input", "x.jsonl", "--format", "jsonl"],
    ["filter", "word", "--format", "jsonl"],
    ["search", "--limit"],
    ["search", "--limit", "--reverse", "--format", "jsonl"],
    ["search", "--reverse=yes", "--format", "jsonl"],
    ["search", "--bogus", "--format", "jsonl"],
    ["show", "1"],
    ["--version"],
    [],
])
def test_fast_path_declines_what_it_does_not_handle(argv: list[str]) -> None:
    assert fast.run(argv) is None


def test_errors_go_to_typer(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fast.run(["--store", str(filled), "search", "--since", "yesterdayish", "--format", "jsonl"]) is None
    assert fast.run(["--store", str(filled) + ".missing", "search", "--format", "jsonl"]) is None
    assert capsys.readouterr().out == ""


def test_every_fast_option_is_a_real_option_of_the_same_kind() -> None:
    import typer.main

    group = typer.main.get_command(app)
    for name in fast.COMMANDS:
        command = group.commands[name]  # type: ignore[attr-defined]
        options = {opt: param for param in command.params for opt in getattr(param, "opts", [])}
        for opt, (_, takes_value, repeatable) in fast.COMMAND_OPTIONS.items():
            assert opt in options, f"{name} has no option {opt}"
            param = options[opt]
            assert bool(param.is_flag) is (not takes_value), opt
            assert bool(param.multiple) is repeatable, opt
