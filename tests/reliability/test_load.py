"""Load: many writers at once on one local store; nothing lost, no lock errors, one chain."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DRIVERS = Path(__file__).with_name("drivers.py")
PROCESSES = 16
CALLS = 500


def test_16_processes_x_500_record_calls_on_one_store(tmp_path):
    store = tmp_path / "load.db"
    subprocess.run([sys.executable, "-m", "auditctl", "--store", str(store), "record", "login", "--actor", "system:init"],
                   check=True, capture_output=True)
    procs = [subprocess.Popen([sys.executable, str(DRIVERS), "record_loop", str(store), str(CALLS), f"w{i}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(PROCESSES)]
    results = [proc.communicate(timeout=900) for proc in procs]
    failures = [(proc.returncode, err[-500:]) for proc, (_, err) in zip(procs, results, strict=True) if proc.returncode]
    assert not failures, failures
    assert not any("locked" in err for _, err in results)
    acknowledged = [line for out, _ in results for line in out.split()]
    assert len(acknowledged) == PROCESSES * CALLS == len(set(acknowledged))
    conn = sqlite3.connect(store)
    seqs = [row[0] for row in conn.execute("SELECT seq FROM events ORDER BY seq")]
    ids = {row[0] for row in conn.execute("SELECT id FROM events")}
    conn.close()
    assert len(seqs) == PROCESSES * CALLS + 1
    assert seqs == list(range(1, len(seqs) + 1))
    assert set(acknowledged) <= ids
    verify = subprocess.run([sys.executable, "-m", "auditctl", "--store", str(store), "verify"], capture_output=True,
                            text=True, timeout=300)
    assert verify.returncode == 0, verify.stderr
