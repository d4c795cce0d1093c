"""Secrets never reach the disk: not the database, its WAL or shm, nor any temporary file.

Events full of secrets go in through every path — `record` flags, `record --json`,
`record -`, `import` of JSONL and CSV, and HTTP (the client store, and raw NDJSON) —
as real processes with their own TMPDIR and SQLITE_TMPDIR. Then every byte of the
store folders and the temporary folder is searched for every secret.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditctl.export import CsvWriter
from auditctl.model import Event
from auditctl.store.http import HttpStore

# Each secret holds a unique marker; the check looks for the marker, so a secret
# cut or re-encoded on the way is still found.
KEYED = {  # secrets under a sensitive key name: the whole value must go
    "password": "pwMARK01value", "db_passwd": "pwMARK02value", "api_key": "akMARK03value",
    "apikey": "akMARK04value", "access_token": "tkMARK05value", "refresh_token": "tkMARK06value",
    "cookie": "ckMARK07value", "Set-Cookie": "ckMARK08value", "authorization": "auMARK09value",
    "session": "ssMARK10value", "sessionId": "ssMARK11value", "client_secret": "scMARK12value",
    "private_key": "pkMARK13value", "aws_credentials": "crMARK14value",
}
SHAPED = [  # secret-shaped values under innocent names: the secret part must go
    "Bearer brMARK15abcdefghijklmnop",
    "Basic YmFzaWNNQVJLMTY6cGFzcw==",
    "postgres://admin:urMARK17pass@db.example.com:5432/app",
    "https://bob:urMARK18pass@example.com/x?y=1",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqd01BUksxOSJ9.jwMARK19signaturepart",
    "actl_acMARK20abcdefghijklmnopqrstuvwxyz",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpemMARK21AAAKCAQEA\nqwerty\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----\npemMARK22b3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----",
    "GET /cb?code=1&access_token=qsMARK23value&x=2",
    "password=kvMARK24value",
]
SHAPED_MARKERS = ["MARK15", "YmFzaWNNQVJLMTY6", "MARK17", "MARK18", "jwMARK19", "d01BUksxOS", "MARK20", "MARK21",
                  "MARK22", "MARK23", "MARK24"]
MARKERS = [v[:8] for v in KEYED.values()] + SHAPED_MARKERS


def secret_event(n: int, path: str) -> dict[str, Any]:
    """An event with every secret in changes, context and metadata (nested too)."""
    shaped = {f"note{i}": value for i, value in enumerate(SHAPED)}
    return {
        "action": "update", "source": "api", "timestamp": f"2026-11-20T10:00:{n:02d}Z",
        "actor": {"type": "user", "id": f"user-{path}", "email": "ann@example.com"},
        "entity": {"type": "account", "id": f"acct-{path}-{n}"},
        "changes": [*({"field": k, "old": v, "new": v + "new"} for k, v in KEYED.items()),
                    *({"field": k, "old": "x", "new": v} for k, v in shaped.items())],
        "context": {"reason": " | ".join(SHAPED), "user_agent": SHAPED[2], "ip": "203.0.113.5",
                    "authorization": SHAPED[0], "session_token": KEYED["session"], "extra": dict(shaped)},
        "metadata": {**KEYED, **shaped, "nested": {"deeper": [KEYED, shaped, {"headers": {"Cookie": "c=1"}}]}},
    }


def scan(*folders: Path) -> dict[str, list[str]]:
    """Every marker found in any file under the folders: {file: [markers]}."""
    found: dict[str, list[str]] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                hits = [m for m in MARKERS if m.encode() in data or m.encode("utf-16-le") in data]
                if hits:
                    found[str(path)] = hits
    return found


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    return {**os.environ, "TMPDIR": str(tmp), "SQLITE_TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp),
            "AUDITCTL_USER": "tester"}


def auditctl(env: dict[str, str], *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "auditctl", *args], input=input, capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, (args[:4], result.stderr)
    return result


def csv_text(events: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = CsvWriter(out)
    for data in events:
        writer.write(Event.from_dict(data).to_dict())
    return out.getvalue()


@pytest.fixture
def server(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[str, str, Path]]:
    folder = tmp_path / "server"
    folder.mkdir()
    db = str(folder / "served.db")
    token = auditctl(env, "token", "create", "--role", "writer", "--store", db).stdout.strip()
    proc = subprocess.Popen([sys.executable, "-m", "auditctl", "--store", db, "serve", "--port", "0",
                             "--purge-every", "0"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env=env)
    try:
        line = proc.stderr.readline()
        assert "auditctl serving" in line, line
        yield line.split(" on ", 1)[1].split()[0], token, folder
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_no_secret_reaches_any_file_through_any_path(tmp_path, env, server):
    local = tmp_path / "local"
    local.mkdir()
    db = str(local / "audit.db")
    inputs = tmp_path / "inputs"  # the input files hold the secrets, of course: not scanned
    inputs.mkdir()
    url, token, served = server
    auditctl(env, "--store", db, "record", "login", "--actor", "system:init")
    # Keep a connection open, as a reader would: the WAL then stays on disk with every
    # frame each writer process appended, instead of being checkpointed away on exit.
    holder = sqlite3.connect(db)
    holder.execute("SELECT count(*) FROM events").fetchone()
    try:
        shaped = " ".join(SHAPED[:6])
        flags = [f"--old={k}={v}" for k, v in KEYED.items()] + [f"--new={k}={v}x" for k, v in KEYED.items()]
        flags += [f"--meta={k}={v}" for k, v in KEYED.items()]
        flags += [f"--new=note{i}={v}" for i, v in enumerate(SHAPED)] + [f"--meta=m{i}={v}" for i, v in enumerate(SHAPED)]
        paths = {
            "flags": lambda store, extra: auditctl(env, *store, "record", "update", "--entity", "account:a1",
                                                   "--reason", shaped, "--user-agent", SHAPED[3], *flags, *extra),
            "json": lambda store, extra: auditctl(env, *store, "record", "--json", json.dumps(secret_event(1, "json"))),
            "stdin": lambda store, extra: auditctl(env, *store, "record", "-", input="".join(
                json.dumps(secret_event(n, "stdin")) + "\n" for n in range(3))),
            "import-jsonl": lambda store, extra: auditctl(env, *store, "import", str(_write(
                inputs / "in.jsonl", "".join(json.dumps(secret_event(n, "jsonl")) + "\n" for n in range(20))))),
            "import-csv": lambda store, extra: auditctl(env, *store, "import", str(_write(
                inputs / "in.csv", csv_text([secret_event(n, "csv") for n in range(20)])))),
        }
        for send in paths.values():
            send(["--store", db], [])
            send(["--store", url, "--token", token], [])
        # HTTP: the CLI's own client store, and raw NDJSON as any other client sends it.
        with HttpStore(url, token=token) as store:
            store.append([Event.from_dict(secret_event(n, "client")) for n in range(5)])
        ndjson = "".join(json.dumps(secret_event(n, "ndjson")) + "\n" for n in range(5))
        response = httpx.post(f"{url}/v1/events", content=ndjson, verify=False, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson",
            "User-Agent": "agent " + SHAPED[0], "Cookie": "session=" + KEYED["session"]})
        assert response.status_code == 201, response.text

        # Every path arrived (and was redacted on the way, not dropped).
        stored_local = holder.execute("SELECT count(*), sum(instr(doc, '[REDACTED]') > 0) FROM events").fetchone()
        assert stored_local[0] >= 1 + 1 + 1 + 3 + 20 + 20 and stored_local[1] >= 45
        with sqlite3.connect(Path(served) / "served.db") as conn:
            entities = {r[0].split("-")[1] for r in conn.execute(
                "SELECT entity_id FROM events WHERE entity_type = 'account' AND entity_id LIKE 'acct-%'")}
        assert entities == {"json", "stdin", "jsonl", "csv", "client", "ndjson"}
        files = sorted(p.name for p in [*local.iterdir(), *served.iterdir()])
        assert {"audit.db", "audit.db-wal", "served.db", "served.db-wal"} <= set(files), files
        assert scan(local, served, Path(env["TMPDIR"])) == {}
    finally:
        holder.close()
    # And after the last connection closed and SQLite checkpointed: still nothing.
    assert scan(local, served, Path(env["TMPDIR"])) == {}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_scan_would_find_a_secret(tmp_path):
    """The scanner itself: a marker in a file (UTF-8 or UTF-16) is found."""
    (tmp_path / "a").write_bytes(b"xx" + MARKERS[0].encode() + b"yy")
    (tmp_path / "b").write_bytes(MARKERS[-1].encode("utf-16-le"))
    assert scan(tmp_path) == {str(tmp_path / "a"): [MARKERS[0]], str(tmp_path / "b"): [MARKERS[-1]]}
