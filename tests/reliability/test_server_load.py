"""Load through the server: 50 clients x 200 POSTs at once against a real `auditctl serve`.

Every record is its own request. Half the clients speak raw HTTP (httpx), half go
through the CLI's own ``HttpStore``; clients run as threads in a few worker
processes, so the clients' GIL does not throttle the server being measured.
Afterwards: exactly 10,000 events, every acknowledged id stored once, no 5xx, seq
gap-free, and `auditctl verify` on the file passes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROCESSES = 5
CLIENTS_PER_PROCESS = 10
CALLS = 200
CLIENTS = PROCESSES * CLIENTS_PER_PROCESS
ROOT = Path(__file__).resolve().parents[2]


def client_worker(url: str, token: str, process: int) -> None:
    """Run CLIENTS_PER_PROCESS clients; print one JSON line per client with what it saw."""
    import httpx

    from auditctl import errors
    from auditctl.model import Event
    from auditctl.store.http import HttpStore

    def event(client: str, i: int) -> dict:
        return {"action": "update", "actor": {"type": "api_key", "id": client}, "source": "api",
                "entity": {"type": "doc", "id": f"{client}-{i}"}, "changes": [{"field": "n", "new": i}]}

    out_lock = threading.Lock()

    def raw_client(name: str) -> None:
        statuses: Counter[int] = Counter()
        ids: list[str] = []
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60,
                          verify=False) as http:
            for i in range(CALLS):
                try:
                    response = http.post("/v1/events", json=event(name, i))
                except httpx.HTTPError as exc:
                    statuses[-1] += 1
                    sys.stderr.write(f"{name}: {exc!r}\n")
                    continue
                statuses[response.status_code] += 1
                if response.status_code == 201:
                    ids.extend(r["id"] for r in response.json()["results"])
                else:
                    sys.stderr.write(f"{name}: HTTP {response.status_code} {response.text[:200]}\n")
        report(name, statuses, ids)

    def store_client(name: str) -> None:
        statuses: Counter[int] = Counter()
        ids: list[str] = []
        with HttpStore(url, token=token, retries=0, timeout=60) as store:
            for i in range(CALLS):
                try:
                    ids.append(store.append([Event.from_dict(event(name, i))])[0].id)
                    statuses[201] += 1
                except errors.AuditError as exc:
                    statuses[-1] += 1
                    sys.stderr.write(f"{name}: {type(exc).__name__}: {exc.message}\n")
        report(name, statuses, ids)

    def report(name: str, statuses: Counter[int], ids: list[str]) -> None:
        with out_lock:
            sys.stdout.write(json.dumps({"client": name, "statuses": statuses, "ids": ids}) + "\n")
            sys.stdout.flush()

    threads = [threading.Thread(target=(raw_client if n % 2 else store_client), args=(f"p{process}c{n}",))
               for n in range(CLIENTS_PER_PROCESS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _auditctl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditctl", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_50_clients_x_200_posts_through_auditctl_serve(tmp_path):
    db = str(tmp_path / "served.db")
    created = _auditctl("token", "create", "--role", "admin", "--name", "load", "--store", db)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    server = subprocess.Popen([sys.executable, "-m", "auditctl", "--store", db, "serve", "--port", "0",
                               "--purge-every", "0"], stderr=subprocess.PIPE, text=True)
    try:
        line = server.stderr.readline()
        assert "auditctl serving" in line, line
        url = line.split(" on ", 1)[1].split()[0]
        # uvicorn's access log goes to stderr: drain it so the server never blocks on a full pipe.
        server_log: list[str] = []
        drain = threading.Thread(target=lambda: server_log.extend(server.stderr), daemon=True)
        drain.start()

        started = time.monotonic()
        workers = [subprocess.Popen([sys.executable, __file__, url, token, str(p)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                    env={**os.environ, "PYTHONPATH": str(ROOT)})
                   for p in range(PROCESSES)]
        outputs = [w.communicate(timeout=300) for w in workers]
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        assert server.wait(timeout=60) == 0

    assert all(w.returncode == 0 for w in workers), [err[-1000:] for _, err in outputs]
    reports = [json.loads(line) for out, _ in outputs for line in out.splitlines()]
    assert len(reports) == CLIENTS
    statuses: Counter[str] = Counter()
    for item in reports:
        statuses.update(item["statuses"])
    errors_seen = "".join(err for _, err in outputs)
    assert statuses == {"201": CLIENTS * CALLS}, (statuses, errors_seen[-2000:])
    assert not any(" 500 " in line or "Traceback" in line for line in server_log), server_log[-20:]
    acknowledged = [i for item in reports for i in item["ids"]]
    assert len(acknowledged) == len(set(acknowledged)) == CLIENTS * CALLS

    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT seq, id, entity_id FROM events WHERE action = 'update' ORDER BY seq").fetchall()
    all_seqs = [r[0] for r in conn.execute("SELECT seq FROM events WHERE org = 'default' ORDER BY seq")]
    conn.close()
    assert len(rows) == CLIENTS * CALLS
    assert {r[1] for r in rows} == set(acknowledged)
    expected_entities = {f"p{p}c{n}-{i}" for p in range(PROCESSES) for n in range(CLIENTS_PER_PROCESS)
                         for i in range(CALLS)}
    assert sorted(r[2] for r in rows) == sorted(expected_entities)  # none lost, none twice
    assert all_seqs == list(range(1, len(all_seqs) + 1))
    verify = _auditctl("verify", "--store", db, timeout=300)
    assert verify.returncode == 0, verify.stderr
    rate = CLIENTS * CALLS / elapsed
    print(f"\nserver load: {CLIENTS} clients x {CALLS} POSTs = {CLIENTS * CALLS} events in {elapsed:.1f} s"
          f" ({rate:.0f} events/s), statuses {dict(statuses)}")


if __name__ == "__main__":
    client_worker(sys.argv[1], sys.argv[2], int(sys.argv[3]))
