"""The HTTP client store and the CLI over it: retries, lost answers, errors, exit codes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditctl import errors
from auditctl.query import Query
from auditctl.store.http import HttpStore
from tests.conftest import Cli, make_event
from tests.http_backend import make_token, mounted_app


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    with mounted_app(tmp_path / "server.db") as mounted:
        yield mounted


class DropFirstAnswer:
    """A TCP proxy that lets the first request reach the server, waits until the
    server has answered (so it committed), and then kills the connection without
    passing the answer on. Later connections are forwarded untouched."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.dropped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            if self.connections == 1:
                threading.Thread(target=self._drop_answer, args=(upstream, client), daemon=True).start()
            else:
                threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _drop_answer(self, upstream: socket.socket, client: socket.socket) -> None:
        upstream.recv(65536)  # the server's answer: the write is committed
        self.dropped.set()
        for sock in (client, upstream):  # hang up: the client never sees the answer
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self.listener.close()


def test_lost_answer_then_retry_leaves_exactly_one_event(server):
    url, app = server
    base, prefix = url.rsplit("/t/", 1)
    proxy = DropFirstAnswer(int(base.rsplit(":", 1)[1]))
    try:
        with HttpStore(f"http://127.0.0.1:{proxy.port}/t/{prefix}", token=make_token(app), backoff=0.01) as store:
            [result] = store.append([make_event(id=None)])
            assert proxy.dropped.is_set() and proxy.connections == 2  # the answer was lost, then retried
            assert result.created is False  # the retry found the event the first attempt stored
            assert store.count(Query()) == 1
            assert store.get(result.id).seq == 1 == result.seq
    finally:
        proxy.close()


def test_server_down_is_unreachable_naming_the_url_quickly():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with HttpStore(url, token="actl_x", backoff=0.01) as store, pytest.raises(errors.Unreachable) as caught:
        store.head()
    assert time.monotonic() - started < 5
    assert url in caught.value.message and caught.value.exit_code == 69


class Flaky:
    """An httpx transport that answers 503 (then 429) before letting requests through."""

    def __init__(self, inner: Any, failures: list[int]) -> None:
        self.inner, self.failures, self.calls = inner, failures, 0

    def handle_request(self, request: Any) -> Any:
        import httpx

        self.calls += 1
        if self.failures:
            return httpx.Response(self.failures.pop(0), headers={"Retry-After": "0"},
                                  json={"error": "busy", "code": "Busy"})
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_retries_on_503_and_429_but_not_on_other_errors(server):
    import httpx

    url, app = server
    flaky = Flaky(httpx.HTTPTransport(), [503, 429])
    with HttpStore(url, token=make_token(app), transport=flaky, backoff=0.01) as store:
        assert store.head().seq == 0 and flaky.calls == 3
    flaky = Flaky(httpx.HTTPTransport(), [503] * 10)
    with HttpStore(url, token=make_token(app), transport=flaky, backoff=0.01) as store, pytest.raises(errors.Busy):
        store.head()
    assert flaky.calls == 4  # the first try and three retries
    flaky = Flaky(httpx.HTTPTransport(), [500, 500])
    with HttpStore(url, token=make_token(app), transport=flaky, backoff=0.01) as store, pytest.raises(errors.AuditError):
        store.head()
    assert flaky.calls == 1


@pytest.mark.parametrize(("role", "call", "error", "exit_code"), [
    (None, lambda s: s.head(), errors.Unauthorized, 77),
    ("writer", lambda s: s.head(), errors.PermissionDenied, 77),
    ("admin", lambda s: s.get("nope"), errors.NotFound, 66),
    ("admin", lambda s: s.append([make_event(id="e1"), make_event(id="e1", source="web")]), errors.ConflictError, 2),
    ("admin", lambda s: list(s.query(Query(since="2026-01-01T00:00:00.000000Z", until="2025-01-01T00:00:00.000000Z"))),
     errors.UsageError, 2),
])
def test_error_answers_become_auditctl_errors(server, role, call, error, exit_code):
    url, app = server
    with HttpStore(url, token=make_token(app, role) if role else "actl_wrong") as store, pytest.raises(error) as caught:
        call(store)
    assert caught.value.exit_code == exit_code


# --------------------------------------------------------------------------- the CLI over HTTP


def test_cli_commands_work_against_a_server(server, tmp_path):
    import json

    url, app = server
    cli = Cli(tmp_path / "unused.db")
    remote = ["--store", url, "--token", make_token(app)]
    recorded = cli(*remote, "record", "update", "--actor", "user:ann@example.com", "--entity", "part:p1",
                   "--old", "status=draft", "--new", "status=ready", "--correlation-id", "req-9", store=False)
    assert recorded.exit_code == 0, recorded.stderr
    event_id = recorded.stdout.strip()
    cli(*remote, "record", "create", "--entity", "part:p2", "--new", "status=draft", "--correlation-id", "req-9",
        "--parent", event_id, store=False)

    found = cli.json_lines(*remote, "search", "ann@", store=False)
    assert [e["id"] for e in found] == [event_id]
    assert found[0]["context"]["user_agent"].startswith("auditctl/") and found[0]["context"]["api_key_id"]

    table = cli(*remote, "search", "--format", "table", store=False)
    assert table.exit_code == 0 and "2 events matched" in table.stdout.replace("\n", " ")
    shown = cli(*remote, "show", event_id, "--format", "json", store=False)
    assert json.loads(shown.stdout)["id"] == event_id
    assert cli(*remote, "show", "1", store=False).exit_code == 0
    assert cli(*remote, "show", "--correlation", "req-9", store=False).exit_code == 0
    assert cli(*remote, "filter", "--action", "create", store=False).exit_code == 0

    export_file = tmp_path / "out.jsonl"
    exported = cli(*remote, "export", "-o", str(export_file), store=False)
    assert exported.exit_code == 0, exported.stderr
    assert len(export_file.read_text().splitlines()) == 2
    assert cli(*remote, "import", str(export_file), store=False).exit_code == 0  # all already present

    verified = cli(*remote, "verify", store=False)
    assert verified.exit_code == 0 and verified.stdout.startswith("OK:")
    head = cli(*remote, "head", store=False)
    assert head.exit_code == 0 and head.stdout.strip().split(":")[0] == "3"  # 2 records and the export; the no-op import adds none
    assert cli(*remote, "verify", "--expect-head", head.stdout.strip(), store=False).exit_code == 0
    assert cli(*remote, "record", "login", "--at", "10d", store=False).exit_code == 0
    dry = cli(*remote, "purge", "--older-than", "5d", "--dry-run", "--format", "json", store=False)
    assert dry.exit_code == 0 and json.loads(dry.stdout)["count"] == 1
    purged = cli(*remote, "purge", "--older-than", "5d", "--yes", "--format", "json", store=False)
    assert purged.exit_code == 0, purged.stderr
    assert json.loads(purged.stdout)["count"] == 1
    assert cli(*remote, "verify", store=False).exit_code == 0


def test_cli_token_from_env_and_permission_exit_codes(server, tmp_path):
    url, app = server
    cli = Cli(tmp_path / "unused.db")
    auditor = {"AUDITCTL_STORE": url, "AUDITCTL_TOKEN": make_token(app, "auditor")}
    assert cli("head", env=auditor, store=False).exit_code == 0
    denied = cli("record", "login", env=auditor, store=False)
    assert denied.exit_code == 77 and "lacks the permission audit.log.write" in denied.stderr
    unauthorized = cli("head", env={"AUDITCTL_STORE": url}, store=False)
    assert unauthorized.exit_code == 77 and "token" in unauthorized.stderr


def test_cli_server_down_is_exit_69_naming_the_url(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    result = Cli(tmp_path / "unused.db")("--store", url, "--token", "actl_x", "search", store=False)
    assert result.exit_code == 69, result.stderr
    assert url in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - started < 30  # connection refused: a few quick retries, then the answer


def test_token_commands_and_a_real_serve_process(tmp_path):
    """token create/list/revoke on a file, then `auditctl serve` on it, stopped by SIGTERM
    while a client writes: every acknowledged write is in the file afterwards."""
    import json

    db = str(tmp_path / "served.db")
    cli = Cli(Path(db))
    created = cli("token", "create", "--role", "admin", "--name", "ops", "--expires", "90d")
    assert created.exit_code == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("actl_") and "only time" in created.stderr
    spare = cli("token", "create", "--role", "writer").stdout.strip()
    listed = cli.json_lines("token", "list")
    assert [t["name"] for t in listed] == ["ops", None] and all(secret not in json.dumps(t) for t in listed)
    assert [t["status"] for t in listed] == ["active", "active"] and listed[0]["expires_at"]
    assert cli("token", "revoke", listed[1]["id"]).exit_code == 0
    assert [t["status"] for t in cli.json_lines("token", "list")] == ["active", "revoked"]
    assert cli("--store", "http://127.0.0.1:1", "token", "list", store=False).exit_code == 2
    made = [e["entity"]["id"] for e in cli.json_lines("search", "--entity", "api_token")]
    assert sorted(made) == sorted([listed[0]["id"], listed[1]["id"], listed[1]["id"]])  # 2 creates, 1 revoke

    proc = subprocess.Popen([sys.executable, "-m", "auditctl", "--store", db, "serve", "--port", "0"],
                            stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        line = proc.stderr.readline()
        assert "auditctl serving" in line, line
        url = line.split(" on ", 1)[1].split()[0]
        acknowledged: list[str] = []
        failures: list[errors.AuditError] = []
        stop = threading.Event()

        def writer() -> None:
            with HttpStore(url, token=secret, retries=0) as store:
                while not stop.is_set():
                    try:
                        acknowledged.append(store.append([make_event(id=None)])[0].id)
                    except errors.AuditError as exc:
                        failures.append(exc)
                        return

        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(0.5)
        with HttpStore(url, token=spare) as store, pytest.raises(errors.Unauthorized):
            store.head()  # revoked
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        stop.set()
        thread.join(timeout=20)
        assert "stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(acknowledged) > 3, failures
    from auditctl.store.sqlite import SQLiteStore

    with SQLiteStore(db) as store:
        stored = {e.id for e in store.query(Query())}
        assert set(acknowledged) <= stored
        assert store.verify().ok


def test_local_commands_do_not_import_the_http_stack(tmp_path):
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from auditctl.cli.commands import app\n"
        f"store = {str(tmp_path / 'local.db')!r}\n"
        "r = CliRunner().invoke(app, ['--store', store, 'record', 'login', '--actor', 'user:ann'])\n"
        "assert r.exit_code == 0, r.output\n"
        "r = CliRunner().invoke(app, ['--store', store, 'search', 'ann'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'fastapi', 'uvicorn', 'starlette'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
