"""Faults: full disk, read-only store, a held lock, corrupt files, a remote store that is down.

Every fault ends in a clear one-line error with the documented exit code, and never
in a half write or a changed file.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def auditctl(*args: str, env: dict[str, str] | None = None, timeout: float = 120, input: str | None = None):
    return subprocess.run([sys.executable, "-m", "auditctl", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, input=input)


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_disk_full_is_exit_74_and_keeps_every_earlier_event(tmp_path):
    with tmpfs(tmp_path / "small", "1m") as mount:
        store = str(mount / "audit.db")
        acknowledged = 0
        big = "x" * 60000
        result = None
        for i in range(400):
            result = auditctl("--store", store, "record", "update", "--entity", f"doc:{i}", "--reason", big + str(i))
            if result.returncode != 0:
                break
            acknowledged += 1
        assert result is not None and result.returncode == 74, result.stderr
        assert "disk full" in result.stderr and result.stderr.startswith("error: ")
        assert acknowledged > 2
        # Everything acknowledged is still there, and the chain is whole.
        listed = auditctl("--store", store, "search", "--format", "jsonl", "--limit", "100000")
        assert listed.returncode == 0, listed.stderr
        assert len(listed.stdout.splitlines()) == acknowledged
        assert auditctl("--store", store, "verify").returncode == 0


def test_read_only_store_is_a_clear_error_and_writes_nothing_elsewhere(tmp_path):
    with tmpfs(tmp_path / "ro", "4m") as mount:
        store = str(mount / "audit.db")
        assert auditctl("--store", store, "record", "update", "--entity", "a:b").returncode == 0
        before = sorted(os.listdir(mount))
        remount = subprocess.run(["mount", "-o", "remount,ro", str(mount)], capture_output=True)
        if remount.returncode != 0:
            pytest.skip("cannot remount read-only here")
        home = tmp_path / "home"
        result = auditctl("--store", store, "record", "update", "--entity", "c:d", env={"AUDITCTL_HOME": str(home)})
        assert result.returncode == 74, result.stderr
        assert "read-only" in result.stderr or "cannot" in result.stderr
        assert "Traceback" not in result.stderr
        assert not home.exists()
        assert sorted(os.listdir(mount)) == before


@pytest.mark.slow
def test_a_lock_held_past_the_busy_timeout_is_exit_75(tmp_path):
    store = tmp_path / "locked.db"
    assert auditctl("--store", str(store), "record", "update", "--entity", "a:b").returncode == 0
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    try:
        result = auditctl("--store", str(store), "record", "update", "--entity", "c:d", timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    waited = time.monotonic() - started
    assert result.returncode == 75, result.stderr
    assert "busy" in result.stderr and "retry" in result.stderr
    assert waited >= 10  # the busy timeout is at least 10 s
    # Once the lock is gone, writing works again and nothing half-written remains.
    assert auditctl("--store", str(store), "record", "update", "--entity", "e:f").returncode == 0
    assert auditctl("--store", str(store), "verify").returncode == 0


def _make_store(path: Path) -> None:
    lines = "\n".join(
        f'{{"action":"update","actor":{{"type":"user","id":"u{i}"}},"source":"api","entity":{{"type":"t","id":"{i}"}},'
        f'"context":{{"reason":"{"r" * 300}"}}}}' for i in range(300))
    assert auditctl("--store", str(path), "record", "-", input=lines).returncode == 0
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


@pytest.mark.parametrize("damage", ["bad header", "garbage page", "truncated"])
def test_corrupt_files_are_reported_and_left_byte_for_byte(tmp_path, damage):
    path = tmp_path / "c.db"
    _make_store(path)
    data = bytearray(path.read_bytes())
    if damage == "bad header":
        data[:16] = b"NOT SQLITE AT AL"
    elif damage == "garbage page":
        page = 4096
        data[page * 3 : page * 5] = os.urandom(page * 2)
    else:
        data = data[: len(data) // 2]
    path.write_bytes(bytes(data))
    for name in ("c.db-wal", "c.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    before = path.read_bytes()
    for command in (["verify"], ["search", "--limit", "1000"], ["record", "update", "--entity", "a:b"], ["export"]):
        result = auditctl("--store", str(path), *command)
        assert result.returncode in (65, 74), (damage, command, result.returncode, result.stderr)
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr, result.stderr
        assert path.read_bytes() == before, (damage, command)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_remote_store_that_is_down_is_exit_69_quickly(tmp_path):
    port = _free_port()
    started = time.monotonic()
    result = auditctl("--store", f"http://127.0.0.1:{port}", "--token", "actl_x", "search", timeout=60)
    assert result.returncode == 69, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr
    assert time.monotonic() - started < 35


@pytest.mark.slow
def test_a_remote_store_that_never_answers_is_exit_69_within_the_timeout(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts connections, never answers
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        # AUDITCTL_TIMEOUT (default 30 s) bounds the whole call; 5 s keeps the test short.
        result = auditctl("--store", f"http://127.0.0.1:{port}", "--token", "actl_x", "head", timeout=120,
                          env={"AUDITCTL_TIMEOUT": "5"})
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
    assert result.returncode == 69, result.stderr
    assert "5 s" in result.stderr
    assert 4.5 <= elapsed < 20
