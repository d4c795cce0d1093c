"""The free-text search index: contentless FTS5 trigram tables, one per range of rowids.

One index over every event made purge slow: deleting from a contentless FTS5 table
only adds delete markers, so making purged text really gone meant rewriting
(``optimize``) the whole index — most of a purge's time at a million events. Split
by rowid into shards of ``SHARD_ROWS`` (events arrive roughly in time order, so the
oldest events fill the lowest shards), a purge drops the shards it empties — their
pages are freed and, with ``secure_delete``, zeroed — and rewrites only the shards
it cuts through. Searches ask every shard; each answers from its own small index.

Everything here runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3

SHARD_ROWS = 100_000

# The eight fields free-text search looks in, each a column of a shard: a term never
# spans two fields (it is stripped of control characters), so neither need the
# trigrams. Older shards hold one column, the fields joined by U+001F: every row
# then had some 14 trigrams spanning a separator, and filling a shard with
# 100,000 benchmark events took a third longer (12.6 µs a row against 9.4).
SEARCH_FIELDS = ("actor_email", "actor_id", "action", "entity_type", "entity_id", "source", "correlation_id",
                 "reason")
# The same fields joined by U+001F: a row's text for the exact test of a match, and
# what the one column of an older shard holds.
SEARCH_TEXT_SQL = (
    "coalesce(actor_email,'') || char(31) || coalesce(actor_id,'') || char(31) || action"
    " || char(31) || coalesce(entity_type,'') || char(31) || coalesce(entity_id,'')"
    " || char(31) || source || char(31) || coalesce(correlation_id,'') || char(31) || coalesce(reason,'')"
)
_OLD_LAYOUT = ("text",)


def fold(text: str | None) -> str | None:
    """Lower case, as the row test of a non-ASCII search term (SQL ``auditctl_fold``).

    SQLite's lower() folds ASCII letters only; the trigram index folds Unicode case
    too ('Ä' finds 'ä'), and a row it returns must pass the test the same way."""
    return None if text is None else text.lower()


def table(shard: int) -> str:
    return f"events_search_{int(shard)}"


def shards(conn: sqlite3.Connection) -> list[int]:
    """The shards that exist, newest first."""
    return [row[0] for row in conn.execute("SELECT shard FROM search_shards ORDER BY shard DESC")]


def _ensure(conn: sqlite3.Connection, shard: int) -> None:
    if conn.execute("SELECT 1 FROM search_shards WHERE shard = ?", (shard,)).fetchone():
        return
    name = table(shard)
    # Contentless: no second copy of the text. columnsize=0: no per-row sizes (only
    # ranking would read them). detail=none: rowids without positions — searches ask
    # for single trigrams and test each row's text, so positions were never read. For
    # 100,000 benchmark events the shard holds 11 MB instead of 30, takes a quarter
    # less CPU to fill and is rewritten after a purge 2.7x sooner (0.43 s vs 1.16 s).
    conn.execute(
        f"CREATE VIRTUAL TABLE {name} USING fts5({', '.join(SEARCH_FIELDS)}, content='', columnsize=0,"
        " detail=none, tokenize='trigram')"
    )
    # Merge segments 16 at a time rather than 4: a third less work per insert
    # (measured on 100k events), and searches still read few segments.
    conn.execute(f"INSERT INTO {name} ({name}, rank) VALUES ('automerge', 16)")
    conn.execute("INSERT INTO search_shards (shard) VALUES (?)", (shard,))


def add(conn: sqlite3.Connection, first_rowid: int, last_rowid: int) -> None:
    """Index the events with rowids ``first_rowid``..``last_rowid`` (already stored)."""
    for shard in range(first_rowid // SHARD_ROWS, last_rowid // SHARD_ROWS + 1):
        _ensure(conn, shard)
        low = max(first_rowid, shard * SHARD_ROWS)
        high = min(last_rowid, (shard + 1) * SHARD_ROWS - 1)
        columns, values = _layout(conn, shard)
        conn.execute(
            f"INSERT INTO {table(shard)} (rowid, {columns}) SELECT rowid, {values}"
            " FROM events WHERE rowid BETWEEN ? AND ?",
            (low, high),
        )


def _layout(conn: sqlite3.Connection, shard: int) -> tuple[str, str]:
    """A shard's columns, and the SQL over ``events`` that fills them (the same to
    take a row out: a contentless index is told the text it was given)."""
    columns = tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table(shard)})"))
    if columns == _OLD_LAYOUT:
        return "text", SEARCH_TEXT_SQL
    return ", ".join(SEARCH_FIELDS), ", ".join(SEARCH_FIELDS)


def matching(conn: sqlite3.Connection) -> tuple[str, int]:
    """A subquery of the rowids matching one FTS5 query, and how often to bind it."""
    names = [table(shard) for shard in shards(conn)]
    if not names:
        return "SELECT NULL WHERE 0", 0
    return " UNION ALL ".join(f"SELECT rowid FROM {name} WHERE {name} MATCH ?" for name in names), len(names)


def covering_trigrams(term: str) -> str:
    """An FTS5 query for rows holding every third trigram of ``term`` (and its last):
    every row containing the term matches, and a few more — callers test the rows.

    Single trigrams, never a phrase: a shard without positions (detail=none) cannot
    answer a phrase, and older shards (made with positions) answer this as well."""
    starts = [*range(0, len(term) - 2, 3)]
    if starts[-1] != len(term) - 3:
        starts.append(len(term) - 3)
    return " AND ".join('"' + term[i:i + 3].replace('"', '""') + '"' for i in starts)


def forget(conn: sqlite3.Connection, victims_where: str, params: tuple[object, ...]) -> list[int]:
    """Take the events about to be deleted out of the index; the shards left to rewrite.

    ``victims_where`` selects the events (a WHERE clause over ``events``). A shard
    losing every row is dropped; one losing some gets delete markers, and is
    returned: its old segments still hold the deleted rows until ``rewrite``.
    """
    cut: list[int] = []
    counts = conn.execute(
        f"SELECT rowid / {SHARD_ROWS}, count(*) FROM events WHERE {victims_where} GROUP BY 1", params
    ).fetchall()
    for shard, victims in counts:
        low, high = shard * SHARD_ROWS, (shard + 1) * SHARD_ROWS - 1
        name = table(shard)
        total = conn.execute("SELECT count(*) FROM events WHERE rowid BETWEEN ? AND ?", (low, high)).fetchone()[0]
        exists = conn.execute("SELECT 1 FROM search_shards WHERE shard = ?", (shard,)).fetchone()
        if not exists:
            continue
        if total == victims:
            conn.execute(f"DROP TABLE {name}")
            conn.execute("DELETE FROM search_shards WHERE shard = ?", (shard,))
            continue
        columns, values = _layout(conn, shard)
        conn.execute(
            f"INSERT INTO {name} ({name}, rowid, {columns}) SELECT 'delete', rowid, {values}"
            f" FROM events WHERE rowid BETWEEN ? AND ? AND {victims_where}",
            (low, high, *params),
        )
        cut.append(shard)
    return cut


def rewrite(conn: sqlite3.Connection, cut: list[int]) -> None:
    """Merge each shard into one segment, so deleted rows leave no trace in it."""
    for shard in cut:
        name = table(shard)
        conn.execute(f"INSERT INTO {name} ({name}) VALUES ('optimize')")
