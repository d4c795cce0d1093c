"""Bulk ingest: parsed input records in, validated and redacted event records out.

``import`` is CPU-bound: validating, redacting and serialising an event costs about
as much as SQLite storing it. So a big import prepares its batches in a worker
process while this process writes the previous ones: two cores, two halves of
the work. A small input (one batch) is prepared here, since starting a worker would
cost more than it saves. Batches come out in input order; a bad record stops the
import at its batch, with the same message either way.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from auditctl import jsonio
from auditctl.errors import StoreIOError, ValidationError

if TYPE_CHECKING:
    from auditctl.redact import Redactor
    from auditctl.store.base import AppendResult

Item = tuple[int, Any]  # (line number, parsed JSON value)

# An event's content (``Event.content_dict``): what idempotency compares.
CONTENT_KEYS = ("id", "timestamp", "action", "actor", "source", "entity", "entity_ids", "changes", "context", "metadata")
# The stored JSON between the store-assigned head (id … recorded_at) and the chain links.
BODY_KEYS = ("action", "actor", "source", "entity", "entity_ids", "changes", "context", "metadata", "schema_version")


class Prepared(NamedTuple):
    """An event ready to store, serialised but for what the store assigns.

    The hash chain is defined over ``jsonio.canonical`` of the whole event (sorted
    keys), and the store keeps ``jsonio.dumps`` of it (``to_dict`` order). Both are
    made here from the content, so the writer only splices in seq, org, the recorded
    time and the links (``Sealer``) — the costly serialising runs in the worker process.
    tests/test_ingest.py holds ``Sealer.row`` to ``event_hash`` and ``dumps`` of the whole event.
    """

    id: str
    timestamp: str | None
    recorded_at: str | None
    schema_version: int
    content: bytes  # canonical JSON of CONTENT_KEYS; ends with "source", then "timestamp"
    cut: int  # where ',"source":' starts in content: org … seq sort just before it
    body: str  # jsonio.dumps of BODY_KEYS, without its braces
    fields: tuple[Any, ...]  # action, actor type/id/email, source, entity type/id, correlation/parent id, reason
    entity_ids: tuple[str, ...]
    changed: tuple[str, ...]


def prepare_record(data: dict[str, Any]) -> Prepared:
    """A ``to_dict`` record (redacted, with its id) as a ``Prepared``."""
    content = jsonio.canonical({key: data[key] for key in CONTENT_KEYS})
    actor, entity, context = data["actor"], data["entity"], data["context"]
    return Prepared(
        data["id"], data["timestamp"], data["recorded_at"], data["schema_version"], content,
        # The top-level "source" is the last but one key; an earlier one (in metadata) is not it.
        content.rindex(b',"source":'),
        jsonio.dumps({key: data[key] for key in BODY_KEYS})[1:-1],
        (data["action"], actor["type"], actor["id"], actor["email"], data["source"], entity["type"], entity["id"],
         context["correlation_id"], context["parent_id"], context["reason"]),
        tuple(data["entity_ids"]),
        tuple(change["field"] for change in data["changes"]),
    )


def content_without_timestamp(content: bytes) -> bytes:
    """The canonical content with its last key, "timestamp", left out."""
    return content[: content.rindex(b',"timestamp":')] + b"}"


# The events table's columns as a batch's rows give them (``Sealer.row``).
ROW_COLUMNS = ("org", "seq", "id", "timestamp", "recorded_at", "action", "actor_type", "actor_id", "actor_email",
               "source", "entity_type", "entity_id", "correlation_id", "parent_id", "reason", "doc", "prev_hash",
               "hash")
Row = tuple[Any, ...]
Key = tuple[str, str, int]  # event_keys: kind ("e" entity id, "c" changed field), value, event rowid


class Sealer:
    """Seals a batch's events for one organization: the stored JSON and the hash of
    each once the store assigns the rest (seq, org, the recorded time, the links).

    What is the same for every event of a batch — the org, the recorded time, the
    schema version — is serialised once, not per event. It runs wherever a batch's
    chain is known: in the store's write transaction, or ahead in the import's worker
    (``seal_batch``).
    """

    def __init__(self, org: str, key: bytes | None) -> None:
        from auditctl.integrity import chain_hasher

        self.org = org
        self._org_hashed = b',"org":' + jsonio.canonical(org)
        self._org_doc = ',"org":' + jsonio.dumps(org)
        self._hash = chain_hasher(key)
        self._texts: dict[str, tuple[bytes, str]] = {}  # a time: its canonical and dumps spelling
        self._versions: dict[int, bytes] = {}

    def _text(self, value: str) -> tuple[bytes, str]:
        spelled = self._texts.get(value)
        if spelled is None:
            if len(self._texts) > 64:  # a batch's own recorded times; event times vary
                self._texts.clear()
            spelled = self._texts[value] = (jsonio.canonical(value), jsonio.dumps(value))
        return spelled

    def row(self, event: Prepared, seq: int, rowid: int, recorded: str, prev_hash: str,
            keys: list[Key]) -> tuple[Row, str]:
        """The events row (``ROW_COLUMNS``) of ``event`` stored as ``seq`` at ``rowid``,
        recorded at ``recorded``, and its hash; its event_keys rows go to ``keys``.

        The row's doc is ``dumps`` of the whole event and its hash ``integrity.event_hash``
        of it: the canonical content with org, recorded_at, schema_version and seq spliced in.
        """
        event_id, timestamp, recorded_at, version, content, cut, body, fields, entity_ids, changed = event
        dumps = jsonio.dumps
        if timestamp is None:  # stored with the time it was recorded
            timestamp = recorded
            content = content_without_timestamp(content)[:-1] + b',"timestamp":' + jsonio.canonical(recorded) + b"}"
        recorded_at = recorded_at or recorded
        version_hashed = self._versions.get(version)
        if version_hashed is None:
            version_hashed = self._versions[version] = jsonio.canonical(version)
        recorded_hashed, recorded_doc = self._text(recorded_at)
        seq_text = str(seq)
        hash_ = self._hash(prev_hash, b"".join((
            content[:cut], self._org_hashed, b',"recorded_at":', recorded_hashed,
            b',"schema_version":', version_hashed, b',"seq":', seq_text.encode(), content[cut:],
        )))
        doc = "".join((
            '{"id":', dumps(event_id), ',"seq":', seq_text, self._org_doc, ',"timestamp":', dumps(timestamp),
            ',"recorded_at":', recorded_doc, ",", body, ',"prev_hash":"', prev_hash, '","hash":"', hash_, '"}',
        ))
        for entity_id in entity_ids:
            keys.append(("e", entity_id, rowid))
        for field in changed:
            keys.append(("c", field, rowid))
        return (self.org, seq, event_id, timestamp, recorded_at, *fields, doc, prev_hash, hash_), hash_


class ChainEnd(NamedTuple):
    """Where a store's chain ends for one organization, and what its next event gets."""

    org: str
    key: bytes | None
    seq: int
    hash: str
    next_rowid: int


class Sealed(NamedTuple):
    """A batch sealed ahead of storing, on the guess that it lands right after
    ``after`` and that none of its ids is stored yet. The store checks both in the
    transaction that writes it (``SQLiteStore.append_sealed``); a wrong guess writes nothing."""

    after_seq: int
    after_hash: str
    first_rowid: int
    rows: list[Row]
    keys: list[Key]

    @property
    def ids(self) -> list[str]:
        return [row[2] for row in self.rows]

    @property
    def end(self) -> tuple[int, str]:
        """The chain head once stored: the last event's seq and hash."""
        last = self.rows[-1]
        return last[1], last[-1]


def seal_batch(batch: list[Prepared], sealer: Sealer, *, seq: int, prev_hash: str, first_rowid: int,
               recorded: str) -> Sealed | None:
    """``batch`` sealed as new events after (``seq``, ``prev_hash``); None if an id
    repeats within it (the store decides which copy is kept: see ``SQLiteStore._append_locked``)."""
    if len({event.id for event in batch}) != len(batch) or not batch:
        return None
    rows: list[Row] = []
    keys: list[Key] = []
    row, append = sealer.row, rows.append
    after_seq, after_hash = seq, prev_hash
    for rowid, event in enumerate(batch, first_rowid):
        seq += 1
        sealed, prev_hash = row(event, seq, rowid, recorded, prev_hash, keys)
        append(sealed)
    return Sealed(after_seq, after_hash, first_rowid, rows, keys)


# Batches handed to the worker ahead of the writer: enough to keep both busy,
# few enough that memory stays flat however big the input.
AHEAD = 1


def prepare(items: list[Item], name: str, redactor: Redactor) -> list[Prepared]:
    """Validate, redact, give an id to and serialise each item.

    An item's value is an event dict, or the text of a JSON line still to be parsed
    (``export.read_events(lazy=True)``: a line is a tenth the memory of its dict).
    """
    from auditctl.export import parse_jsonl_line
    from auditctl.model import Event, content_id

    records = []
    for line, value in items:
        for data in parse_jsonl_line(value, name, line) if isinstance(value, str) else (value,):
            try:
                event = Event.from_dict(data)
            except ValidationError as exc:
                raise ValidationError(f"{name}, line {line}: {exc.message}", exc.field, exc.hint) from None
            event = redactor.event(event)
            if event.id is None:
                # From the content as it will be stored: an id hashed over an
                # unredacted secret would let anyone test guesses of it.
                event = event.with_store_fields(id=content_id(event))
            records.append(prepare_record(event.to_dict()))
    return records


class BatchStore(Protocol):
    """What ``store_batches`` needs of a store. A store that can also take batches
    sealed ahead (``chain_end`` and ``append_sealed``: the SQLite store) gets them."""

    def append_prepared(self, batch: list[Prepared]) -> list[AppendResult]: ...


def store_batches(items: Iterable[Item], store: BatchStore, *, name: str, redactor: Redactor,
                  batch_size: int, parallel: bool = True) -> Iterator[tuple[int, int]]:
    """Prepare ``items`` and store them a batch (one transaction) at a time, in order;
    yields each batch's (added, skipped).

    With several batches a worker process prepares the next while this one stores
    the last. Into a SQLite store it also seals them (``seal_batch``): on the guess
    that nobody else writes meanwhile and that the ids are new, the chain of batch
    n+1 starts where it left batch n. The store checks the guess as it writes; when
    it fails (a re-run import, another writer), that batch is prepared again here
    and stored the long way, and the worker stops guessing.
    """
    chunks = _chunks(iter(items), batch_size)
    head = list(islice(chunks, 2))
    if len(head) < 2 or not parallel:
        for chunk in chain(head, chunks):
            yield _counts(store.append_prepared(prepare(chunk, name, redactor)))
        return
    chain_end = getattr(store, "chain_end", None)
    yield from _in_worker(chain(head, chunks), store, name, redactor, chain_end() if chain_end else None)


def _counts(results: list[AppendResult]) -> tuple[int, int]:
    added = sum(1 for result in results if result.created)
    return added, len(results) - added


def _in_worker(chunks: Iterator[list[Item]], store: BatchStore, name: str, redactor: Redactor,
               chain_end: ChainEnd | None) -> Iterator[tuple[int, int]]:
    import multiprocessing
    from collections import deque

    # fork: the worker starts at once with everything imported; elsewhere (macOS,
    # Windows) fork is unsafe or missing and spawn re-imports what it needs.
    context: Any = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    # Two queues of our own rather than a process pool: a pool keeps every batch it
    # was handed until its result is back, which doubled the writer's memory. Each
    # queue's feeder thread writes to the pipe, so neither side blocks the other.
    batches, results = context.Queue(), context.Queue()
    worker = context.Process(target=_work, args=(batches, results, name, redactor, chain_end),
                             name="auditctl-import-prepare", daemon=True)
    worker.start()
    sealing = chain_end is not None
    # The items of each batch in the worker: one whose sealing guess fails is prepared again here.
    in_flight: deque[list[Item]] = deque()
    try:
        for chunk in chunks:
            batches.put((chunk, sealing))
            in_flight.append(chunk)
            del chunk
            if len(in_flight) > AHEAD:
                counts, sealing = _store(_receive(results, worker), in_flight.popleft(), store, name, redactor)
                yield counts
        while in_flight:
            counts, sealing = _store(_receive(results, worker), in_flight.popleft(), store, name, redactor)
            yield counts
        batches.put(None)  # done: the worker exits
        worker.join()
    finally:
        # A bad record, an error while storing, or Ctrl-C: stop the worker, drop what it read ahead.
        if worker.is_alive():
            worker.terminate()
            worker.join()
        for queue in (batches, results):
            queue.cancel_join_thread()
            queue.close()


def _store(message: bytes, items: list[Item], store: Any, name: str,
           redactor: Redactor) -> tuple[tuple[int, int], bool]:
    """Store what the worker sent for ``items``: its counts, and whether to go on sealing ahead."""
    import marshal

    kind, payload = marshal.loads(message)
    if kind == "error":
        raise ValidationError(*payload)
    if kind == "sealed":
        sealed = Sealed(*payload)
        if store.append_sealed(sealed):
            return (len(sealed.rows), 0), True
        return _counts(store.append_prepared(prepare(items, name, redactor))), False
    return _counts(store.append_prepared([Prepared._make(record) for record in payload])), True


def _receive(results: Any, worker: Any) -> bytes:
    import queue

    while True:
        try:
            message: bytes = results.get(timeout=1)
            return message
        except queue.Empty:
            if not worker.is_alive():
                raise StoreIOError(f"the import's worker process stopped (exit code {worker.exitcode})",
                                   hint="the batches it had not finished were not stored; run the import again"
                                   ) from None


def _chunks(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    while chunk := list(islice(items, size)):
        yield chunk


# ---------------------------------------------------------------- in the worker process

def _work(batches: Any, results: Any, name: str, redactor: Redactor, chain_end: ChainEnd | None) -> None:
    """The worker process: prepare (and seal, while the guess holds) each batch
    received; send back the records, or the error.

    Messages go back as ``marshal`` bytes: plain tuples of strings and numbers, which
    it writes and reads in half the time pickle takes over named tuples (measured
    on 5,000-event batches) — and pickling a bytes object is a copy.
    """
    import marshal
    import signal

    # Ctrl-C is the writer's to handle (it rolls back its batch and stops this
    # process); the SIGTERM handler inherited from the writer is the writer's too:
    # here the signal just ends the process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    import gc
    import os

    from auditctl.model import format_time
    from auditctl.timeparse import now

    # Batches are thousands of short-lived, acyclic objects: the cyclic collector
    # only re-walks them (15-25% of preparing, measured); collect far less often.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    writer = os.getppid()
    _die_with(writer)
    sealer = Sealer(chain_end.org, chain_end.key) if chain_end else None
    # Where the next batch is guessed to land: seq and hash it follows, its first rowid.
    after = (chain_end.seq, chain_end.hash, chain_end.next_rowid) if chain_end else None
    while (message := _next_batch(batches, writer)) is not None:
        items, seal = message
        # A ValidationError travels back as its parts: exceptions with their own
        # constructor do not always survive pickling.
        try:
            records = prepare(items, name, redactor)
        except ValidationError as exc:
            results.put(marshal.dumps(("error", (exc.message, exc.field, exc.hint))))
            continue
        sealed = None
        if seal and after is not None and sealer is not None:
            seq, prev_hash, rowid = after
            sealed = seal_batch(records, sealer, seq=seq, prev_hash=prev_hash, first_rowid=rowid,
                                recorded=format_time(now()))
        if sealed is None:
            after = None  # where the store's chain goes from here is the store's to say
            results.put(marshal.dumps(("prepared", [tuple(record) for record in records])))
        else:
            end_seq, end_hash = sealed.end
            after = (end_seq, end_hash, sealed.first_rowid + len(sealed.rows))
            results.put(marshal.dumps(("sealed", tuple(sealed))))
    if os.getppid() != writer:
        results.cancel_join_thread()  # nobody left to read what is unsent
    results.close()


def _die_with(writer: int) -> None:
    """On Linux, have the kernel end this process when the writer dies.

    Polling for the writer (``_next_batch``) is not enough: a writer killed while
    its queue was sending a batch leaves half a message in the pipe, and this
    process, which holds the pipe's other end too (fork), waits for the rest forever.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import os
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # no prctl here: _next_batch's polling still covers a writer gone between batches
    if os.getppid() != writer:  # died before prctl took effect
        os._exit(0)


def _next_batch(batches: Any, writer: int) -> tuple[list[Item], bool] | None:
    """The next batch and whether to seal it; None when the writer is done — or gone
    (killed: nobody would ever send the end, and an orphan must not wait forever)."""
    import os
    import queue

    while True:
        try:
            message: tuple[list[Item], bool] | None = batches.get(timeout=1)
            return message
        except queue.Empty:
            if os.getppid() != writer:
                return None
