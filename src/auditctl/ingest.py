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
from typing import TYPE_CHECKING, Any, NamedTuple

from auditctl import jsonio
from auditctl.errors import StoreIOError, ValidationError

if TYPE_CHECKING:
    from auditctl.redact import Redactor

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
    tests/test_ingest.py holds ``Sealer.seal`` to ``event_hash`` and ``dumps`` of the whole event.
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


class Sealer:
    """Seals a batch's events for one organization: the stored JSON and the hash of
    each once the store assigns the rest (seq, org, the recorded time, the links).

    What is the same for every event of a batch — the org, the recorded time, the
    schema version — is serialised once, not per event: with the hashing, sealing
    is the writer's own share of an import (the rest is prepared in the worker).
    """

    def __init__(self, org: str, key: bytes | None) -> None:
        self._org_hashed = b',"org":' + jsonio.canonical(org)
        self._org_doc = ',"org":' + jsonio.dumps(org)
        self._key = key
        self._texts: dict[str, tuple[bytes, str]] = {}  # a time: its canonical and dumps spelling
        self._versions: dict[int, bytes] = {}

    def _text(self, value: str) -> tuple[bytes, str]:
        spelled = self._texts.get(value)
        if spelled is None:
            if len(self._texts) > 64:  # a batch's own recorded times; event times vary
                self._texts.clear()
            spelled = self._texts[value] = (jsonio.canonical(value), jsonio.dumps(value))
        return spelled

    def seal(self, event: Prepared, *, seq: int, timestamp: str, recorded_at: str, prev_hash: str) -> tuple[str, str]:
        """The stored JSON and the hash of ``event`` (``integrity.event_hash`` of the whole event)."""
        from auditctl.integrity import chain_hash

        dumps = jsonio.dumps
        content = event.content
        if event.timestamp is None:  # stored with the time it was recorded
            content = content_without_timestamp(content)[:-1] + b',"timestamp":' + jsonio.canonical(timestamp) + b"}"
        version = self._versions.get(event.schema_version)
        if version is None:
            version = self._versions[event.schema_version] = jsonio.canonical(event.schema_version)
        recorded_hashed, recorded_doc = self._text(recorded_at)
        cut = event.cut
        hashed = b"".join((
            content[:cut], self._org_hashed, b',"recorded_at":', recorded_hashed,
            b',"schema_version":', version, b',"seq":', str(seq).encode(), content[cut:],
        ))
        hash_ = chain_hash(prev_hash, hashed, self._key)
        doc = "".join((
            '{"id":', dumps(event.id), ',"seq":', str(seq), self._org_doc, ',"timestamp":', dumps(timestamp),
            ',"recorded_at":', recorded_doc, ",", event.body, ',"prev_hash":"', prev_hash, '","hash":"', hash_, '"}',
        ))
        return doc, hash_


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


def prepared_batches(items: Iterable[Item], *, name: str, redactor: Redactor,
                     batch_size: int, parallel: bool = True) -> Iterator[list[Prepared]]:
    """Batches of prepared records, in order; in a worker process when there are several."""
    chunks = _chunks(iter(items), batch_size)
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    head = [first] if second is None else [first, second]
    if second is None or not parallel:
        for chunk in chain(head, chunks):
            yield prepare(chunk, name, redactor)
        return
    yield from _in_worker(head, chunks, name, redactor)


def _in_worker(head: list[list[Item]], rest: Iterator[list[Item]], name: str,
               redactor: Redactor) -> Iterator[list[Prepared]]:
    import multiprocessing

    # fork: the worker starts at once with everything imported; elsewhere (macOS,
    # Windows) fork is unsafe or missing and spawn re-imports what it needs.
    context: Any = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    # Two queues of our own rather than a process pool: a pool keeps every batch it
    # was handed until its result is back, which doubled the writer's memory. Each
    # queue's feeder thread writes to the pipe, so neither side blocks the other.
    batches, results = context.Queue(), context.Queue()
    worker = context.Process(target=_work, args=(batches, results, name, redactor),
                             name="auditctl-import-prepare", daemon=True)
    worker.start()
    sent = received = 0
    try:
        for chunk in chain(head, rest):
            batches.put(chunk)
            sent += 1
            del chunk
            if sent - received > AHEAD:
                received += 1
                yield _outcome(_receive(results, worker))
        while received < sent:
            received += 1
            yield _outcome(_receive(results, worker))
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


def _receive(results: Any, worker: Any) -> tuple[list[Prepared] | None, tuple[str, str | None, str | None] | None]:
    import queue

    while True:
        try:
            outcome: tuple[list[Prepared] | None, tuple[str, str | None, str | None] | None] = results.get(timeout=1)
            return outcome
        except queue.Empty:
            if not worker.is_alive():
                raise StoreIOError(f"the import's worker process stopped (exit code {worker.exitcode})",
                                   hint="the batches it had not finished were not stored; run the import again"
                                   ) from None


def _chunks(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    while chunk := list(islice(items, size)):
        yield chunk


def _outcome(result: tuple[list[Prepared] | None, tuple[str, str | None, str | None] | None]
             ) -> list[Prepared]:
    records, failure = result
    if failure is not None:
        raise ValidationError(*failure)
    assert records is not None
    return records


# ---------------------------------------------------------------- in the worker process

def _work(batches: Any, results: Any, name: str, redactor: Redactor) -> None:
    """The worker process: prepare each batch received, send back the records (or the error)."""
    import signal

    # Ctrl-C is the writer's to handle (it rolls back its batch and stops this
    # process); the SIGTERM handler inherited from the writer is the writer's too:
    # here the signal just ends the process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    import gc
    import os

    # Batches are thousands of short-lived, acyclic objects: the cyclic collector
    # only re-walks them (15-25% of preparing, measured); collect far less often.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    writer = os.getppid()
    _die_with(writer)
    while (items := _next_batch(batches, writer)) is not None:
        # A ValidationError travels back as its parts: exceptions with their own
        # constructor do not always survive pickling.
        try:
            results.put((prepare(items, name, redactor), None))
        except ValidationError as exc:
            results.put((None, (exc.message, exc.field, exc.hint)))
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


def _next_batch(batches: Any, writer: int) -> list[Item] | None:
    """The next batch; None when the writer is done — or gone (killed: nobody would
    ever send the end, and an orphan must not wait forever)."""
    import os
    import queue

    while True:
        try:
            items: list[Item] | None = batches.get(timeout=1)
            return items
        except queue.Empty:
            if os.getppid() != writer:
                return None
