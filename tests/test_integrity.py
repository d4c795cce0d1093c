"""Retention, purge and tamper evidence (issue 4), through the real CLI and raw SQL edits."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch):
    monkeypatch.setenv("AUDITCTL_NOW", stamp(NOW))


def fill(cli, count=10, start=None, step=timedelta(hours=1)):
    start = start or NOW - timedelta(days=2)
    lines = []
    for i in range(count):
        lines.append(json.dumps({"action": "update", "actor": {"type": "user", "id": f"u{i}"}, "source": "api",
                                 "entity": {"type": "part", "id": f"p{i}"}, "timestamp": stamp(start + i * step),
                                 "changes": [{"field": "n", "old": i, "new": i + 1}]}))
    result = cli("record", "-", input="\n".join(lines))
    assert result.exit_code == 0, result.stderr


def sql(path, statement, *params):
    conn = sqlite3.connect(path)
    conn.execute(statement, params)
    conn.commit()
    conn.close()


def rows(path, statement):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(statement).fetchall()
    finally:
        conn.close()


def verify(cli, *extra):
    return cli("verify", *extra)


def test_a_clean_chain_verifies_and_head_anchors_it(cli):
    fill(cli)
    result = verify(cli)
    assert result.exit_code == 0 and result.stdout.startswith("OK: 10 events verified")
    head = cli("head").stdout.strip()
    seq, digest = head.split(":")
    assert seq == "10" and len(digest) == 64
    assert json.loads(cli("head", "--format", "json").stdout) == {"seq": 10, "hash": digest}
    assert verify(cli, "--expect-head", head).exit_code == 0


@pytest.mark.parametrize(
    ("tamper", "bad_seq", "words"),
    [
        # Edit one field of the stored event (the JSON document).
        (lambda p: sql(p, "UPDATE events SET doc = replace(doc, '\"new\":5', '\"new\":55') WHERE seq = 5"), 5, "content"),
        # Edit an indexed column only: searches would lie, so verify must notice.
        (lambda p: sql(p, "UPDATE events SET action = 'delete' WHERE seq = 5"), 5, "action"),
        # Delete a middle row.
        (lambda p: sql(p, "DELETE FROM events WHERE seq = 5"), 5, "missing"),
        # Change a prev_hash (column and document together).
        (lambda p: sql(p, "UPDATE events SET prev_hash = 'ab' || substr(prev_hash, 3), doc = replace(doc, prev_hash, 'ab' || substr(prev_hash, 3)) WHERE seq = 5"), 5, ""),
    ],
)
def test_tampering_is_exit_65_naming_the_first_bad_seq(cli, store_path, tamper, bad_seq, words):
    fill(cli)
    tamper(str(store_path))
    result = verify(cli)
    assert result.exit_code == 65, result.stdout + result.stderr
    assert f"seq {bad_seq}" in result.stderr
    assert words in result.stderr


def test_an_inserted_row_is_detected(cli, store_path):
    fill(cli)
    conn = sqlite3.connect(store_path)
    row = conn.execute("SELECT * FROM events WHERE seq = 5").fetchone()
    cols = [d[0] for d in conn.execute("SELECT * FROM events LIMIT 1").description]
    data = dict(zip(cols, row, strict=True))
    # Shift seqs up to make room, then insert a forged event at seq 5.
    conn.execute("UPDATE events SET seq = seq + 1000 WHERE seq >= 5")
    conn.execute("UPDATE events SET seq = seq - 999 WHERE seq >= 1005")
    forged = {k: v for k, v in data.items() if k != "rowid"}
    forged["id"] = "FORGED"
    forged["doc"] = forged["doc"].replace(data["id"], "FORGED")
    conn.execute(f"INSERT INTO events ({','.join(forged)}) VALUES ({','.join('?' * len(forged))})", list(forged.values()))
    conn.commit()
    conn.close()
    result = verify(cli)
    assert (result.exit_code == 65 and "seq 5" in result.stderr) or "seq 6" in result.stderr


def test_swapped_rows_are_detected(cli, store_path):
    fill(cli)
    conn = sqlite3.connect(store_path)
    conn.execute("UPDATE events SET seq = -1 WHERE seq = 4")
    conn.execute("UPDATE events SET seq = 4 WHERE seq = 5")
    conn.execute("UPDATE events SET seq = 5 WHERE seq = -1")
    conn.commit()
    conn.close()
    result = verify(cli)
    assert result.exit_code == 65 and "seq 4" in result.stderr


def test_truncated_tail_passes_alone_but_fails_with_expect_head(cli, store_path):
    fill(cli)
    anchor = cli("head").stdout.strip()
    conn = sqlite3.connect(store_path)
    conn.execute("DELETE FROM events WHERE seq > 7")
    last = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    conn.execute("UPDATE chain_heads SET seq = ?, hash = ?", last)
    conn.commit()
    conn.close()
    assert verify(cli).exit_code == 0
    result = verify(cli, "--expect-head", anchor)
    assert result.exit_code == 65 and "seq 8" in result.stderr and "tail" in result.stderr


def test_keyed_chain_detects_a_rebuild_without_the_key(cli, store_path, monkeypatch):
    monkeypatch.setenv("AUDITCTL_CHAIN_KEY", "k3y-only-the-auditor-has")
    fill(cli, 5)
    assert verify(cli).exit_code == 0
    # An attacker with write access to the file edits seq 3 and recomputes an
    # unkeyed chain from there (they do not have the key).
    from auditctl import integrity

    conn = sqlite3.connect(store_path)
    rows = conn.execute("SELECT rowid, doc FROM events ORDER BY seq").fetchall()
    prev = json.loads(rows[1][1])["hash"]
    for rowid, doc in rows[2:]:
        data = json.loads(doc)
        if data["seq"] == 3:
            data["changes"][0]["new"] = 999
        data["prev_hash"] = prev
        data["hash"] = integrity.event_hash(data, prev, None)
        prev = data["hash"]
        conn.execute("UPDATE events SET doc = ?, prev_hash = ?, hash = ? WHERE rowid = ?",
                     (json.dumps(data, ensure_ascii=False, separators=(",", ":")), data["prev_hash"], data["hash"], rowid))
    conn.execute("UPDATE chain_heads SET hash = ?", (prev,))
    conn.commit()
    conn.close()
    result = verify(cli)
    assert result.exit_code == 65 and "seq 3" in result.stderr
    monkeypatch.delenv("AUDITCTL_CHAIN_KEY")
    unkeyed = verify(cli)
    assert unkeyed.exit_code == 65 and "keyed" in unkeyed.stderr
    refused = cli("record", "update", "--entity", "a:b")
    assert refused.exit_code == 2 and "keyed" in refused.stderr


def test_purge_keeps_verify_green_and_records_itself(cli):
    fill(cli, 10, start=NOW - timedelta(days=40), step=timedelta(days=2))
    result = cli("purge", "--yes")
    assert result.exit_code == 0 and "deleted 5 events" in result.stdout
    assert verify(cli).exit_code == 0
    events = cli.json_lines("search")
    assert len(events) == 6
    purge_event = events[0]
    assert purge_event["action"] == "bulk_delete" and purge_event["actor"]["type"] == "system"
    assert purge_event["metadata"]["purged"] == 5 and purge_event["metadata"]["cutoff"].startswith("2026-10-26T12:00")


def test_purge_with_a_hole_in_the_middle_still_verifies(cli):
    # Out-of-order timestamps: the old event sits between new ones in seq order.
    fill(cli, 3, start=NOW - timedelta(days=2))
    fill(cli, 1, start=NOW - timedelta(days=90))
    fill(cli, 3, start=NOW - timedelta(days=1))
    assert cli("purge", "--yes").exit_code == 0
    assert verify(cli).exit_code == 0
    assert [e["seq"] for e in cli.json_lines("search", "--reverse")] == [1, 2, 3, 5, 6, 7, 8]


def test_a_purge_keeps_tombstones_only_for_holes_it_leaves(cli, store_path):
    # seq 1-4 and 6 are old, seq 5 and 7 are new: the prefix 1-4 folds into the anchor,
    # seq 6 is a hole between survivors and needs its own signed tombstone.
    fill(cli, 4, start=NOW - timedelta(days=90))
    fill(cli, 1, start=NOW - timedelta(days=2))
    fill(cli, 1, start=NOW - timedelta(days=80))
    fill(cli, 1, start=NOW - timedelta(days=1))
    assert cli("purge", "--yes").exit_code == 0
    assert rows(store_path, "SELECT seq FROM chain_tombstones") == [(6,)]
    assert rows(store_path, "SELECT through_seq FROM chain_anchors") == [(4,)]
    assert verify(cli).exit_code == 0


def test_a_purge_of_every_event_anchors_the_chain_at_the_last(cli, store_path):
    fill(cli, 3, start=NOW - timedelta(days=90))
    assert cli("purge", "--yes").exit_code == 0  # the purge's own event is the only survivor
    assert rows(store_path, "SELECT seq FROM chain_tombstones") == []
    assert rows(store_path, "SELECT through_seq FROM chain_anchors") == [(3,)]
    assert [e["seq"] for e in cli.json_lines("search")] == [4]
    assert verify(cli).exit_code == 0


def test_a_forged_tombstone_does_not_explain_a_deleted_row(cli, store_path):
    fill(cli, 3, start=NOW - timedelta(days=2))
    fill(cli, 1, start=NOW - timedelta(days=90))
    fill(cli, 3, start=NOW - timedelta(days=1))
    assert cli("purge", "--yes").exit_code == 0
    conn = sqlite3.connect(store_path)
    seq, prev, hash_ = conn.execute("SELECT seq, prev_hash, hash FROM events WHERE seq = 6").fetchone()
    conn.execute("DELETE FROM events WHERE seq = 6")
    conn.execute("INSERT INTO chain_tombstones VALUES ('default', ?, ?, ?, 'x', 'forged')", (seq, prev, hash_))
    conn.commit()
    conn.close()
    result = verify(cli)
    assert result.exit_code == 65 and "seq 6" in result.stderr


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--older-than", "0d"], "every event"),
        (["--older-than", "-5d"], "positive"),
        (["--before", "2027-01-01"], "future"),
        (["--older-than", "12h"], "less than a day"),
        (["--older-than", "banana"], "invalid duration"),
        (["--older-than", "5d", "--before", "2026-01-01"], "not both"),
    ],
)
def test_dangerous_cutoffs_are_refused(cli, store_path, flags, words):
    fill(cli, 3, start=NOW - timedelta(days=60))
    before = store_path.read_bytes()
    result = cli("purge", "--yes", *flags)
    assert result.exit_code == 2 and words in result.stderr
    assert len(cli.json_lines("search")) == 3
    assert store_path.read_bytes() == before


def test_force_allows_a_short_window(cli):
    fill(cli, 3, start=NOW - timedelta(hours=20))
    assert cli("purge", "--yes", "--older-than", "12h", "--force").exit_code == 0


def test_dry_run_changes_nothing_byte_for_byte(cli, store_path):
    fill(cli, 10, start=NOW - timedelta(days=40), step=timedelta(days=2))
    cli("verify")  # settle the WAL
    wal = store_path.with_name(store_path.name + "-wal")
    before = (store_path.read_bytes(), wal.read_bytes() if wal.exists() else b"")
    result = cli("purge", "--dry-run", "--older-than", "30d")
    assert result.exit_code == 0
    assert "would delete 5 events" in result.stdout and "from 2026-10-16" in result.stdout
    after = (store_path.read_bytes(), wal.read_bytes() if wal.exists() else b"")
    assert after == before
    data = json.loads(cli("purge", "--dry-run", "--format", "json").stdout)
    assert data["count"] == 5 and data["dry_run"] is True


def test_purge_needs_yes_when_not_on_a_terminal(cli):
    fill(cli, 3, start=NOW - timedelta(days=60))
    result = cli("purge")
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert len(cli.json_lines("search")) == 3


def test_purged_data_is_gone_from_the_file_and_search(cli, store_path):
    secret_reason = "quarterly-close-ZQXJ-7781"
    cli("record", "update", "--entity", "ledger:l1", "--reason", secret_reason, "--at", stamp(NOW - timedelta(days=60)))
    fill(cli, 3)
    assert cli.json_lines("search", "ZQXJ")
    assert cli("purge", "--yes").exit_code == 0
    assert cli.json_lines("search", "ZQXJ") == []
    raw = store_path.read_bytes()
    wal = store_path.with_name(store_path.name + "-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    assert secret_reason.encode() not in raw
    assert b"ledger" not in raw


def test_rolling_30_day_window_over_90_days_stays_bounded_and_verified(tmp_path):
    """90 simulated days, 12 events a day, purge daily, verify daily; the file stops growing."""
    from auditctl.model import Event
    from auditctl.store.sqlite import SQLiteStore

    path = tmp_path / "rolling.db"
    sizes = []
    start = NOW - timedelta(days=90)
    for day in range(90):
        today = start + timedelta(days=day)
        os.environ["AUDITCTL_NOW"] = stamp(today + timedelta(hours=23))
        store = SQLiteStore(path, create=True)
        batch = [Event.from_dict({"action": "update", "actor": {"type": "user", "id": f"u{i}"}, "source": "web",
                                  "entity": {"type": "doc", "id": f"d{day}-{i}"}, "timestamp": stamp(today + timedelta(minutes=90 * i)),
                                  "context": {"reason": "x" * 200}, "changes": [{"field": "body", "old": "a" * 100, "new": "b" * 100}]})
                 for i in range(12)]
        store.append(batch)
        store.purge(stamp(today - timedelta(days=30)), dry_run=False)
        report = store.verify()
        assert report.ok, (day, report.breaks)
        store.close()
        sizes.append(path.stat().st_size)
    # After the window fills (day 30), the file may settle but must not keep growing.
    assert max(sizes[60:]) <= max(sizes[30:45]) * 1.15, sizes


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_purge_is_timezone_independent(tmp_path, tz):
    # Events every 6 hours across the US DST change of 2026-11-01.
    store = str(tmp_path / f"tz-{tz.replace('/', '_')}.db")
    env = {**os.environ, "TZ": tz, "AUDITCTL_NOW": "2026-11-25T12:00:00Z", "AUDITCTL_HOME": str(tmp_path / "h")}
    lines = "\n".join(json.dumps({"action": "update", "actor": {"type": "user", "id": "u"}, "source": "api",
                                   "entity": {"type": "t", "id": str(i)},
                                   "timestamp": stamp(datetime(2026, 10, 28, tzinfo=UTC) + timedelta(hours=6 * i))})
                      for i in range(40))
    def run(*args, **kw):
        return subprocess.run([sys.executable, "-m", "auditctl", "--store", store, *args], env=env, capture_output=True, text=True, **kw)
    assert run("record", "-", input=lines).returncode == 0
    result = run("purge", "--dry-run", "--older-than", "24d", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["count"], data["cutoff"]) == (18, "2026-11-01T12:00:00.000000Z")
    result = run("purge", "--yes", "--before", "2026-11-02T01:30:00-04:00")
    assert result.returncode == 0 and "deleted 21 events" in result.stdout


def test_verify_file_checks_an_export_offline(cli, tmp_path):
    fill(cli, 6)
    export = tmp_path / "e.jsonl"
    assert cli("export", "-o", str(export)).exit_code == 0
    ok = cli("verify", "--file", str(export), "--store", str(tmp_path / "nowhere.db"), store=False)
    assert ok.exit_code == 0 and "6 events verified" in ok.stdout
    lines = export.read_text().splitlines()
    edited = [line.replace('"new":4', '"new":44') for line in lines]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(edited) + "\n")
    result = cli("verify", "--file", str(bad))
    assert result.exit_code == 65 and "seq 4" in result.stderr
    dropped = tmp_path / "dropped.jsonl"
    dropped.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    result = cli("verify", "--file", str(dropped))
    assert result.exit_code == 65 and "seq 4" in result.stderr
    oldest_first = tmp_path / "asc.jsonl"
    oldest_first.write_text("\n".join(reversed(lines)) + "\n")
    assert cli("verify", "--file", str(oldest_first)).exit_code == 0
