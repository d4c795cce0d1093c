"""Killed mid-write: SIGKILL, SIGINT and SIGTERM never leave a half batch or lose an
acknowledged event, and an interrupted import can simply be run again."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

AUDITCTL = [sys.executable, "-m", "auditctl"]
BATCH = 1000


def integrity_ok(path: Path) -> bool:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def file_events_in_store(path: Path, prefix: str) -> int:
    conn = sqlite3.connect(path)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
            return 0  # killed before the store's first commit: nothing stored, as it should be
        return conn.execute("SELECT count(*) FROM events WHERE entity_id LIKE ?", (prefix + "%",)).fetchone()[0]
    finally:
        conn.close()


def verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AUDITCTL, "--store", str(path), "verify"], capture_output=True, text=True, timeout=120)


def test_sigkill_record_at_random_moments(tmp_path):
    store = tmp_path / "k.db"
    subprocess.run([*AUDITCTL, "--store", str(store), "record", "login", "--actor", "system:init"], check=True,
                   capture_output=True)
    rng = random.Random(7)
    acknowledged: list[str] = []
    # How long eight concurrent records take here, so kills land all over that span:
    # before the store opens, inside the transaction, after the commit.
    started = time.monotonic()
    warmup = [subprocess.Popen([*AUDITCTL, "--store", str(store), "record", "update", "--entity", "doc:warm"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(8)]
    for proc in warmup:
        proc.communicate()
    span = time.monotonic() - started
    rounds = 0
    while rounds < 200:
        procs = []
        for _ in range(8):  # eight at once: kills also land while others hold the lock
            procs.append(subprocess.Popen([*AUDITCTL, "--store", str(store), "record", "update", "--entity",
                                           f"doc:{rounds}", "--new", f"n={rounds}"],
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            rounds += 1
        time.sleep(rng.uniform(0.0, span * 1.2))
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
        for proc in procs:
            out, _ = proc.communicate()
            acknowledged += [line for line in out.split() if len(line) == 26]
    assert integrity_ok(store)
    result = verify(store)
    assert result.returncode == 0, result.stderr
    conn = sqlite3.connect(store)
    stored = {row[0] for row in conn.execute("SELECT id FROM events")}
    conn.close()
    assert set(acknowledged) <= stored
    assert acknowledged, "no round got far enough to acknowledge; the timings are off"


def _import_file(tmp_path: Path, count: int = 10_000) -> Path:
    path = tmp_path / "big.jsonl"
    with path.open("w") as handle:
        for i in range(count):
            handle.write(json.dumps({"action": "create", "actor": {"type": "system", "id": "loader"}, "source": "system",
                                     "entity": {"type": "row", "id": f"imp-{i:05d}"},
                                     "timestamp": "2026-11-20T00:00:00Z", "changes": [{"field": "n", "new": i}]}) + "\n")
    return path


def test_sigkill_import_never_leaves_a_half_batch_and_rerun_completes(tmp_path):
    source = _import_file(tmp_path)
    store = tmp_path / "imp.db"
    rng = random.Random(11)
    for _ in range(24):
        proc = subprocess.Popen([*AUDITCTL, "--store", str(store), "import", str(source), "--batch-size", str(BATCH)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 1.8))
        proc.kill()
        proc.wait()
        assert integrity_ok(store)
        present = file_events_in_store(store, "imp-")
        assert present % BATCH == 0, f"half a batch stored: {present}"
    final = subprocess.run([*AUDITCTL, "--store", str(store), "import", str(source)], capture_output=True, text=True,
                           timeout=300)
    assert final.returncode == 0, final.stderr
    assert file_events_in_store(store, "imp-") == 10_000
    conn = sqlite3.connect(store)
    assert conn.execute("SELECT count(DISTINCT id) FROM events WHERE entity_id LIKE 'imp-%'").fetchone()[0] == 10_000
    conn.close()
    assert verify(store).returncode == 0


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_during_import_roll_back_and_release_the_lock(tmp_path, sig, code):
    # Big enough, in small batches, that the import is still running when the signal lands.
    source = _import_file(tmp_path, count=40_000)
    store = tmp_path / "sig.db"
    subprocess.run([*AUDITCTL, "--store", str(store), "record", "login", "--actor", "system:init"], check=True,
                   capture_output=True)
    # A child inherits an ignored SIGINT (a pytest-xdist worker may run with one) and
    # Python then never installs its handler: give the import the default, as a shell does.
    proc = subprocess.Popen([*AUDITCTL, "--store", str(store), "import", str(source), "--batch-size", str(BATCH)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Wait until the import is under way (some batches in), then interrupt it.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and file_events_in_store(store, "imp-") < BATCH:
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    present = file_events_in_store(store, "imp-")
    assert present % BATCH == 0 and present < 40_000
    started = time.monotonic()
    after = subprocess.run([*AUDITCTL, "--store", str(store), "record", "update", "--entity", "a:b"],
                           capture_output=True, text=True, timeout=60)
    assert after.returncode == 0 and time.monotonic() - started < 8, "the write lock was not released"
    assert integrity_ok(store) and verify(store).returncode == 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads /proc to find the worker")
def test_a_killed_import_leaves_no_worker_process_behind(tmp_path):
    """The import's worker (it prepares batches) must not outlive a writer killed with SIGKILL."""
    source = _import_file(tmp_path, count=40_000)
    store = tmp_path / "orphan.db"
    proc = subprocess.Popen([*AUDITCTL, "--store", str(store), "import", str(source)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and not (workers and file_events_in_store(store, "imp-") >= BATCH):
        workers = workers or _children(proc.pid)
        time.sleep(0.05)
    assert workers, "the import ran without a worker process"
    assert proc.poll() is None, "the import ended before it could be killed"
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.1)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()
             and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    assert not alive, f"worker processes left running: {alive}"
    assert file_events_in_store(store, "imp-") % BATCH == 0
