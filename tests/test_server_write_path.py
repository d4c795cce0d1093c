"""POST /v1/events as the import path runs it: batches, retries, who-did-it, checkpoints.

The server prepares a batch itself (one lookup of the retried ids, the context
filled on the records, redaction as ``store.append`` does it) and leaves WAL
checkpoints to a thread of its own; these hold it to the same answers as before.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditctl import jsonio
from auditctl.errors import StoreIOError, TooLarge, ValidationError
from auditctl.server.limits import parse_events_body
from auditctl.store.checkpoint import FALLBACK_PAGES, Checkpointer
from tests.test_server import Server, _server, assert_json_error, event

NDJSON = "application/x-ndjson"


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[Server]:
    yield from _server(tmp_path)


def post(srv: Server, events: list[dict[str, Any]], agent: str, who: str = "writer") -> Any:
    with srv.client(who, **{"User-Agent": agent}) as client:
        return client.post("/v1/events", json=events)


def stored(srv: Server, event_id: str) -> dict[str, Any]:
    [found] = [e for e in srv.events() if e["id"] == event_id]
    return found


# --------------------------------------------------------------------------- who did it, batched


def test_a_batch_mixing_retries_and_new_events(srv):
    assert post(srv, [event(id="b-1"), event(id="b-2")], "first/1").json()["created"] == 2
    # From another client: b-1 is a retry (its stored agent is kept), b-3 is new (gets this one's).
    again = post(srv, [event(id="b-1"), event(id="b-3")], "second/2")
    assert again.status_code == 201
    assert again.json() == {"results": [{"id": "b-1", "seq": 1, "created": False},
                                        {"id": "b-3", "seq": 3, "created": True}], "created": 1}
    assert stored(srv, "b-1")["context"]["user_agent"] == "first/1"
    assert stored(srv, "b-3")["context"]["user_agent"] == "second/2"
    # A changed event anywhere in a batch refuses the whole batch.
    assert_json_error(post(srv, [event(id="b-4"), event(id="b-2", source="web")], "third/3"), 409)
    assert [e["id"] for e in srv.events()] == ["b-1", "b-2", "b-3"]
    # The same event twice in one new batch is stored once.
    twice = post(srv, [event(id="b-5"), event(id="b-5")], "fourth/4").json()
    assert twice["results"] == [{"id": "b-5", "seq": 4, "created": True}, {"id": "b-5", "seq": 4, "created": False}]


def test_an_id_that_equals_a_seq_is_not_that_event(srv):
    post(srv, [event(id="x-1")], "one/1")
    made = post(srv, [event(id="1")], "two/2").json()  # seq 1 exists, id "1" does not
    assert made["results"] == [{"id": "1", "seq": 2, "created": True}]
    assert stored(srv, "1")["context"]["user_agent"] == "two/2"


def test_what_the_server_fills_in_is_redacted_too(srv):
    agent = "deploy-bot/1.0 Bearer abcdefghijklmnop"
    assert post(srv, [event(id="s-1"), event(id="s-2", context={"user_agent": "mine/1"})], agent).status_code == 201
    assert stored(srv, "s-1")["context"]["user_agent"] == "deploy-bot/1.0 Bearer [REDACTED]"
    assert stored(srv, "s-2")["context"]["user_agent"] == "mine/1"
    assert "abcdefghijklmnop" not in jsonio.dumps(srv.events())
    # A retry, from any agent, is still the same event.
    retry = post(srv, [event(id="s-1")], "other/2")
    assert retry.status_code == 200 and retry.json()["created"] == 0


def test_answers_are_json(srv):
    response = post(srv, [event(id="j-1")], "x/1")
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"results": [{"id": "j-1", "seq": 1, "created": True}], "created": 1}


# --------------------------------------------------------------------------- checkpoints


def _events_in_main_file(db: Path, tmp_path: Path) -> int:
    """Events in the database file alone, as if its WAL were lost: what was checkpointed."""
    copy = tmp_path / "main-only.db"
    shutil.copy(db, copy)
    conn = sqlite3.connect(copy)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def test_a_write_is_checkpointed_in_the_background(tmp_path):
    for srv in _server(tmp_path):
        state = srv.app.state.auditctl
        with state.pool.acquire() as store:
            assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == FALLBACK_PAGES
        state.start_scheduler()  # purge_interval=0: only the checkpointer starts
        try:
            assert post(srv, [event(id=f"c-{i}") for i in range(20)], "x/1").status_code == 201
            deadline = time.monotonic() + 30  # a loaded disk may take its time
            count = 0
            while time.monotonic() < deadline:
                try:
                    count = _events_in_main_file(srv.app.state.auditctl.settings.store_path, tmp_path)
                except sqlite3.Error:
                    count = 0  # copied mid-checkpoint: look again
                if count == 20 and state.checkpointer.rounds >= 1:
                    break
                time.sleep(0.05)
            assert count == 20, (count, state.checkpointer.rounds)
            assert state.checkpointer.rounds >= 1
        finally:
            state.stop_scheduler()


def test_a_checkpointer_that_cannot_open_the_store_gives_up_quietly(caplog):
    def broken() -> Any:
        raise StoreIOError("cannot read or write /nowhere")

    checkpointer = Checkpointer(broken, interval=0.01)
    checkpointer.start()
    checkpointer.poke()
    checkpointer.stop()
    assert checkpointer.rounds == 0 and "left to the request connections" in caplog.text


# --------------------------------------------------------------------------- NDJSON bodies


def test_ndjson_is_read_line_by_line():
    body = '{"a": 1}\r\n\n   \n{"b": [2]}\n123456789012345678901234567890\n'
    assert parse_events_body(body, NDJSON, 10) == [{"a": 1}, {"b": [2]}, 123456789012345678901234567890]


@pytest.mark.parametrize(("body", "error", "words"), [
    ('{"a": 1}\n1, 2\n', ValidationError, "line 2"),
    ('{"a": 1}\n[1,\n2]\n', ValidationError, "line 2"),
    ('{"a": "\\ud800"}\n', ValidationError, "surrogate"),
    ('{"a": 1}\n' * 4, TooLarge, "more than 3"),
    ('{"a": 1}\nnope\n' + '{"a": 1}\n' * 4, ValidationError, "line 2"),
])
def test_bad_ndjson_names_its_line(body, error, words):
    with pytest.raises(error, match=words):
        parse_events_body(body, NDJSON, 3)


def test_loads_each_fast_declines_what_only_the_standard_library_reads_exactly():
    assert jsonio.loads_each_fast(['{"a": 1}', "[2]", " 3 "]) == [{"a": 1}, [2], 3]
    for texts in (["1, 2"], ["12345678901234567890"], ['"\\ud800"'], ["NaN"]):
        assert jsonio.loads_each_fast(["{}", *texts]) is None


# --------------------------------------------------------------------------- the HTTP stack


def test_serve_runs_on_httptools_and_uvloop():
    """The server and test extras bring httptools and uvloop; uvicorn's "auto" picks them
    (a third less CPU per search request than h11 on asyncio)."""
    import uvicorn

    config = uvicorn.Config(lambda scope, receive, send: None, http="auto", loop="auto", log_config=None)
    config.load()
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"
    if sys.platform != "win32":
        import uvloop  # noqa: F401  (what loop="auto" chooses when it is there)
