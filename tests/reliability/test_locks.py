"""A process that opens the store a second time keeps its SQLite locks.

POSIX drops every lock a process holds on a file when it closes *any* descriptor of
that file. Reading the store's header with a plain open()/close() while a connection
of the same process had the store open (the server's connection pool, the import's
checkpoint thread) let other processes believe nobody had it open: their readers
saw "database disk image is malformed" in the middle of an import.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditctl.store.sqlite import SQLiteStore

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX advisory locks")

# SQLite's unix VFS: the SHARED lock is a read lock on 510 bytes from PENDING_BYTE + 2.
PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 510, 0x40000002, 0)
    print("free")
except OSError:
    print("held")
"""


def shared_lock(path: Path) -> str:
    return subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_opening_the_store_again_keeps_the_shared_lock(tmp_path: Path) -> None:
    path = tmp_path / "locks.db"
    SQLiteStore(path, create=True).close()
    first = SQLiteStore(path)
    first.conn.execute("SELECT count(*) FROM events").fetchone()
    assert shared_lock(path) == "held"
    second = SQLiteStore(path)
    assert shared_lock(path) == "held"
    second.close()
    first.close()


def test_a_reader_in_another_process_sees_a_sound_store_during_an_import(tmp_path: Path) -> None:
    source = tmp_path / "many.jsonl"
    with source.open("w") as handle:
        for i in range(30_000):
            handle.write(json.dumps({"id": f"imp-{i:06d}", "action": "update", "actor": {"type": "user", "id": f"u{i % 9}"},
                                     "source": "api", "entity": {"type": "doc", "id": f"imp-{i}"},
                                     "timestamp": "2026-11-20T00:00:00Z"}) + "\n")
    store = tmp_path / "read-while-import.db"
    proc = subprocess.Popen([sys.executable, "-m", "auditctl", "--store", str(store), "import", str(source),
                             "--batch-size", "1000"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    reads, problems = 0, []
    try:
        while proc.poll() is None:
            conn = sqlite3.connect(store)
            try:
                if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
                    conn.execute("SELECT count(*) FROM events WHERE entity_id LIKE 'imp-%'").fetchone()
                    reads += 1
            except sqlite3.DatabaseError as exc:
                problems.append(str(exc))
            finally:
                conn.close()
            time.sleep(0.01)
    finally:
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert reads > 5, "the import ended before the reader could look"
    assert problems == []
