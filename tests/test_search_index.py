"""The search index is split by rowid into shards; a purge drops the shards it empties."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auditctl.model import Event
from auditctl.query import build_query
from auditctl.store import search_index
from auditctl.store.sqlite import SQLiteStore

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(day: int, i: int) -> Event:
    return Event.from_dict({
        "action": "update", "actor": {"type": "user", "id": f"user-{i}", "email": f"ann{i}@example.org"},
        "source": "web", "entity": {"type": "doc", "id": f"doc-{i}"},
        "timestamp": stamp(NOW - timedelta(days=40 - day, minutes=-i)),
        "context": {"reason": f"secret-reason-Q{i:04d}X", "correlation_id": f"corr-{i % 7}"},
    })


@pytest.fixture
def small_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_index, "SHARD_ROWS", 10)
    monkeypatch.setenv("AUDITCTL_NOW", stamp(NOW))


def shard_list(store: SQLiteStore) -> list[int]:
    return search_index.shards(store.conn)


def assert_reasons_gone(path: Path, purged: range) -> None:
    """No byte of the purged events' reasons is left in the file or its WAL."""
    raw = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    for i in purged:
        assert f"Q{i:04d}X".encode() not in raw, i


def test_events_land_in_shards_by_rowid_and_every_shard_is_searched(tmp_path: Path, small_shards: None) -> None:
    store = SQLiteStore(tmp_path / "s.db", create=True)
    store.append([event(i // 3, i) for i in range(35)])
    assert shard_list(store) == [3, 2, 1, 0]
    hits = list(store.query(build_query(terms=["example.org"])))
    assert len(hits) == 35
    assert [e.actor.id for e in store.query(build_query(terms=["Q0003X"]))] == ["user-3"]
    assert [e.actor.id for e in store.query(build_query(terms=["q0033x"]))] == ["user-33"]
    assert store.count(build_query(terms=["corr-2"])) == 5
    store.close()


def test_purge_drops_emptied_shards_rewrites_the_cut_one_and_leaves_no_trace(tmp_path: Path, small_shards: None) -> None:
    path = tmp_path / "p.db"
    store = SQLiteStore(path, create=True)
    # 60 events, 3 a day; a purge of the oldest 15 days takes rowids 1-45.
    store.append([event(i // 3, i) for i in range(60)])
    result = store.purge(stamp(NOW - timedelta(days=25)), dry_run=False)
    assert result.count == 45
    # Shards 0-3 (rowids 0-39) emptied and dropped; shard 4 (40-49) cut; 5 kept; 6 holds the purge event.
    assert shard_list(store) == [6, 5, 4]
    left = sorted(int(e.actor.id.split("-")[1]) for e in store.query(build_query(terms=["example.org"])))
    assert left == list(range(45, 60))
    assert list(store.query(build_query(terms=["Q0044X"]))) == []
    assert [e.actor.id for e in store.query(build_query(terms=["Q0045X"]))] == ["user-45"]
    assert store.verify().ok
    store.close()
    assert_reasons_gone(path, range(45))


def test_a_purge_gives_pages_back_so_the_file_shrinks(tmp_path: Path) -> None:
    os.environ["AUDITCTL_NOW"] = stamp(NOW)
    path = tmp_path / "big.db"
    store = SQLiteStore(path, create=True)
    store.append([event(i // 30, i) for i in range(600)])
    store.close()
    before = path.stat().st_size
    store = SQLiteStore(path)
    assert store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    store.purge(stamp(NOW - timedelta(days=25)), dry_run=False)
    assert store.conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    store.close()
    assert path.stat().st_size < before


def test_a_routine_purge_keeps_its_zeroed_pages_for_the_next_events(tmp_path: Path, small_shards: None) -> None:
    """A tenth of the log purged: no shrinking (it would move the newest pages), but
    the freed pages hold no purged text and the next events fill them. (Small shards:
    a cut shard's rewrite needs room for a whole shard, as it would in a small store.)"""
    path = tmp_path / "routine.db"
    store = SQLiteStore(path, create=True)
    store.append([event(i // 60, i) for i in range(600)])  # ten days, 60 events a day
    store.close()
    before = path.stat().st_size
    store = SQLiteStore(path)
    assert store.purge(stamp(NOW - timedelta(days=39)), dry_run=False).count == 60
    free = store.conn.execute("PRAGMA freelist_count").fetchone()[0]
    assert free > 0
    store.close()
    assert path.stat().st_size == before
    raw = path.read_bytes()
    for i in range(60):
        assert f"Q{i:04d}X".encode() not in raw, i
    assert b"Q0060X" in raw  # the survivors' text is still there: the check can see text
    store = SQLiteStore(path)
    store.append([event(20, 1000 + i) for i in range(60)])
    assert store.conn.execute("PRAGMA freelist_count").fetchone()[0] < free / 2
    store.close()


def test_an_older_store_with_one_search_table_is_migrated(tmp_path: Path) -> None:
    """m003 moves what the single index held into shards and drops it."""
    import sqlite3

    from auditctl.store import migrations

    path = tmp_path / "old.db"
    store = SQLiteStore(path, create=True)
    store.append([event(1, i) for i in range(5)])
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    # Make it look like a store from before m003: one events_search table, no shards.
    conn.execute("DELETE FROM _auditctl_migrations WHERE name = 'm003_search_shards'")
    for shard in [row[0] for row in conn.execute("SELECT shard FROM search_shards")]:
        conn.execute(f"DROP TABLE {search_index.table(shard)}")
    conn.execute("DROP TABLE search_shards")
    conn.execute("CREATE VIRTUAL TABLE events_search USING fts5(text, content='', tokenize='trigram')")
    conn.execute(f"PRAGMA user_version = {len(migrations.MIGRATIONS) - 1}")
    conn.close()
    store = SQLiteStore(path)
    assert shard_list(store) == [0]
    assert store.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'events_search'").fetchone() is None
    assert len(list(store.query(build_query(terms=["Q0003X"])))) == 1
    store.close()


def test_covering_trigrams_take_every_third_and_the_last() -> None:
    assert search_index.covering_trigrams("tara.chen") == '"tar" AND "a.c" AND "hen"'
    assert search_index.covering_trigrams("abcd") == '"abc" AND "bcd"'
    assert search_index.covering_trigrams('a"bc') == '"a""b" AND """bc"'


def test_rows_holding_the_trigrams_apart_are_not_matches(tmp_path: Path) -> None:
    """The index is asked for every third trigram; the row test keeps only exact substrings."""
    os.environ["AUDITCTL_NOW"] = stamp(NOW)
    store = SQLiteStore(tmp_path / "t.db", create=True)
    emails = ["tara.chen@x.org", "tar+a.c+hen@x.org", "hen.a.ctar@x.org", "TARA.CHEN@X.ORG"]
    store.append([Event.from_dict({"action": "login", "actor": {"type": "user", "id": f"u{i}", "email": e},
                                   "source": "web"}) for i, e in enumerate(emails)])
    for limit in (None, 10):
        got = sorted(e.actor.email for e in store.query(build_query(terms=["tara.chen"], limit=limit)))
        assert got == ["TARA.CHEN@X.ORG", "tara.chen@x.org"], limit
    assert store.count(build_query(terms=["tara.chen"])) == 2
    store.close()


def reason_event(i: int, reason: str) -> Event:
    return Event.from_dict({
        "action": "update", "actor": {"type": "user", "id": f"u{i}"}, "source": "web",
        "entity": {"type": "doc", "id": f"d{i}"}, "timestamp": stamp(NOW - timedelta(hours=i)),
        "context": {"reason": reason},
    })


REASONS = ["Überweisung an Straße", "ÜBERWEISUNG storniert", "übe|rwe|isu|ung: the trigrams apart", "ΣΟΦΊΑ Ελλάδα", "plain ascii"]


@pytest.mark.parametrize(("term", "expected"), [
    ("überweisung", {0, 1}),
    ("ÜberWeisung", {0, 1}),
    ("STRASSE", set()),  # folding is lower-casing, not German ß expansion
    ("straße", {0}),
    ("σοφία", {3}),  # Greek: ά/Ί fold with the case
    ("Ü", {0, 1, 2}),  # too short for trigrams: the scan folds alike
    ("ascii", {4}),
])
def test_non_ascii_terms_fold_case_and_match_exactly(tmp_path: Path, term: str, expected: set[int]) -> None:
    store = SQLiteStore(tmp_path / "u.db", create=True)
    store.append([reason_event(i, reason) for i, reason in enumerate(REASONS)])
    for limit in (None, 2):  # the list of matches, and the newest-first walk
        found = {int(e.actor.id[1:]) for e in store.query(build_query(terms=[term], limit=limit))}
        assert found == expected if limit is None else found <= expected and len(found) == min(2, len(expected))
    store.close()


def test_new_shards_keep_no_positions_and_older_shards_still_answer(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "d.db", create=True)
    store.append([reason_event(i, reason) for i, reason in enumerate(REASONS)])
    ddl = store.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events_search_0'").fetchone()[0]
    assert "detail=none" in ddl
    # A shard made before detail=none (with positions) answers the same queries.
    conn = store.conn
    conn.execute("DROP TABLE events_search_0")
    conn.execute("CREATE VIRTUAL TABLE events_search_0 USING fts5(text, content='', columnsize=0, tokenize='trigram')")
    conn.execute(f"INSERT INTO events_search_0 (rowid, text) SELECT rowid, {search_index.SEARCH_TEXT_SQL} FROM events")
    assert {e.actor.id for e in store.query(build_query(terms=["ÜBERWEISUNG"]))} == {"u0", "u1"}
    assert {e.actor.id for e in store.query(build_query(terms=["plain asc"]))} == {"u4"}
    store.close()


def test_new_shards_index_each_field_in_a_column_of_its_own(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "c.db", create=True)
    store.append([event(1, i) for i in range(3)])
    columns = [row[1] for row in store.conn.execute("PRAGMA table_info(events_search_0)")]
    assert columns == list(search_index.SEARCH_FIELDS)
    # No trigram spans two fields, as the end of the action, the separator and the entity type would.
    name = "events_search_0"
    assert store.conn.execute(f"SELECT count(*) FROM {name} WHERE {name} MATCH ?", ('"e\x1fd"',)).fetchone()[0] == 0
    assert store.conn.execute(f"SELECT count(*) FROM {name} WHERE {name} MATCH ?", ('"doc"',)).fetchone()[0] == 3
    # Every field is still searched, each on its own: a term across two never matches.
    for term in ("ann1@example", "user-1", "updat", "doc-1", "web", "corr-1", "reason-Q0001"):
        assert [e.actor.id for e in store.query(build_query(terms=[term]))] in (["user-1"], ["user-2", "user-1", "user-0"]), term
    assert list(store.query(build_query(terms=["updatedoc"]))) == []
    store.close()


def test_a_one_column_shard_from_an_older_store_takes_new_events_and_purges(tmp_path: Path, small_shards: None) -> None:
    path = tmp_path / "one.db"
    store = SQLiteStore(path, create=True)
    store.append([event(i // 3, i) for i in range(6)])
    conn = store.conn
    conn.execute("DROP TABLE events_search_0")
    conn.execute("CREATE VIRTUAL TABLE events_search_0 USING fts5(text, content='', columnsize=0, detail=none,"
                 " tokenize='trigram')")
    conn.execute(f"INSERT INTO events_search_0 (rowid, text) SELECT rowid, {search_index.SEARCH_TEXT_SQL} FROM events")
    conn.commit()
    store.append([event(i // 3, i) for i in range(6, 15)])  # rowids 7-9 into the old shard, 10-15 into a new one
    assert [row[1] for row in conn.execute("PRAGMA table_info(events_search_0)")] == ["text"]
    assert [row[1] for row in conn.execute("PRAGMA table_info(events_search_1)")] == list(search_index.SEARCH_FIELDS)
    assert sorted(int(e.actor.id.split("-")[1]) for e in store.query(build_query(terms=["example.org"]))) == list(range(15))
    # A purge cutting through the old shard takes its rows out and rewrites it.
    assert store.purge(stamp(NOW - timedelta(days=38)), dry_run=False).count == 6
    assert shard_list(store)[-1] == 0
    assert sorted(int(e.actor.id.split("-")[1]) for e in store.query(build_query(terms=["example.org"]))) == list(range(6, 15))
    assert list(store.query(build_query(terms=["Q0005X"]))) == []
    assert store.verify().ok
    store.close()
    assert_reasons_gone(path, range(6))
