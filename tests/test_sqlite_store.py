"""SQLite-specific guarantees: pragmas, migrations, secrets never on disk, concurrency."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from auditctl.errors import StoreMissing
from auditctl.model import Event
from auditctl.store.sqlite import SQLiteStore

SECRETS = [
    "hunter2-PLAIN-PASSWORD",
    "sk_live_TOPSECRET_9f8e7d",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJlLXNlY3JldA",
    "Zm9vOmJhcg-BASICAUTH",
    "s3cr3t-URL-PASS",
    "actl_TOKENLEAKED12345678",
    "cookie-value-0xDEADBEEF",
    "PRIVATEKEYMATERIAL-ABCDEF",
]


def secret_events() -> list[Event]:
    raw = [
        {"changes": [{"field": "password", "old": SECRETS[0], "new": "x" + SECRETS[0]}]},
        {"metadata": {"config": {"stripe": {"api_key": SECRETS[1]}}}},
        {"context": {"user_agent": "x", "reason": f"Authorization: Bearer {SECRETS[2]}"}},
        {"metadata": {"headers": [{"Authorization": f"Basic {SECRETS[3]}"}]}},
        {"changes": [{"field": "webhook_url", "old": f"https://svc:{SECRETS[4]}@hooks.example.com/x", "new": "https://ok.example.com"}]},
        {"metadata": {"note": f"rotated {SECRETS[5]} today"}},
        {"context": {"session_cookie": SECRETS[6]}},
        {"metadata": {"pem": f"-----BEGIN RSA PRIVATE KEY-----\n{SECRETS[7]}\n-----END RSA PRIVATE KEY-----"}},
    ]
    base = {"action": "update", "actor": {"type": "user", "id": "u"}, "source": "api", "entity": {"type": "acct", "id": "a"}}
    return [Event.from_dict({**base, **extra}) for extra in raw]


def all_bytes(path) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            data += candidate.read_bytes()
    return data


def test_no_secret_reaches_the_file_or_its_wal(tmp_path):
    path = tmp_path / "s.db"
    store = SQLiteStore(path, create=True)
    store.append(secret_events())
    # Before any checkpoint the data sits in the WAL: check it there, then after.
    raw = all_bytes(path)
    assert path.with_name("s.db-wal").exists()
    for secret in SECRETS:
        assert secret.encode() not in raw, secret
    store.close()
    raw = all_bytes(path)
    for secret in SECRETS:
        assert secret.encode() not in raw, secret


def test_secrets_through_the_cli_paths_never_reach_disk(cli, store_path, tmp_path):
    cli("record", "update", "--entity", "a:b", "--old", f"password={SECRETS[0]}", "--new", "password=x",
        "--meta", f"api_key={SECRETS[1]}", "--reason", f"Bearer {SECRETS[2]}")
    cli("record", "--json", json.dumps(secret_events()[4].to_dict() | {"id": None, "seq": None}))
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps({k: v for k, v in e.to_dict().items() if v is not None}) for e in secret_events()))
    assert cli("import", str(src)).exit_code == 0
    raw = all_bytes(store_path)
    for secret in SECRETS:
        assert secret.encode() not in raw, secret


def test_pragmas_and_recorded_migrations(tmp_path):
    path = tmp_path / "p.db"
    store = SQLiteStore(path, create=True)
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    names = [r[0] for r in conn.execute("SELECT name FROM _auditctl_migrations")]
    assert names[0] == "m001_events"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(names)
    store.close()


def test_reads_never_create_a_store(tmp_path):
    with pytest.raises(StoreMissing) as err:
        SQLiteStore(tmp_path / "nope.db")
    assert "nope.db" in err.value.message
    assert not (tmp_path / "nope.db").exists()


def test_seq_is_gap_free_and_ids_time_sortable(tmp_path):
    store = SQLiteStore(tmp_path / "g.db", create=True)
    base = {"action": "create", "actor": {"type": "system", "id": "s"}, "source": "system", "entity": {"type": "t"}}
    for _ in range(5):
        store.append([Event.from_dict(base) for _ in range(7)])
    rows = store.conn.execute("SELECT seq, id FROM events ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == list(range(1, 36))
    ids = [r[1] for r in rows]
    assert ids == sorted(ids) and len(set(ids)) == 35
    store.close()


WRITER = """
import sys
from auditctl.store.sqlite import SQLiteStore
from auditctl.model import Event
store = SQLiteStore(sys.argv[1], create=True)
base = {"action": "create", "actor": {"type": "system", "id": sys.argv[2]}, "source": "system", "entity": {"type": "t"}}
for i in range(25):
    store.append([Event.from_dict(base)])
store.close()
"""


def test_concurrent_writers_never_fork_the_chain(tmp_path):
    path = tmp_path / "c.db"
    SQLiteStore(path, create=True).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{i}"]) for i in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    store = SQLiteStore(path)
    report = store.verify()
    assert report.ok and report.checked == 100 and report.head_seq == 100
    store.close()


def test_search_uses_the_trigram_index_not_a_scan(tmp_path):
    from auditctl.query import build_query

    store = SQLiteStore(tmp_path / "q.db", create=True)
    store.append(secret_events())
    plan = " | ".join(store.explain(build_query(terms=["ann@exa"])))
    assert "SCAN events_search_0 VIRTUAL TABLE" in plan, plan
    plan = " | ".join(store.explain(build_query(actions=["delete"], since="7d")))
    assert "SCAN events" not in plan
    store.close()


def test_corrupt_store_is_reported_and_left_alone(tmp_path, cli):
    path = tmp_path / "k.db"
    store = SQLiteStore(path, create=True)
    store.append(secret_events())
    store.close()
    conn = sqlite3.connect(path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events'").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    page = size * (root - 1)
    data[page:page + size] = b"\x5a" * size  # garbage over the events table's root page
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    for command in (["verify"], ["search"], ["record", "update", "--entity", "a:b"]):
        result = cli("--store", str(path), *command, store=False)
        assert result.exit_code in (65, 74), (command, result.stdout, result.stderr)
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert path.read_bytes() == before


def test_a_new_store_has_8_kb_pages_and_an_old_one_keeps_its_own(tmp_path):
    from auditctl.store.sqlite import PAGE_SIZE

    new = SQLiteStore(tmp_path / "new.db", create=True)
    assert new.conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE == 8192
    assert new.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # still incremental
    new.close()
    old = sqlite3.connect(tmp_path / "old.db")
    old.execute("PRAGMA page_size = 4096")
    old.execute("CREATE TABLE unrelated (x)")
    old.close()
    store = SQLiteStore(tmp_path / "old.db", create=True)
    store.append(secret_events())
    assert store.conn.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert store.verify().ok
