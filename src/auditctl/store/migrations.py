"""Schema migrations for the SQLite store, registered in order and recorded once run.

Each migration runs inside the caller's write transaction; ``_auditctl_migrations``
records which ran and ``PRAGMA user_version`` mirrors the count, so an older
auditctl can tell it is looking at a newer store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils

# sqlite_utils is imported only when a migration runs: opening an up-to-date store
# (every search) must not pay ~80 ms for it.
Migration = Callable[["sqlite_utils.Database"], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(func: Migration) -> Migration:
    MIGRATIONS.append((func.__name__, func))
    return func


# The needle indexes: entity id, actor, correlation id and the many-valued keys are
# random, so every batch of inserts dirties thousands of their pages (at a million
# events that was 20 KB written per event). A bulk import into an empty store drops
# them and builds each once at the end (SQLiteStore.bulk_import); a store opened for
# writing rebuilds any that a killed import left missing.
#
# Each is ordered by a bucket of rowids first (``needle_buckets``), so a commit's
# new entries all land among the newest bucket's pages, not anywhere in the index:
# the random ones (entity id, correlation id, the many-valued keys) and the actor
# ones, where each of a few hundred actors adds at the end of its own run. Storing
# 100,000 events in commits of 1,000 (the server's case) wrote 515 pages a commit
# instead of 1,204. A lookup asks each bucket in turn: 62 at a million events, a
# few µs each.
NEEDLE_BUCKET_BITS = 14


def deferred_indexes() -> dict[str, str]:
    """The needle indexes' DDL by name (with today's ``NEEDLE_BUCKET_BITS``)."""
    bits = NEEDLE_BUCKET_BITS
    return {
        "events_entity_id": f"CREATE INDEX IF NOT EXISTS events_entity_id ON events (org, rowid >> {bits}, entity_id)",
        "events_actor_id": f"CREATE INDEX IF NOT EXISTS events_actor_id ON events (org, rowid >> {bits}, actor_id)",
        "events_actor_email":
            f"CREATE INDEX IF NOT EXISTS events_actor_email ON events (org, rowid >> {bits}, actor_email COLLATE NOCASE)",
        "events_correlation":
            f"CREATE INDEX IF NOT EXISTS events_correlation ON events (org, rowid >> {bits}, correlation_id)",
        "event_keys_lookup":
            f"CREATE INDEX IF NOT EXISTS event_keys_lookup ON event_keys (kind, event_rowid >> {bits}, value, event_rowid)",
    }


def needle_buckets(rowid: str) -> tuple[str, str]:
    """The WITH clause listing every bucket a rowid can be in, and the test that
    ``rowid`` (a column) is in one: the pair that lets a lookup use a bucketed index.

    The buckets are counted in the statement itself, so that they cover exactly the
    rows its snapshot sees, however many a writer adds meanwhile."""
    bits = NEEDLE_BUCKET_BITS
    return (f"WITH RECURSIVE bucket(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM bucket"
            f" WHERE n < (SELECT max(rowid) FROM events) >> {bits}) ",
            f"({rowid} >> {bits}) IN (SELECT n FROM bucket)")


@migration
def m001_events(db: Any) -> None:  # sqlite_utils.Database; Any: db[...] may also be a View
    db["events"].create(
        {
            "rowid": int,
            "org": str,
            "seq": int,
            "id": str,
            "timestamp": str,
            "recorded_at": str,
            "action": str,
            "actor_type": str,
            "actor_id": str,
            "actor_email": str,
            "source": str,
            "entity_type": str,
            "entity_id": str,
            "correlation_id": str,
            "parent_id": str,
            "reason": str,
            "doc": str,
            "prev_hash": str,
            "hash": str,
        },
        pk="rowid",
        not_null=[
            "org", "seq", "id", "timestamp", "recorded_at", "action", "actor_type",
            "source", "doc", "prev_hash", "hash",
        ],
    )
    events = db["events"]
    # Chosen with EXPLAIN QUERY PLAN (SQLiteStore._plan, tests/test_query_plans.py).
    # The time and action indexes end in (timestamp, seq): "newest first" walks them
    # in order with no sort. Needle filters (entity id, actor, correlation id) are
    # looked up to a handful of rowids, then sorted, so their indexes stay short.
    # Entity type and source (a few values each, ~10-30% of events apiece) filter
    # the time walk instead: an index on them would cost every insert and rarely win.
    events.create_index(["id"], index_name="events_id", unique=True)
    events.create_index(["org", "seq"], index_name="events_org_seq", unique=True)
    events.create_index(["org", "timestamp", "seq"], index_name="events_time")
    events.create_index(["org", "action", "timestamp", "seq"], index_name="events_action")
    events.create_index(["org", "entity_id"], index_name="events_entity_id")
    events.create_index(["org", "actor_id"], index_name="events_actor_id")
    # --actor matches emails case-insensitively: the index must use the same collation.
    db.execute("CREATE INDEX events_actor_email ON events (org, actor_email COLLATE NOCASE)")
    events.create_index(["org", "correlation_id"], index_name="events_correlation")

    # Many-valued keys: entity ids of bulk actions ('e') and changed field names ('c').
    db["event_keys"].create({"kind": str, "value": str, "event_rowid": int}, not_null=["kind", "value", "event_rowid"])
    db["event_keys"].create_index(["kind", "value", "event_rowid"], index_name="event_keys_lookup")
    db["event_keys"].create_index(["event_rowid"], index_name="event_keys_event")

    # Substring search without scanning: a trigram index, contentless so it stores
    # no second copy of the text.
    db.execute("CREATE VIRTUAL TABLE events_search USING fts5(text, content='', tokenize='trigram')")
    # Merge segments 16 at a time rather than 4: a third less work per insert
    # (measured on 100k events), and searches still read few segments.
    db.execute("INSERT INTO events_search (events_search, rank) VALUES ('automerge', 16)")

    # The chain: the newest link per org, purged rows' links (tombstones) and the
    # signed anchor below which everything was purged.
    db["chain_heads"].create({"org": str, "seq": int, "hash": str}, pk="org")
    db["chain_tombstones"].create(
        {"org": str, "seq": int, "prev_hash": str, "hash": str, "purge_id": str, "signature": str},
        pk=("org", "seq"),
    )
    db["chain_anchors"].create(
        {"org": str, "through_seq": int, "through_hash": str, "signature": str}, pk="org"
    )
    db["store_meta"].create({"key": str, "value": str}, pk="key")



@migration
def m002_tokens(db: Any) -> None:  # sqlite_utils.Database
    # Server API tokens: only the SHA-256 of the secret is kept, never the secret.
    db["api_tokens"].create(
        {
            "id": str,
            "name": str,
            "org": str,
            "role": str,
            "secret_hash": str,
            "created_at": str,
            "expires_at": str,
            "revoked_at": str,
        },
        pk="id",
        not_null=["org", "role", "secret_hash", "created_at"],
    )
    db["api_tokens"].create_index(["secret_hash"], index_name="api_tokens_hash", unique=True)

@migration
def m003_search_shards(db: Any) -> None:  # sqlite_utils.Database
    # The search index split by rowid, so a purge drops whole shards (search_index.py).
    from auditctl.store import search_index

    db.execute("CREATE TABLE search_shards (shard INTEGER PRIMARY KEY)")
    low, high = (db.execute(f"SELECT {f}(rowid) FROM events").fetchone()[0] for f in ("min", "max"))
    if low is not None:
        search_index.add(db.conn, low, high)
    db.execute("DROP TABLE events_search")


@migration
def m004_bucketed_needles(db: Any) -> None:  # sqlite_utils.Database
    # The needle indexes, ordered by rowid bucket first (``deferred_indexes``).
    for name, ddl in deferred_indexes().items():
        db.execute(f"DROP INDEX IF EXISTS {name}")
        db.execute(ddl)


def applied(conn: sqlite3.Connection) -> list[str]:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='_auditctl_migrations'"
    ).fetchone()
    if not exists:
        return []
    return [row[0] for row in conn.execute("SELECT name FROM _auditctl_migrations ORDER BY rowid")]


def pending(conn: sqlite3.Connection) -> list[tuple[str, Migration]]:
    done = set(applied(conn))
    return [(name, fn) for name, fn in MIGRATIONS if name not in done]


def run(conn: sqlite3.Connection, now: str) -> None:
    """Apply pending migrations; the caller holds a write transaction."""
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _auditctl_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    for name, fn in pending(conn):
        fn(db)
        conn.execute("INSERT INTO _auditctl_migrations (name, applied_at) VALUES (?, ?)", (name, now))
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
