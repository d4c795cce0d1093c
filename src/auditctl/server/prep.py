"""Preparing a POST's events: parsed, validated, redacted, given who did it, serialised.

A big batch is prepared in a worker process, a chunk at a time, while the request's
thread stores the chunks already done, in one transaction: the same two halves of
the work on two cores as ``auditctl import`` (``ingest``). In one process, preparing
was a quarter of a 1,000-event POST and the second core sat idle; threads would not
help, because SQLite hands the GIL back on every row it inserts.

This module is all the worker imports (no FastAPI): it is started with ``spawn``,
since forking a process that runs threads can copy a lock that is held.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from auditctl import jsonio
from auditctl.errors import ValidationError

if TYPE_CHECKING:
    from auditctl.ingest import Prepared
    from auditctl.redact import Redactor

# (position in the batch, line of the body or None, the text of that line or its parsed value)
Item = tuple[int, int | None, Any]

# Events per task handed to the worker: small enough that the first is back while
# the thread stores the batch's first chunk, big enough to cost little to send.
CHUNK_EVENTS = 250
# A smaller batch is prepared in the thread: the round trip would cost more than it saves.
MIN_OFFLOADED = 2 * CHUNK_EVENTS
# A big batch's first chunk, prepared in the thread while the worker starts on the
# second: small, so that the thread is soon storing.
FIRST_CHUNK = 100


def request_context(ip: str | None, user_agent: str | None, token_id: str,
                    redactor: Redactor) -> dict[str, str | None]:
    """What a request says about who writes, masked as redaction masks any context value."""
    return {"ip": _masked(ip, redactor), "user_agent": _masked(user_agent, redactor),
            "api_key_id": _masked(token_id, redactor)}


def _masked(value: Any, redactor: Redactor) -> Any:
    return redactor.mask_text(value) if isinstance(value, str) else value


def fill_context(record: dict[str, Any], stored: dict[str, Any] | None, request: dict[str, str | None],
                 redactor: Redactor) -> None:
    """Who did it: IP and user agent from the request where the client set none, and
    always the id of the token used.

    ``api_key_id`` is not the client's to set: whatever it sends is replaced, so no
    token can attribute its writes to another. A retry of an event already stored
    takes IP and user agent from the stored event, so it is recognised as the same
    event even from another address; the token id is still this request's, so the
    same event sent again with another token is a conflict, not a no-op.

    ``record`` is an event's redacted ``to_dict`` form, filled in place; ``request``
    comes from ``request_context``. What is filled in is masked as redaction would
    have masked it, had it been set before (redaction judges each value alone).
    """
    ctx = record["context"]
    ctx["api_key_id"] = request["api_key_id"]
    if ctx["ip"] is None:
        ctx["ip"] = _masked(stored["context"].get("ip"), redactor) if stored is not None else request["ip"]
    if ctx["user_agent"] is None:
        ctx["user_agent"] = (_masked(stored["context"].get("user_agent"), redactor) if stored is not None
                             else request["user_agent"])


def prepare_items(items: list[Item], total: int, request: dict[str, str | None],
                  stored: dict[str, dict[str, Any]] | None, redactor: Redactor, horizon: str) -> list[Prepared]:
    """``items`` of a batch of ``total`` events, ready to store.

    ``stored`` holds the events already in the store among the batch's ids (retries);
    the worker is given none, and the thread redoes any retry it finds (``retries``).
    Errors read as ``parse_events_body`` and a one-by-one check would word them.
    """
    from auditctl.ingest import prepare_record
    from auditctl.model import Event, fast_record, new_id

    values = _parsed(items)
    prefix = "event {}: " if total > 1 else ""
    prepared = []
    for (index, _, _), data in zip(items, values, strict=True):
        # The usual event (stored form, nothing to redact) goes from its dict straight
        # to its record, as in import (``ingest.prepare``); the rest the long way.
        record = fast_record(data)
        if record is None or redactor.may_redact_record(record):
            try:
                event = Event.from_dict(data)
            except ValidationError as exc:
                raise ValidationError(prefix.format(index) + exc.message, exc.field, exc.hint) from None
            record = redactor.event(event).to_dict()
        for name in ("timestamp", "recorded_at"):
            value = record[name]
            if value is not None and value > horizon:
                raise ValidationError(f"{prefix.format(index)}{name} {value} is more than a day in the future", name,
                                      hint="check the sender's clock")
        fill_context(record, stored.get(record["id"]) if stored else None, request, redactor)
        record["id"] = record["id"] or new_id()
        prepared.append(prepare_record(record))
    return prepared


def _parsed(items: list[Item]) -> list[Any]:
    """The items' values, NDJSON lines (those with a line number) parsed here, in the worker."""
    if not items or items[0][1] is None:
        return [value for _, _, value in items]
    from auditctl.server.limits import check_encodable

    lines = [value for _, _, value in items]
    fast = jsonio.loads_each_fast(lines)
    if fast is not None:
        return fast
    parsed = [jsonio.loads(value, f"line {number}") for _, number, value in items]
    check_encodable(parsed, "request body")
    return parsed


# ---------------------------------------------------------------- the worker process

_REDACTOR: Redactor | None = None


def _start_worker(redactor: Redactor) -> None:
    global _REDACTOR
    import gc
    import signal

    # Ctrl-C and SIGTERM are the server's to handle: it shuts this process down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _REDACTOR = redactor
    # Thousands of short-lived acyclic objects per task (see ingest._work).
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _ready() -> None:
    """Nothing: a first task, so that the worker process is started (``PrepWorkers.start``)."""


def _prepare_in_worker(items: list[Item], total: int, request: dict[str, str | None], horizon: str) -> bytes:
    """The chunk's records as ``marshal`` bytes of plain tuples: pickling named tuples
    cost the server's result thread (and so the request threads, by the GIL) several
    times as much (``ingest._work`` measures the same)."""
    import marshal

    assert _REDACTOR is not None
    # A ValidationError travels as its parts: exceptions with their own constructor
    # do not always survive pickling.
    try:
        records = prepare_items(items, total, request, None, _REDACTOR, horizon)
    except ValidationError as exc:
        return marshal.dumps((None, (exc.message, exc.field, exc.hint)))
    return marshal.dumps(([tuple(record) for record in records], None))


class PrepWorkers:
    """One worker process, started on the first big batch and kept for the next."""

    def __init__(self, redactor: Redactor, enabled: bool = True) -> None:
        self._redactor = redactor
        self._enabled = enabled and (os.cpu_count() or 1) > 1  # on one core it only adds the round trips
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()  # requests run in several threads

    def wanted(self, count: int) -> bool:
        return self._enabled and count >= MIN_OFFLOADED

    def start(self) -> None:
        """Start the worker now, in the background (``serve`` does, so that the first
        big batch does not wait for it); harmless when disabled or already started."""
        if self._enabled:
            self._submit(_ready)

    def submit(self, items: list[Item], total: int, request: dict[str, str | None],
               horizon: str) -> Future[Any] | None:
        """The chunk handed to the worker; None if there is no worker to be had."""
        return self._submit(_prepare_in_worker, items, total, request, horizon)

    def _submit(self, func: Any, *args: Any) -> Future[Any] | None:
        with self._lock:
            for _ in range(2):  # a worker that died (killed, say) is replaced once
                if self._executor is None:
                    import multiprocessing

                    self._executor = ProcessPoolExecutor(
                        max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                        initializer=_start_worker, initargs=(self._redactor,))
                try:
                    return self._executor.submit(func, *args)
                except BrokenProcessPool:
                    self._executor.shutdown(wait=False, cancel_futures=True)
                    self._executor = None
                except (OSError, RuntimeError):  # no process to be had: prepare in the thread
                    return None
            return None

    def result(self, future: Future[Any] | None) -> list[Prepared] | None:
        """A chunk's records from the worker; None if the worker could not do it (the
        caller prepares the chunk itself). A bad event raises its ValidationError."""
        if future is None:
            return None
        import marshal

        from auditctl.ingest import Prepared

        try:
            records, failure = marshal.loads(future.result())
        except BrokenProcessPool:  # the next submit replaces the worker
            return None
        if failure is not None:
            raise ValidationError(*failure)
        return [Prepared._make(record) for record in records]

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
