"""Bulk ingest: parsed input records in, validated, redacted and sealed event rows out.

``import`` is CPU-bound: validating, redacting and serialising an event costs about
as much as SQLite storing it. So a big import prepares its batches in two worker
processes, side by side, while this process writes the earlier ones; the workers
also seal them (the hash chain), passing each other where the previous batch ended.
A small input (one batch) is prepared here, since starting workers would cost more
than they save. Batches are stored in input order; a bad record stops the import
at its batch, with the same message either way.
"""

from __future__ import annotations

import os
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
    content = jsonio.canonical_finite({key: data[key] for key in CONTENT_KEYS})
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


# Batches handed to each worker ahead of the writer: enough to keep them all busy,
# few enough that memory stays flat however big the input.
AHEAD = 1


def prepare(items: list[Item], name: str, redactor: Redactor) -> list[Prepared]:
    """Validate, redact, give an id to and serialise each item.

    An item's value is an event dict, or the text of a JSON line still to be parsed
    (``export.read_events(lazy=True)``: a line is a tenth the memory of its dict).
    """
    from auditctl.export import parse_jsonl_line
    from auditctl.model import Event, content_id, fast_record

    # JSON lines are parsed together when the fast codec takes them all (the usual
    # case: one check for long digits over the batch, not one per line); a line it
    # declines, or one holding an array or no object, is read alone, as before.
    texts = [value for _, value in items if type(value) is str]
    parsed = iter((jsonio.loads_each_fast(texts) or []) if len(texts) == len(items) else [])
    records = []
    for line, value in items:
        if isinstance(value, str):
            data = next(parsed, None)
            found = (data,) if type(data) is dict else parse_jsonl_line(value, name, line)
        else:
            found = (value,)
        for data in found:
            # The usual event (stored form, with its id, nothing to redact) goes from
            # its dict straight to its record, without the event's objects.
            record = fast_record(data)
            if record is not None and record["id"] is not None and not redactor.may_redact_record(record):
                records.append(prepare_record(record))
                continue
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

    With several batches, worker processes prepare the next ones while this one
    stores the last. Into a SQLite store they also seal them (``seal_batch``): on the
    guess that nobody else writes meanwhile and that the ids are new, the chain of
    batch n+1 starts where batch n left it. The store checks the guess as it writes;
    when it fails (a re-run import, another writer), that batch is prepared again
    here and stored the long way, and the workers stop guessing.
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


def _worker_count() -> int:
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def _in_worker(chunks: Iterator[list[Item]], store: BatchStore, name: str, redactor: Redactor,
               chain_end: ChainEnd | None) -> Iterator[tuple[int, int]]:
    import gc
    import multiprocessing
    from collections import deque

    # fork: the workers start at once with everything imported; elsewhere (macOS,
    # Windows) fork is unsafe or missing and spawn re-imports what it needs.
    context: Any = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    count = _worker_count()
    # Queues of our own rather than a process pool: a pool keeps every batch it was
    # handed until its result is back, which doubled the writer's memory. Each
    # queue's feeder thread writes to the pipe, so neither side blocks the other.
    # Batch i goes to worker i % count. tokens[k] is worker k's way in to the chain:
    # the end of batch i-1, put there by the worker that sealed it (``_work``).
    batches = [context.Queue() for _ in range(count)]
    pipes = [context.Pipe(duplex=False) for _ in range(count)]  # (what the writer reads, what worker k writes)
    tokens = [context.Queue() for _ in range(count)]
    tokens[0].put(None if chain_end is None else (chain_end.seq, chain_end.hash, chain_end.next_rowid))
    workers = [
        context.Process(target=_work, name=f"auditctl-import-prepare-{k}", daemon=True,
                        args=(batches[k], pipes[k][1], tokens[k], tokens[(k + 1) % count], name, redactor,
                              None if chain_end is None else (chain_end.org, chain_end.key)))
        for k in range(count)
    ]
    for worker in workers:
        worker.start()
    for _, sending in pipes:
        sending.close()  # the workers' ends
    sealing = chain_end is not None
    # The items of each batch in the workers: one whose sealing guess fails is prepared again here.
    in_flight: deque[list[Item]] = deque()
    sent = 0

    def store_oldest() -> tuple[int, int]:
        """Store the oldest batch in flight (batch ``sent - len(in_flight)``), as its worker sent it."""
        nonlocal sealing
        k = (sent - len(in_flight)) % count
        counts, sealing = _store(_receive(pipes[k][0], workers[k]), in_flight.popleft(), store, name, redactor)
        return counts

    # Each batch received is some 90,000 short-lived tuples and strings: the cyclic
    # collector only re-walks them (a fifth of unmarshalling them, measured), so it
    # runs far less often while the import lasts.
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, 20, 20)
    try:
        for chunk in chunks:
            batches[sent % count].put((chunk, sealing))
            sent += 1
            in_flight.append(chunk)
            del chunk
            if len(in_flight) > AHEAD * count:
                yield store_oldest()
        while in_flight:
            yield store_oldest()
        for queue in batches:
            queue.put(None)  # done: the workers exit
        for worker in workers:
            worker.join()
    finally:
        gc.set_threshold(*thresholds)
        # A bad record, an error while storing, or Ctrl-C: stop the workers, drop what they read ahead.
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
                worker.join()
        for queue in (*batches, *tokens):
            queue.cancel_join_thread()
            queue.close()
        for reading, _ in pipes:
            reading.close()


def _store(message: bytes | bytearray, items: list[Item], store: Any, name: str,
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


def _receive(pipe: Any, worker: Any) -> bytes | bytearray:
    """The worker's next message (``_Sender``), read straight into one buffer.

    multiprocessing's own ``recv_bytes`` reads a 5 MB message in pipe-sized pieces,
    allocating the whole size for each: 1.3 s of the writer's CPU per 300k events
    against 0.2 s this way (measured with 60 messages of 5.5 MB).
    """
    if os.name != "posix":
        while not pipe.poll(1):
            _check_alive(worker)
        message: bytes = pipe.recv_bytes()
        return message
    size = int.from_bytes(_read(pipe, worker, 8), "little")
    return _read(pipe, worker, size)


def _read(pipe: Any, worker: Any, size: int) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    done = 0
    while done < size:
        if not pipe.poll(1):
            _check_alive(worker)
            continue
        got = os.readv(pipe.fileno(), [view[done:]])
        if not got:
            _check_alive(worker, ended=True)
        done += got
    return buffer


def _check_alive(worker: Any, ended: bool = False) -> None:
    if ended or not worker.is_alive():
        worker.join(timeout=1)
        raise StoreIOError(f"the import's worker process stopped (exit code {worker.exitcode})",
                           hint="the batches it had not finished were not stored; run the import again")


class _Sender:
    """Sends a worker's messages from a thread of its own, so the worker goes on with
    its next batch while the writer is still storing earlier ones."""

    def __init__(self, pipe: Any) -> None:
        import queue
        import threading

        self._pipe = pipe
        self._messages: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="auditctl-import-send", daemon=True)
        self._thread.start()

    def send(self, message: bytes) -> None:
        self._messages.put(message)

    def close(self) -> None:
        self._messages.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (message := self._messages.get()) is not None:
            try:
                if os.name != "posix":
                    self._pipe.send_bytes(message)
                    continue
                fd = self._pipe.fileno()
                for part in (len(message).to_bytes(8, "little"), message):
                    view = memoryview(part)
                    while view:
                        view = view[os.write(fd, view):]
            except OSError:  # the writer is gone: nobody to tell
                return


def _chunks(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    while chunk := list(islice(items, size)):
        yield chunk


# ---------------------------------------------------------------- in the worker process

def _work(batches: Any, pipe: Any, token_in: Any, token_out: Any, name: str, redactor: Redactor,
          chain: tuple[str, bytes | None] | None) -> None:
    """A worker process: prepare each batch received and, while the guess holds, seal
    it; send back the records, or the error.

    Preparing is what runs side by side. Sealing batch i needs where batch i-1 ended:
    its token comes from the worker that sealed that one (None: do not seal, and pass
    None on). Every batch takes one token and gives one, so the ring stays in step.

    Messages go back as ``marshal`` bytes: plain tuples of strings and numbers, which
    it writes and reads in half the time pickle takes over named tuples (measured
    on 5,000-event batches), over a pipe of their own (``_receive``). Format 2 keeps
    no table of the objects written (later formats look each one up, to write a
    repeat as a reference): 3.7 µs an event to write against 5.8, 13% more bytes.
    """
    import marshal
    import signal

    # Ctrl-C is the writer's to handle (it rolls back its batch and stops this
    # process); the SIGTERM handler inherited from the writer is the writer's too:
    # here the signal just ends the process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    import gc

    from auditctl.model import format_time
    from auditctl.timeparse import now

    # Batches are thousands of short-lived, acyclic objects: the cyclic collector
    # only re-walks them (15-25% of preparing, measured); collect far less often.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    writer = os.getppid()
    _die_with(writer)
    sealer = Sealer(*chain) if chain else None
    results = _Sender(pipe)
    while (message := _next(batches, writer)) is not None:
        items, seal = message
        # A ValidationError travels back as its parts: exceptions with their own
        # constructor do not always survive pickling.
        try:
            records = prepare(items, name, redactor)
        except ValidationError as exc:
            records = None
            failure = marshal.dumps(("error", (exc.message, exc.field, exc.hint)))
        # Where this batch lands if the guess holds: the seq and hash it follows, its first rowid.
        after: tuple[int, str, int] | None = _next(token_in, writer, token=True)
        sealed = None
        if records is not None and seal and after is not None and sealer is not None:
            seq, prev_hash, rowid = after
            sealed = seal_batch(records, sealer, seq=seq, prev_hash=prev_hash, first_rowid=rowid,
                                recorded=format_time(now()))
        if sealed is None:
            token_out.put(None)  # where the store's chain goes from here is the store's to say
        else:
            end_seq, end_hash = sealed.end
            token_out.put((end_seq, end_hash, sealed.first_rowid + len(sealed.rows)))
        if records is None:
            results.send(failure)
        elif sealed is None:
            results.send(marshal.dumps(("prepared", [tuple(record) for record in records]), 2))
        else:
            results.send(marshal.dumps(("sealed", tuple(sealed)), 2))
    if os.getppid() != writer:
        token_out.cancel_join_thread()  # nobody left to read what is unsent
    else:
        results.close()
    token_out.close()


def _die_with(writer: int) -> None:
    """On Linux, have the kernel end this process when the writer dies.

    Polling for the writer (``_next_batch``) is not enough: a writer killed while
    its queue was sending a batch leaves half a message in the pipe, and this
    process, which holds the pipe's other end too (fork), waits for the rest forever.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # no prctl here: _next_batch's polling still covers a writer gone between batches
    if os.getppid() != writer:  # died before prctl took effect
        os._exit(0)


def _next(source: Any, writer: int, token: bool = False) -> Any:
    """The next message: a batch and whether to seal it, or (``token``) where the
    previous batch ended. A batch of None means the writer is done; the writer gone
    (killed: nobody would ever send the end, and an orphan must not wait forever)
    reads as None too."""
    import queue

    while True:
        try:
            return source.get(timeout=1)
        except queue.Empty:
            if os.getppid() != writer:
                if token:
                    os._exit(0)
                return None
