"""The HTTP store backend for the contract tests: a real server, in-process, on a free port.

``running_server`` starts uvicorn in a thread on a socket bound to port 0, so tests
can run in parallel and never collide. ``http_backend`` (registered in conftest's
BACKENDS) yields an ``HttpStore`` with an admin token pointed at a fresh server app
over a fresh store file. Starting uvicorn for every test would cost more than the
tests, so one uvicorn per test process hosts many apps, each under its own path
prefix (``/t/<n>``): every test still talks real HTTP to a real ``create_app`` app
and its own store, through the same client code a user runs.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class RunningServer:
    def __init__(self, store_path: Path, **options: Any) -> None:
        import uvicorn

        from auditctl.server import create_app

        options.setdefault("purge_interval", 0)
        self.store_path = store_path
        self.app = create_app(store_path, **options)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", timeout_graceful_shutdown=5))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> RunningServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def token(self, role: str = "admin", org: str = "default", *, expires_at: str | None = None,
              name: str | None = None) -> str:
        """Make a token straight in the store file, as ``auditctl token create`` does."""
        from auditctl.store import tokens
        from auditctl.store.sqlite import SQLiteStore
        from auditctl.timeparse import now_text

        with SQLiteStore(self.store_path) as store:
            secret, _ = tokens.create_token(store, role=role, org=org, name=name, created_at=now_text(),
                                            expires_at=expires_at)
        return secret

    def token_info(self, secret: str) -> Any:
        from auditctl.store import tokens
        from auditctl.store.sqlite import SQLiteStore

        with SQLiteStore(self.store_path) as store:
            return tokens.lookup(store, secret)


class Switchboard:
    """An ASGI app that hands ``/t/<n>/…`` to the n-th mounted app as ``/…``."""

    def __init__(self) -> None:
        self.apps: dict[str, Any] = {}
        self._next = 0
        self._lock = threading.Lock()

    def mount(self, app: Any) -> str:
        with self._lock:
            self._next += 1
            key = str(self._next)
            self.apps[key] = app
        return key

    def unmount(self, key: str) -> None:
        app = self.apps.pop(key, None)
        if app is not None:
            app.state.auditctl.close()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        parts = scope["path"].split("/", 3)
        app = self.apps.get(parts[2]) if len(parts) > 3 and parts[1] == "t" else None
        if app is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        path = "/" + parts[3]
        await app(dict(scope, path=path, raw_path=path.encode()), receive, send)


_BOARD: tuple[Switchboard, RunningServer] | None = None
_BOARD_LOCK = threading.Lock()


def switchboard() -> tuple[Switchboard, str]:
    """The process's shared uvicorn (started on first use, stopped at exit)."""
    global _BOARD
    with _BOARD_LOCK:
        if _BOARD is None:
            import atexit

            import uvicorn

            board = Switchboard()
            server = object.__new__(RunningServer)
            server.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            server.sock.bind(("127.0.0.1", 0))
            server.port = server.sock.getsockname()[1]
            server.url = f"http://127.0.0.1:{server.port}"
            server.server = uvicorn.Server(uvicorn.Config(board, log_level="warning"))
            server.thread = threading.Thread(target=server.server.run, kwargs={"sockets": [server.sock]},
                                             daemon=True)
            server.start()
            atexit.register(server.stop)
            _BOARD = (board, server)
    return _BOARD[0], _BOARD[1].url


@contextmanager
def mounted_app(store_path: Path, **options: Any) -> Iterator[tuple[str, Any]]:
    """A fresh server app on the shared uvicorn: (its base URL, the app)."""
    from auditctl.server import create_app

    options.setdefault("purge_interval", 0)
    board, url = switchboard()
    app = create_app(store_path, **options)
    key = board.mount(app)
    try:
        yield f"{url}/t/{key}", app
    finally:
        board.unmount(key)


def make_token(app: Any, role: str = "admin", org: str = "default", *, expires_at: str | None = None,
               name: str | None = None) -> str:
    """A token made through the app's own store connection."""
    from auditctl.store import tokens
    from auditctl.timeparse import now_text

    state = app.state.auditctl
    with state.pool.acquire() as store:
        secret, _ = tokens.create_token(store, role=role, org=org, name=name, created_at=now_text(),
                                        expires_at=expires_at)
    return secret


@contextmanager
def running_server(store_path: Path, **options: Any) -> Iterator[RunningServer]:
    server = RunningServer(store_path, **options).start()
    try:
        yield server
    finally:
        server.stop()


def http_backend(tmp_path: Path) -> Iterator[Any]:
    from auditctl.store.http import HttpStore

    with mounted_app(tmp_path / "server.db") as (url, app):
        store = HttpStore(url, token=make_token(app))
        try:
            yield store
        finally:
            store.close()
