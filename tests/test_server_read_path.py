"""GET /v1/events on the event loop: same answers, same refusals, bounded time.

A page is read on the loop when the token may view, an idle connection is there and
the SQLite work fits the budget; otherwise in a worker thread, as every other read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditctl.errors import NotFound
from auditctl.server import app as server_app
from auditctl.store import tokens
from auditctl.store.budget import OverBudget, sqlite_budget
from auditctl.timeparse import now_text
from tests.test_server import Server, _server, assert_json_error, event

LONG_SQL = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000000) SELECT count(*) FROM n"


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[Server]:
    yield from _server(tmp_path)


def on_loop(srv: Server, who: str, action: Any = None) -> Any:
    state = srv.app.state.auditctl
    return server_app._read_on_loop(state, srv.tokens.get(who, who),
                                    action or (lambda store: (threading.current_thread().name, store.org)))


def test_a_page_is_read_right_here_on_an_idle_connection(srv):
    srv.call("admin", "GET", "/v1/head")
    assert on_loop(srv, "admin") == (threading.current_thread().name, "default")
    assert on_loop(srv, "acme")[1] == "acme"  # scoped to the token's org


def test_the_loop_never_opens_a_connection():
    def opening() -> Any:
        raise AssertionError("opened a connection")

    pool = server_app.StorePool(opening)
    with pool.acquire_idle() as store:
        assert store is None


def test_what_is_refused_is_left_to_the_recording_path(srv):
    srv.call("admin", "GET", "/v1/head")
    for who in ("writer", "actl_unknown-token-0000000000", "", None):
        assert on_loop(srv, who) is None
    assert srv.denials() == []  # the loop records nothing: the worker path does, once
    assert_json_error(srv.call("writer", "GET", "/v1/events"), 403)
    assert len(srv.denials()) == 1


def test_a_revoked_token_stops_at_once(srv):
    srv.call("admin", "GET", "/v1/head")
    secret = srv.tokens["auditor"]
    assert on_loop(srv, secret) is not None
    with srv.app.state.auditctl.pool.acquire() as store:
        tokens.revoke_token(store, tokens.lookup(store, secret).id, now_text())
    assert on_loop(srv, secret) is None
    assert_json_error(srv.call(secret, "GET", "/v1/events"), 401, "revoked")


def test_pages_are_the_same_on_the_loop_and_in_a_worker(srv, monkeypatch):
    srv.call("admin", "POST", "/v1/events", json=[event(timestamp=f"2026-11-20T10:00:0{i}Z", source=source)
                                                  for i in range(7) for source in ("api", "web")])
    requests: list[tuple[dict[str, Any], dict[str, str]]] = [
        ({"limit": 3}, {}), ({"source": "web", "limit": 2}, {"Accept": "application/x-ndjson"}),
        ({"q": "part", "limit": 4}, {}), ({"action": "nope"}, {}),
    ]

    def answers() -> list[tuple[int, str, str | None]]:
        out = []
        with srv.client("admin") as client:
            for params, headers in requests:
                first = client.get("/v1/events", params=params, headers=headers)
                cursor = first.headers.get("x-next-cursor")
                out.append((first.status_code, first.text, cursor))
                if cursor:
                    after = client.get("/v1/events", params={**params, "cursor": cursor}, headers=headers)
                    out.append((after.status_code, after.text, after.headers.get("x-next-cursor")))
        return out

    read_here = []
    real = server_app._read_on_loop

    def spy(*args: Any) -> Any:
        result = real(*args)
        read_here.append(result is not None)
        return result

    monkeypatch.setattr(server_app, "_read_on_loop", spy)
    here = answers()
    assert read_here.count(True) >= 5  # all but the first, maybe (no idle connection yet)
    monkeypatch.setattr(server_app, "_read_on_loop", lambda *args: None)  # all in a worker
    assert answers() == here
    assert [status for status, _, _ in here] == [200, 200, 200, 200, 200, 200, 400]


def test_a_read_past_the_budget_is_handed_over(srv, monkeypatch):
    srv.call("admin", "GET", "/v1/head")
    monkeypatch.setattr(server_app, "INLINE_BUDGET", 0.02)
    started = time.monotonic()
    assert on_loop(srv, "admin", lambda store: store.conn.execute(LONG_SQL).fetchone()) is None
    assert time.monotonic() - started < 2  # the whole count takes several seconds


# --------------------------------------------------------------------------- the budget


def test_sqlite_work_past_the_budget_is_interrupted(srv):
    with srv.app.state.auditctl.pool.acquire() as store:
        started = time.monotonic()
        with pytest.raises(OverBudget), sqlite_budget(store, 0.02):
            store.conn.execute(LONG_SQL).fetchone()
        assert time.monotonic() - started < 2  # the whole count takes several seconds
        # The connection is left as it was: no limit on the next statement.
        assert store.conn.execute("SELECT count(*) FROM events").fetchone()[0] >= 0
        with sqlite_budget(store, 5):
            assert store.conn.execute("SELECT 1").fetchone() == (1,)


def test_the_budget_lets_other_errors_through(srv):
    with srv.app.state.auditctl.pool.acquire() as store, pytest.raises(NotFound), sqlite_budget(store, 5):
        store.get("no-such-event")
