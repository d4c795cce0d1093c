"""The needle indexes (entity id, actor, correlation id, the many-valued keys) are
ordered by a bucket of rowids first (``migrations.needle_buckets``): lookups still
find every match, in every bucket, from the index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from auditctl.model import Event
from auditctl.query import build_query
from auditctl.store import migrations
from auditctl.store.sqlite import SQLiteStore


def event(i: int) -> Event:
    data = {
        "id": f"ev-{i:04d}", "action": "update", "source": "api",
        "actor": {"type": "user", "id": f"u{i % 3}", "email": f"Ann{i % 4}@Example.org"},
        "entity": {"type": "doc", "id": f"doc-{i % 5}"},
        "changes": [{"field": f"f{i % 4}", "old": 1, "new": 2}],
        "context": {"correlation_id": f"corr-{i % 6}"},
    }
    if i % 7 == 0:
        data.update(action="delete", changes=[], entity_ids=[f"doc-{(i + 1) % 5}", f"bulk-{i % 2}"])
    return Event.from_dict(data)


EVENTS = [event(i) for i in range(40)]


def expected(test) -> set[int]:  # type: ignore[no-untyped-def]
    return {i for i, e in enumerate(EVENTS) if test(e)}


def found(store: SQLiteStore, **filters: object) -> set[int]:
    ids = {e.id: i for i, e in enumerate(EVENTS)}
    return {ids[e.id] for e in store.query(build_query(**filters))}  # type: ignore[arg-type]


@pytest.fixture
def small_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(migrations, "NEEDLE_BUCKET_BITS", 2)  # 4 rowids a bucket: 40 events fill 10


def test_lookups_find_their_matches_in_every_bucket(tmp_path: Path, small_buckets: None) -> None:
    store = SQLiteStore(tmp_path / "b.db", create=True)
    store.append(EVENTS)
    sql = store.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events_entity_id'").fetchone()[0]
    assert "rowid >> 2" in sql
    for n in range(5):
        doc = f"doc-{n}"
        assert found(store, entity_id=doc) == expected(lambda e, d=doc: e.entity.id == d or d in e.entity_ids)
    assert found(store, entity_id="bulk-1") == expected(lambda e: "bulk-1" in e.entity_ids)
    for n in range(6):
        corr = f"corr-{n}"
        assert found(store, correlation_id=corr) == expected(lambda e, c=corr: e.context.correlation_id == c)
        assert len(store.related(corr)) == len(expected(lambda e, c=corr: e.context.correlation_id == c))
    for n in range(4):
        field = f"f{n}"
        assert found(store, changed=field) == expected(lambda e, f=field: any(c.field == f for c in e.changes))
        email = f"ann{n}@example.ORG"  # emails match whatever their case
        assert found(store, actor=email) == expected(lambda e, m=email: e.actor.email.lower() == m.lower())
    for n in range(3):
        assert found(store, actor=f"u{n}") == expected(lambda e, a=f"u{n}": e.actor.id == a)
    # Paged, with and without another filter: the list-or-walk choice sees the same matches.
    assert found(store, entity_id="doc-2", limit=3) <= expected(lambda e: e.entity.id == "doc-2" or "doc-2" in e.entity_ids)
    assert found(store, correlation_id="corr-1", actions=["update"], limit=50) == expected(
        lambda e: e.context.correlation_id == "corr-1" and e.action == "update")
    store.close()


@pytest.mark.parametrize("filters", [{"entity_id": "doc-1"}, {"correlation_id": "corr-1"}, {"changed": "f1"},
                                     {"actor": "u1"}, {"actor": "ann1@example.org", "limit": 50}])
def test_lookups_are_answered_from_the_bucketed_index(tmp_path: Path, filters: dict[str, str]) -> None:
    store = SQLiteStore(tmp_path / "p.db", create=True)
    store.append(EVENTS)
    plan = " | ".join(store.explain(build_query(**filters)))  # type: ignore[arg-type]
    assert "<expr>=?" in plan and "SCAN events " not in plan + " " and "SCAN event_keys" not in plan, plan
    store.close()


def test_a_correlation_group_is_read_from_the_correlation_index(tmp_path: Path) -> None:
    from auditctl.store.sqlite import _related_sql

    store = SQLiteStore(tmp_path / "r.db", create=True)
    store.append(EVENTS)
    plan = " | ".join(row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + _related_sql(), ("default", "corr-1")))
    assert "events_correlation (org=? AND <expr>=? AND correlation_id=?)" in plan and "events_time" not in plan, plan
    assert [e.id for e in store.related("corr-1")] == [e.id for e in EVENTS if e.context.correlation_id == "corr-1"]
    store.close()


def test_a_store_with_the_older_indexes_is_migrated_and_answers_the_same(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = SQLiteStore(path, create=True)
    store.append(EVENTS)
    store.close()
    conn = sqlite3.connect(path)
    for name, ddl in (("events_entity_id", "CREATE INDEX events_entity_id ON events (org, entity_id)"),
                      ("events_actor_id", "CREATE INDEX events_actor_id ON events (org, actor_id)"),
                      ("events_actor_email",
                       "CREATE INDEX events_actor_email ON events (org, actor_email COLLATE NOCASE)"),
                      ("events_correlation", "CREATE INDEX events_correlation ON events (org, correlation_id)"),
                      ("event_keys_lookup", "CREATE INDEX event_keys_lookup ON event_keys (kind, value, event_rowid)")):
        conn.execute(f"DROP INDEX {name}")
        conn.execute(ddl)
    conn.execute("DELETE FROM _auditctl_migrations WHERE name = 'm004_bucketed_needles'")
    conn.commit()
    conn.close()
    # Read as it is (a reader does not migrate): the lookups find the same events.
    reader = SQLiteStore(path)
    assert found(reader, entity_id="doc-3") == expected(lambda e: e.entity.id == "doc-3" or "doc-3" in e.entity_ids)
    assert found(reader, actor="ANN2@example.org") == expected(lambda e: e.actor.email == "Ann2@Example.org")
    reader.close()
    writer = SQLiteStore(path, create=True)
    writer.append([event(99)])
    for name in migrations.deferred_indexes():
        sql = writer.conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
        assert f"rowid >> {migrations.NEEDLE_BUCKET_BITS}" in sql, sql
    assert found(writer, correlation_id="corr-2") == expected(lambda e: e.context.correlation_id == "corr-2")
    assert writer.verify().ok
    writer.close()
