"""Bad input gets a clear error, the documented exit code, and changes nothing."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest


def digest(path):
    if not path.exists():
        return None
    parts = [path.read_bytes()]
    for suffix in ("-wal",):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            parts.append(extra.read_bytes())
    return hashlib.sha256(b"".join(parts)).hexdigest()


@pytest.fixture
def seeded(cli, store_path):
    assert cli("record", "update", "--entity", "part:p1", "--new", "a=1", "--old", "a=0").exit_code == 0
    return store_path


def count(cli):
    return len(cli.json_lines("search", "--limit", "1000"))


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        (["record", "frob", "--entity", "a:b"], None, ["unknown action 'frob'", "create", "sensitive_access"]),
        (["record", "update", "--entity", "a:b", "--actor", "robot:r2"], None, ["unknown actor.type 'robot'", "scheduler"]),
        (["record", "update", "--entity", "a:b", "--source", "email"], None, ["unknown source 'email'", "webhook"]),
        (["record", "update", "--entity", "a:b", "--at", "7x"], None, ["'7x'"]),
        (["record", "update", "--entity", "a:b", "--at", "2026-13-45"], None, ["'2026-13-45'"]),
        (["record", "update", "--entity", "a:b", "--at", "10000-01-01T00:00:00Z"], None, ["10000"]),
        (["search", "--since", "7x"], None, ["--since", "'7x'"]),
        (["search", "--until", "2026-13-45"], None, ["'2026-13-45'"]),
        (["search", "--limit", "0"], None, ["--limit", "at least 1"]),
        (["search", "--limit", "-5"], None, ["--limit"]),
        (["search", "--limit", "ten"], None, ["--limit", "'ten'"]),
        (["record", "update", "--entity", "a:b", "--old", "novalue"], None, ["--old expects FIELD=VALUE", "novalue"]),
        (["record", "update", "--entity", "a:b", "--new", "=x"], None, ["--new expects FIELD=VALUE"]),
        (["record", "-"], '{"action": "update", "actor": {"type": "user", "id": "u"}, "source": "cli", "entity": {"type": "a"}}\n{"action": "update", oops}\n', ["line 2", "invalid JSON"]),
        (["record", "-"], '{"action": "update"', ["invalid JSON"]),
        (["record", "-"], "[" * 10_000 + "]" * 10_000, ["nested"]),
        (["record", "--json", '{"action":"update","actor":{"type":"user","id":"u"},"source":"cli","entity":{"type":"a"},"metadata":' + '{"a":' * 10_000 + "1" + "}" * 10_001], None, ["nested"]),
        (["record", "-"], "", ["no event on stdin"]),
        (["record", "--json", "[1, 2]"], None, ["JSON object"]),
    ],
)
def test_bad_input_is_exit_2_and_changes_nothing(cli, seeded, args, stdin, words):
    before = digest(seeded)
    result = cli(*args, input=stdin)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: ")
    for word in words:
        assert word in result.stderr
    assert "Traceback" not in result.stderr
    assert digest(seeded) == before
    assert count(cli) == 1


def test_invalid_utf8_on_stdin_and_in_files(cli, seeded, tmp_path, run):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"action": "update", "actor": {"type": "user", "id": "\xff\xfe"}, "source": "cli", "entity": {"type": "a"}}\n')
    before = digest(seeded)
    result = run("--store", str(seeded), "import", str(bad))
    assert result.returncode == 2 and "UTF-8" in result.stderr and "Traceback" not in result.stderr
    proc = subprocess.run([sys.executable, "-m", "auditctl", "--store", str(seeded), "record", "-"],
                          input=bad.read_bytes(), capture_output=True)
    assert proc.returncode == 2 and b"UTF-8" in proc.stderr
    assert digest(seeded) == before


def test_read_of_a_store_in_a_missing_directory_names_the_path_and_creates_nothing(cli, tmp_path):
    target = tmp_path / "no" / "such" / "audit.db"
    result = cli("--store", str(target), "search", store=False)
    assert result.exit_code == 74
    assert str(target) in result.stderr and "hint:" in result.stderr
    assert not (tmp_path / "no").exists()
    for command in (["show", "1"], ["export"], ["verify"], ["head"], ["purge", "--dry-run"]):
        assert cli("--store", str(target), *command, store=False).exit_code == 74
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("content", [b"this is not a database at all" * 100, b"", b"SQLite format 3\x00" + b"\xff" * 4000])
def test_a_file_that_is_not_an_auditctl_store_is_never_overwritten(cli, tmp_path, content):
    target = tmp_path / "notes.txt"
    target.write_bytes(content)
    commands = [["search"], ["verify"]] if content == b"" else [["search"], ["record", "update", "--entity", "a:b"], ["verify"]]
    for command in commands:
        result = cli("--store", str(target), *command, store=False)
        assert result.exit_code == 74, (command, result.stderr)
        assert "error:" in result.stderr and "Traceback" not in result.stderr
        assert target.read_bytes() == content


def test_unknown_store_scheme(cli):
    result = cli("--store", "ftp://x/y", "search", store=False)
    assert result.exit_code == 2 and "scheme" in result.stderr


def test_conflicting_id_is_exit_2_and_same_content_is_a_no_op(cli):
    event = {"id": "evt-1", "action": "update", "actor": {"type": "user", "id": "u"}, "source": "cli",
             "entity": {"type": "a", "id": "b"}, "timestamp": "2026-11-20T00:00:00Z"}
    assert cli("record", "--json", json.dumps(event)).exit_code == 0
    again = cli("record", "--json", json.dumps(event))
    assert again.exit_code == 0 and again.stdout.strip() == "evt-1" and "already recorded" in again.stderr
    changed = cli("record", "--json", json.dumps({**event, "action": "delete"}))
    assert changed.exit_code == 2 and "different content" in changed.stderr
    assert count(cli) == 1


def test_unknown_command_and_option_are_usage_errors(cli):
    result = cli("frobnicate")
    assert result.exit_code == 2 and result.stderr.startswith("error: ")
    result = cli("search", "--frob")
    assert result.exit_code == 2 and "--frob" in result.stderr


def test_debug_shows_a_traceback_only_when_asked(run, tmp_path):
    result = run("--store", str(tmp_path / "missing" / "x.db"), "search")
    assert "Traceback" not in result.stderr and result.returncode == 74
    result = run("--debug", "--store", str(tmp_path / "missing" / "x.db"), "search")
    assert "Traceback" in result.stderr


def test_no_command_prints_help_and_is_a_usage_error(cli):
    for args in ([], ["config"], ["token"]):
        result = cli(*args, store=False)
        assert result.exit_code == 2, (args, result.stderr)
        assert "Usage:" in result.stderr and "Traceback" not in result.stderr
