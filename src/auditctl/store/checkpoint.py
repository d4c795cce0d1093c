"""WAL checkpoints off the request path, for ``auditctl serve``.

A commit in WAL mode appends the pages it changed to the ``-wal`` file and syncs it:
from then on the write is durable. Copying those pages back into the database file
(a checkpoint) is by default done by the commit that takes the WAL past 1,000 pages,
inside the request that made it. A batch of 1,000 events changes some 2,000 pages
(the needle indexes and the search index take random inserts), so every import
request paid for a checkpoint as well as for its own write: about a third of its
time in SQLite.

The server instead checkpoints from a thread of its own, right after each write and
once a second: SQLite does the copying without the GIL, while the next request is
being read and prepared. Request connections still checkpoint by themselves past
``FALLBACK_PAGES``, so the WAL stays bounded if this thread ever falls behind.
Durability is unchanged: it comes from the synced WAL, not from the checkpoint.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from auditctl.errors import AuditError

if TYPE_CHECKING:
    from auditctl.store.sqlite import SQLiteStore

log = logging.getLogger("auditctl.server")

# Pages (4 KiB) a request connection lets the WAL reach before it checkpoints by
# itself: some ten import requests' worth.
FALLBACK_PAGES = 20_000


def leave_checkpoints_to_the_background(store: SQLiteStore) -> SQLiteStore:
    """Set a request connection to checkpoint only as a fallback (``FALLBACK_PAGES``)."""
    with store._errors():
        store.conn.execute(f"PRAGMA wal_autocheckpoint = {FALLBACK_PAGES}")
    return store


class Checkpointer:
    """A thread that runs a passive checkpoint after each ``poke()`` and every ``interval`` seconds.

    Passive: it never waits for, nor blocks, a reader or a writer; what it cannot
    copy yet (pages a reader may still need) is copied on a later round.
    """

    def __init__(self, open_store: Callable[[], SQLiteStore], interval: float = 1.0) -> None:
        self._open = open_store
        self._interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0  # checkpoints run (for tests)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="auditctl-checkpoint", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """A write just committed: checkpoint it soon."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _run(self) -> None:
        try:
            store = self._open()
        except AuditError as exc:
            log.error("WAL checkpoints left to the request connections: %s", exc.message)
            return
        try:
            while not self._stop.is_set():
                self._wake.wait(self._interval)
                self._wake.clear()
                if self._stop.is_set():
                    break
                try:
                    with store._errors():
                        store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.rounds += 1
                except AuditError as exc:  # a failed round must not end the thread
                    log.warning("WAL checkpoint failed: %s", exc.message)
        finally:
            store.close()
