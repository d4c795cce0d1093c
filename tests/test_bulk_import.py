"""A bulk import into an empty store builds the needle indexes once, at the end."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from auditctl.model import Event
from auditctl.query import build_query
from auditctl.store import migrations
from auditctl.store.sqlite import SQLiteStore


def indexes(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    finally:
        conn.close()


def batch(start: int, count: int) -> list[Event]:
    return [Event.from_dict({"action": "update", "actor": {"type": "user", "id": f"u{i % 7}", "email": f"U{i % 7}@x.org"},
                             "source": "api", "entity": {"type": "doc", "id": f"doc-{i}"}, "entity_ids": [f"bulk-{i % 3}"],
                             "changes": [{"field": "title", "old": "a", "new": "b"}],
                             "context": {"correlation_id": f"corr-{i % 5}"}})
            for i in range(start, start + count)]


def test_an_empty_store_defers_the_needle_indexes_and_builds_them_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "bulk.db"
    store = SQLiteStore(path, create=True)
    with store.bulk_import():
        assert not indexes(path) & set(migrations.deferred_indexes())
        store.append(batch(0, 30))
        # Meanwhile every filter still answers, from the table.
        assert [e.entity.id for e in store.query(build_query(entity_id="doc-4"))] == ["doc-4"]
        assert store.count(build_query(actor="u3@X.ORG")) == 4
        assert store.count(build_query(correlation_id="corr-2")) == 6
        assert store.count(build_query(entity_id="bulk-1")) == 10
        store.append(batch(30, 30))
    assert set(migrations.deferred_indexes()) <= indexes(path)
    assert store.count(build_query(entity_id="bulk-1")) == 20
    plan = " ".join(store.explain(build_query(correlation_id="corr-2")))
    assert "events_correlation" in plan, plan
    store.close()


def test_a_store_with_events_keeps_its_indexes_during_an_import(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    store = SQLiteStore(path, create=True)
    store.append(batch(0, 5))
    with store.bulk_import():
        assert set(migrations.deferred_indexes()) <= indexes(path)
        store.append(batch(5, 5))
    store.close()


def test_indexes_a_killed_import_left_out_come_back_on_the_next_write_open(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    store = SQLiteStore(path, create=True)
    store.append(batch(0, 5))
    store.close()
    conn = sqlite3.connect(path)
    for name in migrations.deferred_indexes():
        conn.execute(f"DROP INDEX {name}")
    conn.commit()
    conn.close()
    reader = SQLiteStore(path)  # a search does not write
    assert reader.count(build_query(entity_id="doc-3")) == 1
    reader.close()
    assert not indexes(path) & set(migrations.deferred_indexes())
    SQLiteStore(path, create=True).close()  # what record/import open
    assert set(migrations.deferred_indexes()) <= indexes(path)


def test_the_deferred_indexes_are_the_ones_a_new_store_has(tmp_path: Path) -> None:
    """Same names, columns and expressions as the migrations make them (m001, m004)."""
    path = tmp_path / "new.db"
    SQLiteStore(path, create=True).close()
    conn = sqlite3.connect(path)
    made = {name: [tuple(row[1:]) for row in conn.execute(f"PRAGMA index_xinfo({name})")]
            for name in migrations.deferred_indexes()}
    for name, ddl in migrations.deferred_indexes().items():
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
        assert " ".join(sql.replace('"', '').split()) == ddl.replace(" IF NOT EXISTS", ""), name
        conn.execute(f"DROP INDEX {name}")
        conn.execute(ddl)
        assert [tuple(row[1:]) for row in conn.execute(f"PRAGMA index_xinfo({name})")] == made[name], name
    conn.close()


def test_an_import_checkpoints_in_the_background_and_restores_the_writers_setting(tmp_path: Path) -> None:
    """The writer leaves WAL checkpoints to a thread of its own while it imports: a
    committed batch reaches the database file without the writer copying it."""
    import threading
    import time

    from auditctl.store.checkpoint import FALLBACK_PAGES

    path = tmp_path / "ckpt.db"
    store = SQLiteStore(path, create=True)
    before = store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    with store.bulk_import():
        assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == FALLBACK_PAGES
        store.append(batch(0, 20))  # a few pages: far below the writer's own threshold
        deadline = time.monotonic() + 10
        while b"doc-19" not in path.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b"doc-19" in path.read_bytes()
    assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == before
    assert not [t for t in threading.enumerate() if t.name == "auditctl-checkpoint"]
    store.close()


def test_the_deferred_builds_sort_with_a_helper_thread_and_put_it_back(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    store = SQLiteStore(tmp_path / "bulk.db", create=True)
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    with store.bulk_import():
        store.append(batch(0, 30))
        statements.clear()
    builds = [i for i, sql in enumerate(statements) if sql.startswith("CREATE INDEX")]
    assert len(builds) == len(migrations.deferred_indexes())
    threads = [i for i, sql in enumerate(statements) if sql.startswith("PRAGMA threads")]
    assert [statements[i] for i in threads] == ["PRAGMA threads = 1", "PRAGMA threads = 0"]
    assert threads[0] < builds[0] and builds[-1] < threads[1]
    assert store.conn.execute("PRAGMA threads").fetchone()[0] == 0


def test_an_import_into_an_empty_store_uses_a_smaller_page_cache_and_restores_it(tmp_path: Path) -> None:
    from auditctl.store.sqlite import BULK_CACHE_KIB

    store = SQLiteStore(tmp_path / "bulk.db", create=True)
    usual = store.conn.execute("PRAGMA cache_size").fetchone()[0]
    with store.bulk_import():
        assert store.conn.execute("PRAGMA cache_size").fetchone()[0] == BULK_CACHE_KIB != usual
        store.append(batch(0, 3))
    assert store.conn.execute("PRAGMA cache_size").fetchone()[0] == usual
    with store.bulk_import():  # not empty any more: the usual cache
        assert store.conn.execute("PRAGMA cache_size").fetchone()[0] == usual
