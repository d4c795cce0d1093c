"""A time limit on SQLite work, for reads the server tries on its event loop first.

Handing a short read to a worker thread costs the server more CPU than the read:
every SQLite step gives the GIL up and takes it back, and with many clients at once
each of those hand-overs is a contended one (measured: a page of 50 search results
took about twice the CPU in a worker thread as on the loop). So the server runs a
read on the loop, under ``sqlite_budget``: SQLite calls back every few thousand
instructions, and a read still running past its budget is interrupted and handed to a
worker thread, having held the loop up for no longer than the budget.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from auditctl.errors import AuditError

if TYPE_CHECKING:
    from auditctl.store.sqlite import SQLiteStore

# SQLite virtual-machine instructions between two looks at the clock: some tens of
# microseconds of work, so the look costs under 2% and the budget is kept closely.
CHECK_EVERY = 2000


class OverBudget(Exception):
    """The work was interrupted at its time limit: nothing was changed, run it elsewhere."""


@contextmanager
def sqlite_budget(store: SQLiteStore, seconds: float) -> Iterator[None]:
    """Interrupt SQLite work on ``store`` that goes past ``seconds`` (for reads only:
    an interrupted write would be rolled back, but must not be tried this way)."""
    deadline = time.monotonic() + seconds
    fired = False

    def check() -> int:
        nonlocal fired
        if time.monotonic() > deadline:
            fired = True
            return 1  # SQLite stops the statement with SQLITE_INTERRUPT
        return 0

    conn = store.conn
    conn.set_progress_handler(check, CHECK_EVERY)
    try:
        yield
    except (AuditError, sqlite3.Error):
        if fired:
            raise OverBudget from None
        raise
    finally:
        conn.set_progress_handler(None, 0)
    if fired:  # interrupted, yet no error came out: the result may be short
        raise OverBudget
