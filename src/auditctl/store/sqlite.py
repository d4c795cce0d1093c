"""The local store: one SQLite file (DESIGN §2).

WAL, ``synchronous=FULL`` (an acknowledged event survives power loss), a busy
timeout of 15 s, ``BEGIN IMMEDIATE`` for every write, one transaction per batch,
bound parameters only, ``secure_delete`` on. A file that is not an auditctl store is
reported and never touched.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditctl import errors
from auditctl.errors import ConflictError, NotFound, StoreIOError
from auditctl.names import DEFAULT_ORG
from auditctl.store import migrations, search_index
from auditctl.store.base import AppendResult, Head, PurgeResult, Store

# The model, redaction, hashing and the JSON codec are imported in the methods that
# use them: a search printing stored JSON lines (what scripts run in loops) needs
# none of them, and start-up is a benchmark row (tests/test_startup.py).
if TYPE_CHECKING:
    from auditctl.ingest import ChainEnd, Key, Prepared, Row, Sealed
    from auditctl.integrity import VerifyReport
    from auditctl.model import Event
    from auditctl.query import Query
    from auditctl.redact import Redactor

# timeparse is imported where a time is stamped (writes, migrations): a search needs no clock.

BUSY_TIMEOUT_S = 15.0
# A filter matching at least this many events is "common": for a page of newest
# events, walking in time order finds them sooner than sorting every match.
LONG_LIST = 5000
# A purge shrinks the file when more than 1/SHRINK_FREE_FRACTION of it is free (_reclaim).
SHRINK_FREE_FRACTION = 4
# The page size of a new store (an existing store keeps its own), see _open.
PAGE_SIZE = 8192
# The page cache while importing into an empty store (negative: KiB), see bulk_import.
BULK_CACHE_KIB = -32768
SQLITE_HEADER = b"SQLite format 3\x00"
KEY_CHECK_TEXT = "auditctl chain key check"

# The columns in ingest.ROW_COLUMNS' order (tests/test_ingest.py holds them together).
_INSERT_EVENT = (
    "INSERT INTO events (org, seq, id, timestamp, recorded_at, action, actor_type, actor_id,"
    " actor_email, source, entity_type, entity_id, correlation_id, parent_id, reason, doc,"
    " prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def translate(exc: sqlite3.Error, path: str) -> errors.AuditError:
    """Turn sqlite3's exceptions into auditctl's, with a message a user can act on."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return errors.Busy(
            f"store is busy: {path} is locked by another writer",
            hint="retry in a moment; another auditctl process holds the write lock",
        )
    if "disk is full" in text or "disk full" in text:
        return StoreIOError(f"disk full while writing {path}; nothing from this batch was stored",
                            hint="free some space and run the command again")
    if "readonly" in text or "read-only" in text:
        return StoreIOError(f"store is read-only: {path}", hint="check the file's and folder's permissions")
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreIOError(f"store is corrupt or not an auditctl store: {path}",
                            hint="restore it from a backup; auditctl never re-initialises a damaged file")
    if "unable to open" in text or "disk i/o" in text:
        return StoreIOError(f"cannot read or write {path}: {exc}")
    return StoreIOError(f"store error on {path}: {exc}")


# Files (device, inode) whose header this process has read: see SQLiteStore._check_header.
_HEADER_CHECKED: set[tuple[int, int]] = set()


def _inode(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino


class SQLiteStore(Store):
    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = False,
        org: str = DEFAULT_ORG,
        redactor: Redactor | None = None,
        chain_key: bytes | None = None,
        readonly: bool = False,
    ) -> None:
        self.path = str(path)
        self.url = f"sqlite://{self.path}"
        self.org = org
        self._redactor = redactor
        self.chain_key = chain_key or None
        self._conn: sqlite3.Connection | None = None
        self._readonly = readonly
        # Called after each committed batch while a bulk import runs (bulk_import).
        self._after_commit: Callable[[], None] | None = None
        self._open(create)

    # ------------------------------------------------------------------ opening

    def _open(self, create: bool) -> None:
        path = Path(self.path)
        exists = path.exists() and path.stat().st_size > 0
        if exists:
            self._check_header(path)
        elif not create:
            raise errors.StoreMissing(
                f"no audit store at {self.path}",
                hint="record an event first (auditctl record …) or pass --store",
            )
        else:
            self._create_file(path)
            _HEADER_CHECKED.add(_inode(path))  # ours: SQLite writes the header
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._conn = conn
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if not exists:
                # Both set before the first table exists. 8 KB pages: SQLite reads and
                # writes (and the WAL copies) a page at a time, and a 300k-event import
                # made 350,000 such calls per 100k events with 4 KB; with 8 KB it ran
                # 6-12% faster, with a quarter less system time and an 8% smaller file
                # (two rounds each), and HTTP import was no slower. auto_vacuum: freed
                # pages (after a purge) can be handed back, so the file does not keep growing.
                conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA foreign_keys = ON")
            # 64 MB of page cache: at a million events the needle indexes (entity id,
            # correlation id: random inserts) outgrow 32 MB and every insert misses.
            conn.execute("PRAGMA cache_size = -65536")
            conn.create_function("auditctl_fold", 1, search_index.fold, deterministic=True)
            if migrations.pending(conn):
                from auditctl.timeparse import now_text

                with self._write():
                    migrations.run(conn, now_text())
            if create:
                self._ensure_indexes()
            self._check_chain_key()
        except sqlite3.Error as exc:
            self.close()
            raise translate(exc, self.path) from None

    @staticmethod
    def _check_header(path: Path) -> None:
        """Refuse a file that is not an SQLite database — once per file and process.

        Only once: closing any descriptor of a file drops every POSIX lock this
        process holds on it, SQLite's included. Read again while a connection of
        this process had the store open (the server's pool, the import's checkpoint
        thread), it let other processes believe nobody had it open and reset or
        checkpoint the WAL under this one's feet: their readers saw "database disk
        image is malformed" (tests/reliability/test_locks.py).
        """
        try:
            inode = _inode(path)
            if inode in _HEADER_CHECKED:
                return
            with open(path, "rb") as handle:
                header = handle.read(16)
        except OSError as exc:
            raise StoreIOError(f"cannot read store {path}: {exc.strerror}") from None
        if header != SQLITE_HEADER:
            raise StoreIOError(
                f"{path} is not an auditctl store (not an SQLite database)",
                hint="auditctl never overwrites a file it did not create; pass another --store",
            )
        _HEADER_CHECKED.add(inode)

    @staticmethod
    def _create_file(path: Path) -> None:
        try:
            if not path.parent.exists():
                path.parent.mkdir(parents=True, mode=0o700)
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        except OSError as exc:
            raise errors.CannotCreate(
                f"cannot create store {path}: {exc.strerror}",
                hint="check that the folder exists and is writable, or pass another --store",
            ) from None

    def _check_chain_key(self) -> None:
        conn = self.conn
        row = conn.execute("SELECT value FROM store_meta WHERE key = 'chain_key_check'").fetchone()
        check = _sign(KEY_CHECK_TEXT, self.chain_key) if self.chain_key else None
        if row is None:
            has_events = conn.execute("SELECT 1 FROM events LIMIT 1").fetchone()
            if check and not has_events:
                with self._write():
                    conn.execute(
                        "INSERT OR REPLACE INTO store_meta (key, value) VALUES ('chain_key_check', ?)", (check,)
                    )
            self.keyed = bool(check and not has_events)
            self.key_mismatch: str | None = (
                "a chain key is set but this store's chain was started without one" if check and has_events else None
            )
            return
        self.keyed = True
        if not self.chain_key:
            self.key_mismatch = "this store's chain is keyed: set AUDITCTL_CHAIN_KEY (or chain_key in the config)"
        elif row[0] != check:
            self.key_mismatch = "the chain key given is not the key this store's chain was made with"
        else:
            self.key_mismatch = None

    @property
    def redactor(self) -> Redactor:
        """The redaction rules writes go through (the default set unless given)."""
        if self._redactor is None:
            from auditctl.redact import DEFAULT_REDACTOR

            self._redactor = DEFAULT_REDACTOR
        return self._redactor

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreIOError(f"store {self.path} is closed")
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            # A KeyboardInterrupt or SIGTERM mid-batch lands here too: nothing half-written.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from None

    # ------------------------------------------------------------------ writing

    def append(self, events: Iterable[Event]) -> list[AppendResult]:
        """Store a batch in one transaction; a supplied id is checked for idempotency."""
        from auditctl.ingest import prepare_record
        from auditctl.model import new_id

        records = [self.redactor.event(e).to_dict() for e in events]
        for record in records:
            record["id"] = record["id"] or new_id()
        return self.append_prepared([prepare_record(record) for record in records])

    @contextmanager
    def bulk_import(self) -> Iterator[None]:
        """Around a big import: into an empty store, the needle indexes (random
        inserts, most of an import's disk writes) are built once at the end.

        Meanwhile searches stay correct, only slower on those filters; an import
        that is killed leaves them to the next open for writing (``_ensure_indexes``).
        """
        from auditctl.store.checkpoint import FALLBACK_PAGES, Checkpointer

        conn = self.conn
        with self._errors():
            empty = conn.execute("SELECT 1 FROM events LIMIT 1").fetchone() is None
            if empty:
                with self._write():
                    for name in migrations.deferred_indexes():
                        conn.execute(f"DROP INDEX IF EXISTS {name}")
            # Checkpoints in a thread of their own, as the server does (store/checkpoint.py):
            # SQLite copies the WAL into the file without the GIL while this thread
            # stores the next batch, instead of every commit doing it in line.
            # Median of 5 imports of 300k events: 32.8 s against 39.0 s in line.
            autocheckpoint = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            conn.execute(f"PRAGMA wal_autocheckpoint = {FALLBACK_PAGES}")
            # Into an empty store the indexes left are filled in time order (ids, seq,
            # time), mostly at their right edge, so a smaller page cache does as well:
            # with 16 MB an import of 300k events peaked at 130 MB instead of 168 MB,
            # no slower. Half the usual cache leaves room for ids out of order.
            cache = conn.execute("PRAGMA cache_size").fetchone()[0]
            if empty:
                conn.execute(f"PRAGMA cache_size = {BULK_CACHE_KIB}")
        checkpointer = Checkpointer(lambda: SQLiteStore(self.path))
        checkpointer.start()
        self._after_commit = checkpointer.poke
        try:
            yield
        finally:
            self._after_commit = None
            checkpointer.stop()
            with self._errors():
                conn.execute(f"PRAGMA wal_autocheckpoint = {int(autocheckpoint)}")
                conn.execute(f"PRAGMA cache_size = {int(cache)}")
                if empty:
                    self._ensure_indexes()

    def _ensure_indexes(self) -> None:
        conn = self.conn
        present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        missing = [ddl for name, ddl in migrations.deferred_indexes().items() if name not in present]
        if missing:
            # Each build sorts in memory up to the cache size before spilling to a
            # temporary file: a smaller cache keeps a million-event import under 200 MB.
            # One helper thread sorts alongside (SQLite's multi-threaded sorter), on
            # a second core that is idle by then: on the benchmark's million events
            # the five builds took 11.7-12.7 s instead of 13.3-17.9 s, and 62 MB.
            cache = conn.execute("PRAGMA cache_size").fetchone()[0]
            conn.execute("PRAGMA cache_size = -16384")
            conn.execute(f"PRAGMA threads = {1 if (os.cpu_count() or 1) > 1 else 0}")
            try:
                with self._write():
                    for ddl in missing:
                        conn.execute(ddl)
            finally:
                conn.execute(f"PRAGMA cache_size = {int(cache)}")
                conn.execute("PRAGMA threads = 0")

    def append_prepared(self, batch: list[Prepared]) -> list[AppendResult]:
        """Store a batch of events that ``ingest.prepare`` validated, redacted (with
        this store's redactor) and serialised: an import's batches, prepared in a
        worker process while this one writes."""
        return self.append_prepared_chunks([batch])

    def append_prepared_chunks(self, chunks: Iterable[list[Prepared]]) -> list[AppendResult]:
        """Store the chunks of one batch in one transaction: all or nothing. ``chunks``
        may be a generator that prepares a chunk while the previous ones are stored
        (the server's big POSTs, ``server.prep``); an error it raises rolls back the lot."""
        if self.key_mismatch:
            raise errors.UsageError(f"refusing to write: {self.key_mismatch}")
        results: list[AppendResult] = []
        chunks = iter(chunks)
        first = next((batch for batch in chunks if batch), None)
        if first is None:
            return results
        with self._errors(), self._write() as conn:
            for batch in chain([first], chunks):
                if batch:
                    results.extend(self._append_locked(conn, batch))
        if self._after_commit is not None:
            self._after_commit()
        return results

    def _append_locked(self, conn: sqlite3.Connection, batch: list[Prepared]) -> list[AppendResult]:
        from auditctl import jsonio
        from auditctl.ingest import Sealer, content_without_timestamp
        from auditctl.model import format_time
        from auditctl.timeparse import now

        seq, prev_hash, first_rowid = self._tail(conn)
        recorded_text = format_time(now())
        results: list[AppendResult] = []
        rows: list[Row] = []
        keys: list[Key] = []
        seen: dict[str, tuple[Prepared, int]] = {}
        # Supplied ids (every import carries them) are looked up for idempotency in
        # a few IN queries per batch rather than one query per event.
        stored_docs = self._docs_by_id(conn, [event.id for event in batch])
        org = self.org
        row_of = Sealer(org, self.chain_key).row
        for event in batch:
            event_id = event.id
            existing = seen.get(event_id)
            if existing is not None:
                if _comparable(existing[0].content, event) != _comparable(event.content, event):
                    raise _conflict(event_id)
                results.append(AppendResult(event_id, existing[1], False))
                continue
            stored_doc = stored_docs.get(event_id)
            if stored_doc is not None:
                stored = jsonio.loads(stored_doc, "stored event")
                if stored.get("org") != org:
                    raise ConflictError(f"event id {event_id} is already used")
                stored_content = jsonio.canonical(_content(stored))
                incoming = event.content
                if event.timestamp is None:
                    stored_content, incoming = (content_without_timestamp(stored_content),
                                                content_without_timestamp(incoming))
                if stored_content != incoming:
                    raise _conflict(event_id)
                results.append(AppendResult(event_id, stored.get("seq") or 0, False))
                continue
            seq += 1
            row, prev_hash = row_of(event, seq, first_rowid + len(rows), recorded_text, prev_hash, keys)
            rows.append(row)
            seen[event_id] = (event, seq)
            results.append(AppendResult(event_id, seq, True))
        if rows:
            self._insert(conn, rows, keys, first_rowid, (seq, prev_hash))
        return results

    def _insert(self, conn: sqlite3.Connection, rows: list[Row], keys: list[Key], first_rowid: int,
                head: tuple[int, str]) -> None:
        """Write sealed rows (with rowids from ``first_rowid`` on), their keys and search
        text, and move the chain head to ``head``."""
        conn.executemany(_INSERT_EVENT, rows)
        if keys:
            conn.executemany("INSERT INTO event_keys (kind, value, event_rowid) VALUES (?,?,?)", keys)
        search_index.add(conn, first_rowid, first_rowid + len(rows) - 1)
        conn.execute(
            "INSERT INTO chain_heads (org, seq, hash) VALUES (?, ?, ?)"
            " ON CONFLICT(org) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            (self.org, *head),
        )

    def chain_end(self) -> ChainEnd:
        """Where this org's chain ends now, for sealing an import's batches ahead (``ingest.seal_batch``)."""
        from auditctl.ingest import ChainEnd

        with self._errors():
            return ChainEnd(self.org, self.chain_key, *self._tail(self.conn))

    def _tail(self, conn: sqlite3.Connection) -> tuple[int, str, int]:
        """This org's chain head (seq, hash) and the rowid the next event gets."""
        from auditctl.integrity import GENESIS

        head = conn.execute("SELECT seq, hash FROM chain_heads WHERE org = ?", (self.org,)).fetchone()
        next_rowid = conn.execute("SELECT coalesce(max(rowid), 0) + 1 FROM events").fetchone()[0]
        return (head[0], head[1], next_rowid) if head else (0, GENESIS, next_rowid)

    def append_sealed(self, batch: Sealed) -> bool:
        """Store a batch sealed ahead (``ingest.seal_batch``) if its guesses hold: the
        chain still ends where it was sealed after, the rowids are free and no id in it
        is stored. False (nothing written) if not: the caller stores it the long way."""
        if self.key_mismatch:
            raise errors.UsageError(f"refusing to write: {self.key_mismatch}")
        with self._errors(), self._write() as conn:
            if self._tail(conn) != (batch.after_seq, batch.after_hash, batch.first_rowid):
                return False
            if any(conn.execute(f"SELECT 1 FROM events WHERE id IN ({marks}) LIMIT 1", chunk).fetchone()
                   for marks, chunk in _id_chunks(batch.ids)):
                return False
            self._insert(conn, batch.rows, batch.keys, batch.first_rowid, batch.end)
        if self._after_commit is not None:
            self._after_commit()
        return True

    @staticmethod
    def _docs_by_id(conn: sqlite3.Connection, ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for marks, chunk in _id_chunks(ids):
            found.update(conn.execute(f"SELECT id, doc FROM events WHERE id IN ({marks})", chunk).fetchall())
        return found

    def stored_records(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The events of this organization among ``ids``, as records by id: a batch's
        retries found in a few IN queries rather than a ``get`` per event."""
        from auditctl import jsonio

        with self._errors():
            docs = self._docs_by_id(self.conn, ids)
        records = {event_id: jsonio.loads(doc, "stored event") for event_id, doc in docs.items()}
        return {event_id: record for event_id, record in records.items() if record.get("org") == self.org}

    # ------------------------------------------------------------------ reading

    def get(self, id_or_seq: str) -> Event:
        from auditctl import jsonio
        from auditctl.model import Event

        key = str(id_or_seq).strip()
        with self._errors():
            row = self.conn.execute("SELECT doc FROM events WHERE id = ? AND org = ?", (key, self.org)).fetchone()
            if row is None and key.isascii() and key.isdigit() and len(key) < 19:  # not '²', which int() refuses
                row = self.conn.execute(
                    "SELECT doc FROM events WHERE org = ? AND seq = ?", (self.org, int(key))
                ).fetchone()
        if row is None:
            raise NotFound(f"no event with id or seq {key[:80]!r}", hint="find one with auditctl search")
        return Event.from_dict(jsonio.loads(row[0], "stored event"))

    def _where(self, query: Query) -> tuple[str, list[Any]]:
        where, params, _ = self._plan(query)
        return where, params

    def _plan(self, query: Query, *, paged: bool = False) -> tuple[str, list[Any], str]:
        """WHERE clause, its parameters, and the FROM that makes SQLite use the right index.

        Without statistics SQLite prefers walking the time index newest-first (it
        needs no sort) and filtering every row, which on a million events is a full
        scan for a needle. So the plan is chosen here. A selective filter (entity id,
        actor, correlation id, changed field, search term) is a list of rowids from
        its own index; the list drives the query (``NOT INDEXED`` keeps SQLite off the
        time index; rowid lookups stay allowed) and the matches are sorted. But when
        only a page is wanted (``paged``) and every such list is long, walking
        newest-first and keeping the first matches is cheaper than sorting them all,
        so a quick capped count decides. An action filter walks ``events_action``
        (org, action, timestamp, seq), already in order; anything else the time index.
        """
        clauses = ["org = ?"]
        params: list[Any] = [self.org]
        # (position in clauses, subquery, its values): filled in once the plan is known.
        drivers: list[tuple[int, str, list[Any]]] = []
        # Drivers whose rows are also tested on their own (a clause of their own):
        # walking in time order, their list is not needed at all.
        self_tested: set[int] = set()

        def driver(subquery: str, values: list[Any], tested: bool = False) -> None:
            if tested:
                self_tested.add(len(clauses))
            drivers.append((len(clauses), subquery, values))
            clauses.append("")

        if query.actions:
            clauses.append(f"action IN ({','.join('?' * len(query.actions))})")
            params.extend(query.actions)
        if query.entity_type:
            clauses.append("entity_type = ?")
            params.append(query.entity_type)
        buckets, in_bucket = migrations.needle_buckets("rowid")
        key_in_bucket = migrations.needle_buckets("event_rowid")[1]
        if query.entity_id:
            driver(f"{buckets}SELECT rowid FROM events WHERE org = ? AND {in_bucket} AND entity_id = ?"
                   f" UNION ALL SELECT event_rowid FROM event_keys WHERE kind = 'e' AND {key_in_bucket} AND value = ?",
                   [self.org, query.entity_id, query.entity_id])
        if query.source:
            clauses.append(f"source IN ({','.join('?' * len(query.source))})")
            params.extend(query.source)
        if query.actor:
            driver(f"{buckets}SELECT rowid FROM events WHERE org = ? AND {in_bucket} AND actor_id = ?"
                   f" UNION ALL SELECT rowid FROM events WHERE org = ? AND {in_bucket} AND actor_email = ? COLLATE NOCASE",
                   [self.org, query.actor, self.org, query.actor])
        if query.actor_type:
            clauses.append(f"actor_type IN ({','.join('?' * len(query.actor_type))})")
            params.extend(query.actor_type)
        if query.correlation_id:
            driver(f"{buckets}SELECT rowid FROM events WHERE org = ? AND {in_bucket} AND correlation_id = ?",
                   [self.org, query.correlation_id])
        if query.changed:
            driver(f"{buckets}SELECT event_rowid FROM event_keys WHERE kind = 'c' AND {key_in_bucket} AND value = ?",
                   [query.changed])
        if query.since:
            clauses.append("timestamp >= ?")
            params.append(query.since)
        if query.until:
            clauses.append("timestamp < ?")
            params.append(query.until)
        for term in query.terms:
            if len(term) >= 3:
                # The index is asked for rows holding every third trigram of the term
                # (a third of the doclists a phrase of all of them reads: 132 -> 44 ms
                # for an email at 1M events); each row's own text then makes the
                # match exact. instr() on lower() folds exactly the ASCII letters the
                # trigram index folds; a non-ASCII term needs Unicode folding.
                matching, binds = search_index.matching(self.conn)
                driver(matching, [search_index.covering_trigrams(term)] * binds, tested=True)
            # The row test; all there is for a term too short for trigrams (a scan).
            fold = "lower" if term.isascii() else "auditctl_fold"
            clauses.append(f"instr({fold}({search_index.SEARCH_TEXT_SQL}), ?) > 0")
            params.append(term.lower())
        if query.after:
            ts, seq = query.after
            op = ">" if query.reverse else "<"
            clauses.append(f"(timestamp {op} ? OR (timestamp = ? AND seq {op} ?))")
            params.extend([ts, ts, seq])
        source = "events INDEXED BY events_action" if query.actions else "events INDEXED BY events_time"
        if drivers:
            # A page only: fetch each list up to a "long" length. A short list is used
            # as fetched (the search index is not asked twice); if every list is long,
            # walk in time order with the filters as tests.
            # Counted, not fetched: SQLite counts without the GIL, and a server
            # answering many searches at once spent it building lists of ints.
            long_list = self._long_list() if paged else LONG_LIST
            counts = [self._capped_count(sql, values, long_list) if paged else None for _, sql, values in drivers]
            if not paged or any(n is not None and n < long_list for n in counts):
                source = "events NOT INDEXED"
            bound: dict[int, list[Any]] = {}
            for (position, sql, values), n in zip(drivers, counts, strict=True):
                if n is not None and n < long_list:
                    clauses[position] = f"rowid IN ({sql})"
                    bound[position] = values
                elif source != "events NOT INDEXED" and position in self_tested:
                    # Walking in time order: "rowid IN (every match)" would build the
                    # whole list of a common term first; the row's own test suffices.
                    clauses[position], bound[position] = "1", []
                else:
                    clauses[position] = f"rowid IN ({sql})"
                    bound[position] = values
            params = self._interleave(clauses, params, bound)
        return " AND ".join(clauses), params, source

    def _long_list(self) -> int:
        """How many matches make a list long enough to walk newest-first instead.

        Reading and sorting a list of n matches costs about 15 µs a match (measured
        at 1M events: the search index, then each row's time); walking finds a page
        of 50 in about 50·N/n rows of N events, ≈10 µs a row. They cost the same
        near n = √(33·N): 1,800 at 100k events, capped at LONG_LIST from 750k.
        """
        # Two queries: min() and max() together would scan the table.
        low = self.conn.execute("SELECT min(rowid) FROM events").fetchone()[0]
        high = self.conn.execute("SELECT max(rowid) FROM events").fetchone()[0]
        events = (high - low + 1) if low is not None else 0
        return min(LONG_LIST, max(200, math.isqrt(33 * events)))

    def _capped_count(self, subquery: str, values: list[Any], cap: int) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM ({subquery} LIMIT ?)", [*values, cap]).fetchone()[0])

    @staticmethod
    def _interleave(clauses: list[str], params: list[Any], bound: dict[int, list[Any]]) -> list[Any]:
        """Put each driver's parameters where its clause stands among the others'."""
        out: list[Any] = [params[0]]  # org
        rest = iter(params[1:])
        for position, clause in enumerate(clauses[1:], 1):
            if position in bound:
                out.extend(bound[position])
            else:
                out.extend(next(rest) for _ in range(clause.count("?")))
        return out

    def _select(self, columns: str, query: Query) -> Iterator[tuple[Any, ...]]:
        with self._errors():
            where, params, source = self._plan(query, paged=query.limit is not None)
        order = "ASC" if query.reverse else "DESC"
        sql = f"SELECT {columns} FROM {source} WHERE {where} ORDER BY timestamp {order}, seq {order}"
        if query.limit is not None:
            sql += " LIMIT ?"
            params.append(query.limit)
        with self._errors():
            cursor = self.conn.execute(sql, params)
            while True:
                rows = cursor.fetchmany(500)
                if not rows:
                    return
                yield from rows

    def query(self, query: Query) -> Iterator[Event]:
        from auditctl import jsonio
        from auditctl.model import Event

        for (doc,) in self._select("doc", query):
            yield Event.from_dict(jsonio.loads(doc, "stored event"))

    def query_json(self, query: Query) -> Iterator[dict[str, Any]]:
        from auditctl import jsonio

        for (doc,) in self._select("doc", query):
            yield jsonio.loads(doc, "stored event")

    def query_lines(self, query: Query) -> Iterator[str]:
        """Matching events as their stored JSON text: export without re-encoding."""
        for (doc,) in self._select("doc", query):
            yield doc

    def count(self, query: Query) -> int:
        with self._errors():
            where, params, source = self._plan(query)
            return int(self.conn.execute(f"SELECT count(*) FROM {source} WHERE {where}", params).fetchone()[0])

    def related(self, correlation_id: str) -> list[Event]:
        from auditctl import jsonio
        from auditctl.model import Event

        with self._errors():
            rows = self.conn.execute(_related_sql(), (self.org, correlation_id)).fetchall()
        return [Event.from_dict(jsonio.loads(doc, "stored event")) for (doc,) in rows]

    def explain(self, query: Query) -> list[str]:
        """The query plan of a query, for tests that guard against full scans."""
        where, params, source = self._plan(query, paged=query.limit is not None)
        order = "ASC" if query.reverse else "DESC"
        sql = f"SELECT doc FROM {source} WHERE {where} ORDER BY timestamp {order}, seq {order} LIMIT 50"
        return [row[3] for row in self.conn.execute("EXPLAIN QUERY PLAN " + sql, params)]

    # ------------------------------------------------------------------ chain

    def head(self) -> Head:
        with self._errors():
            seq, hash_, _ = self._tail(self.conn)
        return Head(seq, hash_)

    def _tombstone_signature(self, seq: int, prev_hash: str, hash_: str, purge_id: str) -> str:
        return _sign(f"tombstone|{self.org}|{seq}|{prev_hash}|{hash_}|{purge_id}", self.chain_key)

    def _anchor_signature(self, through_seq: int, through_hash: str) -> str:
        return _sign(f"anchor|{self.org}|{through_seq}|{through_hash}", self.chain_key)

    def verify(self) -> VerifyReport:
        from auditctl import jsonio
        from auditctl.integrity import GENESIS, Break, ChainWalker, VerifyReport

        if self.key_mismatch:
            return VerifyReport(0, 0, GENESIS, None, (Break(None, self.key_mismatch),))
        conn = self.conn
        with self._errors():
            check = conn.execute("PRAGMA quick_check").fetchall()
            if [r[0] for r in check] != ["ok"]:
                problem = "; ".join(str(r[0]) for r in check[:3])
                return VerifyReport(0, 0, GENESIS, None, (Break(None, f"SQLite quick_check failed: {problem}"),))
            start_seq, start_hash = 1, GENESIS
            anchor = conn.execute(
                "SELECT through_seq, through_hash, signature FROM chain_anchors WHERE org = ?", (self.org,)
            ).fetchone()
            if anchor is not None:
                if anchor[2] != self._anchor_signature(anchor[0], anchor[1]):
                    return VerifyReport(0, 0, GENESIS, None, (Break(anchor[0], "purge checkpoint signature is invalid"),))
                start_seq, start_hash = anchor[0] + 1, anchor[1]
            tombstones: dict[int, tuple[str, str]] = {}
            for seq, prev, hash_, purge_id, signature in conn.execute(
                "SELECT seq, prev_hash, hash, purge_id, signature FROM chain_tombstones WHERE org = ?", (self.org,)
            ):
                if signature != self._tombstone_signature(seq, prev, hash_, purge_id):
                    return VerifyReport(0, 0, GENESIS, None, (Break(seq, "a purge record is forged or altered"),))
                tombstones[seq] = (prev, hash_)
            walker = ChainWalker(self.chain_key, start_seq, start_hash, tombstones)
            cursor = conn.execute(
                "SELECT seq, id, timestamp, action, actor_type, actor_id, actor_email, source, entity_type,"
                " entity_id, correlation_id, reason, prev_hash, hash, doc FROM events WHERE org = ? ORDER BY seq",
                (self.org,),
            )
            for row in cursor:
                data = jsonio.loads(row[14], "stored event")
                mismatch = _column_mismatch(row, data)
                if mismatch:
                    walker.breaks.append(Break(row[0], f"indexed column {mismatch} differs from the stored event (edited row)"))
                    break
                walker.feed(data)
                if walker.breaks:
                    break
            head = self.head()
            if not walker.breaks:
                walker._skip_tombstones(head.seq + 1)
            report = walker.report()
            if not report.breaks and (report.head_seq, report.head_hash) != (head.seq, head.hash):
                report = VerifyReport(
                    report.checked, report.head_seq, report.head_hash, report.first_seq,
                    (Break(report.head_seq + 1 if report.head_seq < head.seq else head.seq,
                           f"the chain ends at seq {report.head_seq} but the store's head says {head.seq}: rows removed from the tail"),),
                    report.purged_through,
                )
        return report

    # ------------------------------------------------------------------ purge

    def purge(self, cutoff: str, *, dry_run: bool, actor: dict[str, Any] | None = None,
              reason: str | None = None) -> PurgeResult:
        from auditctl.ingest import prepare_record
        from auditctl.model import Actor, Context, Entity, Event, new_id

        conn = self.conn
        with self._errors():
            count, oldest, newest = conn.execute(
                "SELECT count(*), min(timestamp), max(timestamp) FROM events WHERE org = ? AND timestamp < ?",
                (self.org, cutoff),
            ).fetchone()
        if dry_run or count == 0:
            return PurgeResult(cutoff, count, oldest, newest, dry_run)
        if self.key_mismatch:
            raise errors.UsageError(f"refusing to purge: {self.key_mismatch}")
        purge_id = new_id()
        with self._errors():
            with self._write():
                # Re-count under the write lock: a writer may have added old events since.
                count, oldest, newest = conn.execute(
                    "SELECT count(*), min(timestamp), max(timestamp) FROM events WHERE org = ? AND timestamp < ?",
                    (self.org, cutoff),
                ).fetchone()
                victims = "SELECT rowid FROM events WHERE org = ? AND timestamp < ?"
                # A tombstone keeps a purged link so the chain still verifies across the
                # hole. Below the oldest survivor there is no hole: that prefix folds into
                # the anchor (_collapse_tombstones), which needs only its last link. The
                # usual purge, the oldest events, thus writes one tombstone, not 100,000.
                first_kept = conn.execute(
                    "SELECT min(seq) FROM events WHERE org = ? AND timestamp >= ?", (self.org, cutoff)
                ).fetchone()[0]
                if first_kept is None:  # nothing survives; the purge's own event comes next
                    first_kept = self.head().seq + 1
                tomb_rows = [
                    (self.org, seq, prev, hash_, purge_id, self._tombstone_signature(seq, prev, hash_, purge_id))
                    for seq, prev, hash_ in conn.execute(
                        "SELECT seq, prev_hash, hash FROM events WHERE org = ? AND timestamp < ? AND seq >= ?",
                        (self.org, cutoff, first_kept - 1),
                    )
                ]
                conn.executemany(
                    "INSERT INTO chain_tombstones (org, seq, prev_hash, hash, purge_id, signature) VALUES (?,?,?,?,?,?)",
                    tomb_rows,
                )
                cut = search_index.forget(conn, "org = ? AND timestamp < ?", (self.org, cutoff))
                conn.execute(f"DELETE FROM event_keys WHERE event_rowid IN ({victims})", (self.org, cutoff))
                conn.execute("DELETE FROM events WHERE org = ? AND timestamp < ?", (self.org, cutoff))
                event = Event(
                    action="bulk_delete",
                    actor=Actor(**(actor or {"type": "system", "id": "auditctl-purge"})),
                    source="system" if not actor or actor.get("type") != "scheduler" else "scheduler",
                    entity=Entity("audit_log", self.org),
                    context=Context(reason=reason or "retention purge"),
                    metadata={"purged": count, "cutoff": cutoff, "oldest": oldest, "newest": newest, "purge_id": purge_id},
                )
                record = event.to_dict()
                record["id"] = new_id()
                result = self._append_locked(conn, [prepare_record(record)])[0]
                self._collapse_tombstones(conn)
                self._reclaim(conn, cut)
            # The WAL still holds the purged pages' old images until it is checkpointed.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return PurgeResult(cutoff, count, oldest, newest, False, result.id)

    def _collapse_tombstones(self, conn: sqlite3.Connection) -> None:
        """Fold the purged prefix of the chain into one signed anchor."""
        low = conn.execute("SELECT min(seq) FROM events WHERE org = ?", (self.org,)).fetchone()[0]
        if low is None:
            return
        row = conn.execute(
            "SELECT seq, hash FROM chain_tombstones WHERE org = ? AND seq = ?", (self.org, low - 1)
        ).fetchone()
        if row is None:
            return
        conn.execute(
            "INSERT INTO chain_anchors (org, through_seq, through_hash, signature) VALUES (?,?,?,?)"
            " ON CONFLICT(org) DO UPDATE SET through_seq = excluded.through_seq,"
            " through_hash = excluded.through_hash, signature = excluded.signature",
            (self.org, row[0], row[1], self._anchor_signature(row[0], row[1])),
        )
        conn.execute("DELETE FROM chain_tombstones WHERE org = ? AND seq < ?", (self.org, low))

    def _reclaim(self, conn: sqlite3.Connection, cut: list[int]) -> None:
        """Make purged data really gone, in the purge's own transaction: rewrite the
        search shards it cut through, and give freed pages back to the file system."""
        search_index.rewrite(conn, cut)
        # Freed pages are zeroed (secure_delete) and reused by the next events, so the
        # file does not grow. Shrinking it moves pages from the end of the file — the
        # newest events — into the holes: I/O a routine purge (a tenth of the log,
        # refilled within days) should not pay, 2 s of a 1M-event purge, and the newest
        # rows would lose their order on disk. A purge leaving over a quarter of the
        # file free (a retention cut from a year to a month) gives the space back.
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        if conn.execute("PRAGMA freelist_count").fetchone()[0] * SHRINK_FREE_FRACTION < pages:
            return
        # Only a store made with auto_vacuum=INCREMENTAL can shrink (older ones reuse
        # the pages). Each step of the pragma frees one page and execute() steps once;
        # executescript() would step it to the end but commits first. Inside the
        # transaction, one fsync'd commit serves both (0.8 s against 1.8 s after it).
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            return
        while free := conn.execute("PRAGMA freelist_count").fetchone()[0]:
            for _ in range(free):
                conn.execute("PRAGMA incremental_vacuum")
            if conn.execute("PRAGMA freelist_count").fetchone()[0] >= free:
                break  # no progress: never loop forever

    # ------------------------------------------------------------------ other orgs

    def for_org(self, org: str) -> SQLiteStore:
        """A view of the same file scoped to another organization (the server's use)."""
        clone = object.__new__(SQLiteStore)
        clone.__dict__.update(self.__dict__)
        clone.org = org
        return clone


def _related_sql() -> str:
    """A correlation group's events, oldest first. The group's rowids come from the
    correlation index as a list: asked directly, SQLite walks the time index for the
    order instead and tests every row (365 ms at 300k events against 1 ms)."""
    buckets, in_bucket = migrations.needle_buckets("rowid")
    return (f"SELECT doc FROM events WHERE rowid IN ({buckets}SELECT rowid FROM events WHERE org = ? AND {in_bucket}"
            " AND correlation_id = ?) ORDER BY timestamp, seq LIMIT 1000")


def _id_chunks(ids: list[str], size: int = 500) -> Iterator[tuple[str, list[str]]]:
    """``ids`` a few hundred at a time (well under SQLite's limit on bound
    variables), each with the ``?,?,…`` list of an ``IN`` over it."""
    for start in range(0, len(ids), size):
        chunk = ids[start:start + size]
        yield ",".join("?" * len(chunk)), chunk


def _column_mismatch(row: tuple[Any, ...], data: dict[str, Any]) -> str | None:
    actor = data.get("actor") or {}
    entity = data.get("entity") or {}
    ctx = data.get("context") or {}
    expected = (
        ("seq", data.get("seq")),
        ("id", data.get("id")),
        ("timestamp", data.get("timestamp")),
        ("action", data.get("action")),
        ("actor_type", actor.get("type")),
        ("actor_id", actor.get("id")),
        ("actor_email", actor.get("email")),
        ("source", data.get("source")),
        ("entity_type", entity.get("type")),
        ("entity_id", entity.get("id")),
        ("correlation_id", ctx.get("correlation_id")),
        ("reason", ctx.get("reason")),
        ("prev_hash", data.get("prev_hash")),
        ("hash", data.get("hash")),
    )
    for index, (name, value) in enumerate(expected):
        if row[index] != value:
            return name
    return None


def _content(data: dict[str, Any]) -> dict[str, Any]:
    """An event record without the fields a store assigns: what idempotency compares."""
    from auditctl.model import STORE_ASSIGNED

    return {k: v for k, v in data.items() if k not in STORE_ASSIGNED}


def _comparable(content: bytes, incoming: Prepared) -> bytes:
    """Content as idempotency compares it: without a time when the incoming event has none."""
    from auditctl.ingest import content_without_timestamp

    return content_without_timestamp(content) if incoming.timestamp is None else content


def _conflict(event_id: str) -> ConflictError:
    return ConflictError(
        f"event id {event_id} already exists with different content",
        hint="an id names one event; record a change as a new event",
    )


def _sign(text: str, key: bytes | None) -> str:
    from auditctl.integrity import sign

    return sign(text, key)
