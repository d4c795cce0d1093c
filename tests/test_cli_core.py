"""The core commands driven through the real CLI: record, import, search, filter, show, export, config."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

import pytest

NOW = "2026-11-25T12:00:00Z"


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch):
    monkeypatch.setenv("AUDITCTL_NOW", NOW)


def seed(cli):
    cli("record", "update", "--actor", "user:ann@example.com", "--entity", "part:p1", "--old", "status=draft",
        "--new", "status=ready", "--at", "2026-11-24T10:00:00Z", "--reason", "ticket #42", "--correlation-id", "req-1")
    cli("record", "delete", "--actor", "api_key:key_9", "--entity", "part:p2", "--old", "name=gear", "--source", "api",
        "--at", "2026-11-23T10:00:00Z", "--correlation-id", "req-1", "--ip", "203.0.113.22")
    cli("record", "delete", "--actor", "user:bob@example.com", "--entity", "part:p3", "--old", "name=old",
        "--at", "2026-11-01T10:00:00Z")
    cli("record", "bulk_update", "--actor", "scheduler:nightly", "--source", "scheduler", "--entity", "part",
        "--entity-id", "p7", "--entity-id", "p8", "--new", "archived=true", "--old", "archived=false",
        "--at", "2026-11-22T00:00:00Z")


def test_record_prints_the_id_and_json_prints_the_event(cli):
    result = cli("record", "create", "--entity", "part:p1", "--new", 'count=5', "--new", 'tags=["a","b"]')
    assert result.exit_code == 0
    event_id = result.stdout.strip()
    assert len(event_id) == 26
    shown = json.loads(cli("show", event_id, "--format", "json").stdout)
    assert shown["changes"] == [{"field": "count", "new": 5}, {"field": "tags", "new": ["a", "b"]}]
    assert shown["actor"]["type"] == "user" and shown["source"] == "cli"
    full = json.loads(cli("record", "login", "--actor", "user:ann@example.com", "--format", "json").stdout)
    assert full["action"] == "login" and full["seq"] == 2 and full["actor"]["email"] == "ann@example.com"


def test_record_json_and_stdin_jsonl(cli):
    doc = {"action": "update", "actor": {"type": "api_key", "id": "k"}, "source": "api", "entity": {"type": "doc", "id": "d1"}}
    assert cli("record", "--json", json.dumps(doc)).exit_code == 0
    lines = "\n".join(json.dumps({**doc, "entity": {"type": "doc", "id": f"d{i}"}}) for i in range(2, 5))
    result = cli("record", "-", input=lines + "\n")
    assert result.exit_code == 0 and len(result.stdout.split()) == 3
    pretty = json.dumps({**doc, "entity": {"type": "doc", "id": "d9"}}, indent=2)
    assert cli("record", "-", input=pretty).exit_code == 0
    assert len(cli.json_lines("search")) == 5


def test_search_action_since_is_newest_first_and_only_matches(cli):
    seed(cli)
    events = cli.json_lines("search", "--action", "delete", "--since", "7d")
    assert [e["entity"]["id"] for e in events] == ["p2"]
    assert [e["entity"]["id"] for e in cli.json_lines("search", "--action", "delete")] == ["p2", "p3"]
    assert [e["entity"]["id"] for e in cli.json_lines("search", "--action", "delete", "--reverse")] == ["p3", "p2"]


def test_search_terms_are_case_insensitive_substrings_and_literal(cli):
    seed(cli)
    assert [e["entity"]["id"] for e in cli.json_lines("search", "ANN@EXAMPLE")] == ["p1"]
    assert [e["entity"]["id"] for e in cli.json_lines("search", "icket #4")] == ["p1"]
    assert len(cli.json_lines("search", "req-1")) == 2
    # LIKE wildcards match only themselves.
    assert cli.json_lines("search", "%") == []
    assert [e["entity"]["id"] for e in cli.json_lines("search", "y_9")] == ["p2"]
    assert [e["entity"]["id"] for e in cli.json_lines("search", "_")] == ["p2", None]
    assert cli.json_lines("search", '"; DROP TABLE events; --') == []
    assert len(cli.json_lines("search", "req-1", "ann")) == 1  # every term must match


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--entity", "part", "--action", "update"], ["p1"]),
        (["--entity-id", "p8"], [None]),
        (["--source", "api"], ["p2"]),
        (["--actor", "bob@example.com"], ["p3"]),
        (["--actor", "key_9"], ["p2"]),
        (["--actor-type", "scheduler"], [None]),
        (["--correlation-id", "req-1"], ["p1", "p2"]),
        (["--changed", "archived"], [None]),
        (["--since", "2026-11-01", "--until", "2026-11-23"], [None, "p3"]),
        (["--action", "update", "--action", "bulk_update"], ["p1", None]),
        (["--limit", "1"], ["p1"]),
    ],
)
def test_filters(cli, flags, expected):
    seed(cli)
    assert [e["entity"]["id"] for e in cli.json_lines("filter", *flags)] == expected


def test_global_options_work_after_the_command(cli, store_path):
    seed(cli)
    result = cli("search", "--store", str(store_path), "--format", "jsonl", "--action", "delete", store=False)
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 2


def test_filter_input_works_without_any_store(cli, tmp_path):
    seed(cli)
    exported = tmp_path / "e.jsonl"
    assert cli("export", "-o", str(exported)).exit_code == 0
    nowhere = tmp_path / "missing" / "x.db"
    result = cli("filter", "--input", str(exported), "--action", "delete", "--format", "jsonl", "--store", str(nowhere), store=False)
    assert result.exit_code == 0, result.stderr
    assert [json.loads(x)["entity"]["id"] for x in result.stdout.splitlines()] == ["p2", "p3"]
    assert not nowhere.parent.exists()
    piped = cli("filter", "--input", "-", "--source", "scheduler", "--format", "jsonl", input=exported.read_text())
    assert len(piped.stdout.splitlines()) == 1


def test_export_import_export_is_lossless(cli, tmp_path):
    seed(cli)
    first = tmp_path / "first.jsonl"
    cli("export", "-o", str(first), "--action", "update", "--action", "delete", "--action", "bulk_update")
    other = tmp_path / "other.db"
    result = cli("--store", str(other), "import", str(first), store=False)
    assert result.exit_code == 0, result.stderr
    second = tmp_path / "second.jsonl"
    cli("--store", str(other), "export", "-o", str(second), "--action", "update", "--action", "delete",
        "--action", "bulk_update", store=False)
    strip = ("seq", "prev_hash", "hash", "recorded_at")

    def content(path: Path):
        return sorted(({k: v for k, v in json.loads(line).items() if k not in strip} for line in path.read_text().splitlines()),
                      key=lambda e: e["id"])

    assert content(first) == content(second)
    assert len(content(first)) == 4


def test_import_is_idempotent_and_records_an_import_event(cli, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps({"action": "create", "actor": {"type": "system", "id": "s"}, "source": "system",
                                         "entity": {"type": "t", "id": str(i)}, "timestamp": "2026-11-20T00:00:00Z"})
                             for i in range(25)) + "\n")
    assert cli("import", str(src), "--batch-size", "10").exit_code == 0
    again = cli("import", str(src))
    assert again.exit_code == 0 and "25 already present" in again.stderr
    events = cli.json_lines("search", "--limit", "1000")
    assert sum(1 for e in events if e["action"] == "create") == 25
    imports = [e for e in events if e["action"] == "import"]
    assert len(imports) == 1 and imports[0]["metadata"]["imported"] == 25


def test_import_reads_json_arrays_and_exported_csv(cli, tmp_path):
    seed(cli)
    as_csv = cli("export", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert {r["action"] for r in rows} >= {"update", "delete"}
    csv_file = tmp_path / "x.csv"
    csv_file.write_text(as_csv)
    other = tmp_path / "o.db"
    assert cli("--store", str(other), "import", str(csv_file), store=False).exit_code == 0
    array = tmp_path / "a.json"
    array.write_text(cli("export", "--format", "json").stdout)
    third = tmp_path / "t.db"
    assert cli("--store", str(third), "import", str(array), store=False).exit_code == 0
    a = {e["id"]: e["changes"] for e in cli.json_lines("export", "--store", str(other), store=False)}
    b = {e["id"]: e["changes"] for e in cli.json_lines("export", "--store", str(third), store=False)}
    assert {k: v for k, v in a.items() if k in b} == {k: v for k, v in b.items() if k in a} and len(set(a) & set(b)) >= 4


def test_csv_export_guards_formulas_and_round_trips_them(cli, tmp_path):
    hostile = ["=HYPERLINK(\"http://evil\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "'quoted"]
    for i, value in enumerate(hostile):
        cli("record", "update", "--entity", f"doc:{value}", "--reason", value, "--actor", f"user:{value}", "--new", f"f{i}={value}")
    out = cli("export", "--format", "csv").stdout
    for row in csv.reader(io.StringIO(out)):
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    path = tmp_path / "h.csv"
    path.write_text(out)
    other = tmp_path / "h.db"
    assert cli("--store", str(other), "import", str(path), store=False).exit_code == 0
    reasons = {e["context"]["reason"] for e in cli.json_lines("search", "--store", str(other), "--action", "update", store=False)}
    assert reasons == set(hostile)


def test_export_json_is_one_array_and_records_an_export_event(cli):
    seed(cli)
    data = json.loads(cli("export", "--format", "json").stdout)
    assert isinstance(data, list) and len(data) == 4
    exports = cli.json_lines("search", "--action", "export")
    assert len(exports) == 1 and exports[0]["metadata"]["count"] == 4


def test_show_by_seq_and_id_and_missing(cli):
    seed(cli)
    by_seq = json.loads(cli("show", "2", "--format", "json").stdout)
    by_id = json.loads(cli("show", by_seq["id"], "--format", "json").stdout)
    assert by_seq == by_id and by_seq["seq"] == 2
    missing = cli("show", "999")
    assert missing.exit_code == 66 and missing.stderr.startswith("error: ")
    table = cli("show", "1", "--format", "table")
    assert table.exit_code == 0 and "status" in table.stdout and "ready" in table.stdout


def test_config_set_get_unset_list_path(cli, isolated_home):
    path = cli("config", "path").stdout.strip()
    assert path == str(isolated_home / "config.toml")
    assert cli("config", "set", "retention_days", "90").exit_code == 0
    assert cli("config", "get", "retention_days").stdout.strip() == "90"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert cli("config", "set", "redact_patterns", "password,ssn").exit_code == 0
    listing = cli("config", "list", "--format", "table").stdout
    rows = {line.split()[0]: line.split()[1:] for line in listing.splitlines()}
    assert rows["retention_days"] == ["90", "(file)"] and rows["redact_patterns"] == ["password,ssn", "(file)"]
    assert rows["token"] == ["-", "(default)"]
    assert cli("config", "get", "retention_days", env={"AUDITCTL_RETENTION_DAYS": "7"}).stdout.strip() == "7"
    assert cli("config", "unset", "retention_days").exit_code == 0
    assert cli("config", "get", "retention_days").stdout.strip() == "30"
    bad = cli("config", "set", "nope", "1")
    assert bad.exit_code == 2 and "unknown setting" in bad.stderr
    assert cli("config", "set", "retention_days", "abc").exit_code == 2


def test_configured_redact_patterns_apply(cli):
    cli("config", "set", "redact_patterns", "ssn")
    cli("record", "update", "--entity", "c:1", "--old", "ssn=123-45", "--new", "ssn=999-99")
    change = cli.json_lines("search")[0]["changes"][0]
    assert change == {"field": "ssn", "old": "[REDACTED]", "new": "[REDACTED]"}


def test_piped_output_defaults_to_jsonl_and_goes_to_stdout_only(run, tmp_path):
    store = str(tmp_path / "p.db")
    assert run("--store", store, "record", "update", "--entity", "a:b").returncode == 0
    result = run("--store", store, "search")
    assert result.returncode == 0 and result.stderr == ""
    assert json.loads(result.stdout.strip())["entity"] == {"type": "a", "id": "b"}


def test_store_is_created_with_private_permissions(cli, isolated_home):
    result = cli("record", "update", "--entity", "a:b", store=False)
    assert result.exit_code == 0
    db = isolated_home / "audit.db"
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(isolated_home).st_mode) == 0o700
