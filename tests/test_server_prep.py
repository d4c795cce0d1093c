"""A big POST is prepared in a worker process while the request's thread stores it
(``server.prep``): the same events, hashes, errors and retries as preparing it in
the thread, one transaction for the whole batch, and a dead worker is replaced."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditctl import jsonio
from auditctl.server.prep import CHUNK_EVENTS, FIRST_CHUNK, MIN_OFFLOADED
from tests.test_server import Server, _server, assert_json_error, event

NDJSON = "application/x-ndjson"
COUNT = MIN_OFFLOADED + 2 * CHUNK_EVENTS + 17  # a small first chunk, full ones, and a short last one


def servers(tmp_path: Path, name: str, **options: Any) -> Iterator[Server]:
    directory = tmp_path / name
    directory.mkdir()
    yield from _server(directory, **options)  # unmounting closes the worker (ServerState.close)


@pytest.fixture
def srv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("AUDITCTL_NOW", "2026-11-25T12:00:00Z")
    yield from servers(tmp_path, "offloaded")


@pytest.fixture
def inline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("AUDITCTL_NOW", "2026-11-25T12:00:00Z")
    yield from servers(tmp_path, "inline", prep_worker=False)


def batch(count: int = COUNT) -> list[dict[str, Any]]:
    out = []
    for n in range(count):
        extra: dict[str, Any] = {"id": f"ev-{n:05d}"} if n % 3 else {}  # some without an id
        if n % 7 == 0:
            extra["context"] = {"ip": "198.51.100.7", "reason": "password=hunter2 rotated"}
        out.append(event(entity={"type": "part", "id": f"p{n}"}, **extra))
    return out


def ndjson(events: list[dict[str, Any]]) -> bytes:
    return b"\n".join(jsonio.dumps(e).encode() for e in events) + b"\n"


def post(srv: Server, body: bytes, agent: str = "sender/1", who: str = "writer") -> Any:
    with srv.client(who, **{"User-Agent": agent, "Content-Type": NDJSON}) as client:
        return client.post("/v1/events", content=body)


def used_worker(srv: Server) -> bool:
    return srv.app.state.auditctl.prep._executor is not None


def stored_docs(srv: Server) -> list[dict[str, Any]]:
    """The stored events but for what differs between two servers: the ids they made,
    their tokens' ids and so the links of the chain."""
    docs = srv.events()
    for doc in docs:
        if not doc["id"].startswith("ev-"):
            doc["id"] = None
        doc["context"]["api_key_id"] = doc["prev_hash"] = doc["hash"] = None
    return docs


def test_a_big_batch_is_stored_exactly_as_when_prepared_in_the_thread(srv, inline):
    body = ndjson(batch())
    answers = [post(server, body) for server in (srv, inline)]
    assert [a.status_code for a in answers] == [201, 201]
    assert used_worker(srv) and not used_worker(inline)
    # The same stored events, in the same order: the same validation, redaction and context.
    offloaded = stored_docs(srv)
    assert len(offloaded) == COUNT
    assert offloaded == stored_docs(inline)
    assert "hunter2" in body.decode() and "hunter2" not in jsonio.dumps(offloaded)
    assert offloaded[-1]["context"]["user_agent"] == "sender/1"
    with srv.client("auditor") as client:
        assert client.get("/v1/verify").json()["ok"] is True, "the chain holds across the chunks"


@pytest.mark.parametrize("where", [0, FIRST_CHUNK + 3, COUNT - 1])
def test_a_bad_event_anywhere_refuses_the_whole_batch_with_its_position(srv, where):
    events = batch()
    events[where] = event(action="")
    answer = assert_json_error(post(srv, ndjson(events)), 400)
    assert answer["error"].startswith(f"event {where}: ")
    assert srv.events() == []


def test_invalid_json_on_a_late_line_names_that_line(srv):
    lines = ndjson(batch()).splitlines()
    lines.insert(COUNT - 5, b"")  # a blank line still counts as a line
    lines[COUNT - 2] = b'{"action": '
    answer = assert_json_error(post(srv, b"\n".join(lines)), 400)
    assert answer["error"].startswith(f"line {COUNT - 1}: invalid JSON"), answer
    assert srv.events() == []


def test_a_retried_big_batch_keeps_the_stored_context_and_adds_nothing(srv):
    events = [e for e in batch() if "id" in e]
    assert post(srv, ndjson(events), agent="first/1").json()["created"] == len(events)
    # From another client: the worker fills in this one's agent, the thread finds the
    # stored events and redoes them with theirs, so they are the same events.
    again = post(srv, ndjson(events), agent="second/2")
    assert again.status_code == 200, again.text
    assert again.json()["created"] == 0
    assert {e["context"]["user_agent"] for e in srv.events()} == {"first/1"}


def test_a_changed_event_in_a_late_chunk_is_a_conflict_and_stores_nothing(srv):
    events = [e for e in batch() if "id" in e]
    assert post(srv, ndjson(events[:10])).status_code == 201
    events[5] = {**events[5], "source": "web"}  # ev-00007: stored with source "api"
    assert_json_error(post(srv, ndjson(events)), 409)
    assert len(srv.events()) == 10


def test_the_same_event_twice_in_different_chunks_is_stored_once(srv):
    events = batch()
    events[-1] = events[1]
    answer = post(srv, ndjson(events)).json()
    assert answer["results"][-1] == {**answer["results"][1], "created": False}
    assert len(srv.events()) == COUNT - 1


def test_a_json_array_is_offloaded_as_well(srv):
    with srv.client("writer") as client:
        answer = client.post("/v1/events", json=batch())
    assert answer.status_code == 201 and answer.json()["created"] == COUNT
    assert used_worker(srv)


def test_a_reader_may_post_a_big_batch_of_export_reports_only(srv):
    exports = [event(action="export", entity={"type": "audit_log", "id": None}) for _ in range(COUNT)]
    assert post(srv, ndjson(exports), who="auditor").status_code == 201
    mixed = [*exports[:-1], event()]
    assert_json_error(post(srv, ndjson(mixed), who="auditor"), 403)
    assert [e["action"] for e in srv.events()].count("export") == COUNT
    assert "update" not in {e["action"] for e in srv.events()}  # the refusal itself is recorded


def test_the_worker_can_be_started_before_the_first_batch(srv, inline):
    srv.app.state.auditctl.prep.start()
    inline.app.state.auditctl.prep.start()  # turned off: nothing to start
    assert used_worker(srv) and not used_worker(inline)
    assert post(srv, ndjson(batch())).json()["created"] == COUNT


def test_a_killed_worker_is_replaced_and_no_batch_is_lost(srv):
    assert post(srv, ndjson(batch()[:MIN_OFFLOADED])).status_code == 201
    executor = srv.app.state.auditctl.prep._executor
    [pid] = list(executor._processes)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while executor._processes and time.monotonic() < deadline:  # the executor notices
        time.sleep(0.05)
    events = [event(id=f"after-{n}") for n in range(MIN_OFFLOADED)]
    assert post(srv, ndjson(events)).json()["created"] == MIN_OFFLOADED
    assert post(srv, ndjson([event(id=f"later-{n}") for n in range(MIN_OFFLOADED)])).status_code == 201
    assert srv.app.state.auditctl.prep._executor is not executor
    assert len(srv.events()) == 3 * MIN_OFFLOADED


def test_prepare_items_gives_what_the_long_way_gives() -> None:
    """Most events go from their dict to their record (``model.fast_record``); secrets,
    events not in stored form, a client's own api_key_id and a future time are
    handled as before: the same records, the same error."""
    from auditctl.errors import ValidationError
    from auditctl.ingest import prepare_record
    from auditctl.model import Event
    from auditctl.redact import DEFAULT_REDACTOR
    from auditctl.server.prep import fill_context, prepare_items

    request = {"ip": "203.0.113.9", "user_agent": "sender/1", "api_key_id": "tok_1"}
    horizon = "2026-11-26T12:00:00.000000Z"

    def long_way(data: dict[str, Any]) -> Any:
        record = DEFAULT_REDACTOR.event(Event.from_dict(data)).to_dict()
        fill_context(record, None, request, DEFAULT_REDACTOR)
        return prepare_record(record)

    events = [{**e, "id": e.get("id") or f"id-{n}"} for n, e in enumerate(batch(40))]
    events[1]["context"] = {"api_key_id": "someone-else", "user_agent": "own/2"}
    events[2]["metadata"] = {"api_token": "s3cr3t"}
    events[4]["timestamp"] = "2026-11-25T10:00:00+00:00"  # not in stored form
    items = [(n, None, e) for n, e in enumerate(events, 1)]
    assert prepare_items(items, len(items), request, None, DEFAULT_REDACTOR, horizon) == [long_way(e) for e in events]
    prepared = prepare_items(items, len(items), request, None, DEFAULT_REDACTOR, horizon)
    assert jsonio.loads(prepared[1].content)["context"]["api_key_id"] == "tok_1"
    assert b"s3cr3t" not in prepared[2].content
    late = [*items[:3], (4, None, {**events[3], "timestamp": "2026-11-28T00:00:00.000000Z"})]
    with pytest.raises(ValidationError, match=r"event 4: timestamp 2026-11-28T00:00:00\.000000Z is more than a day"):
        prepare_items(late, len(late), request, None, DEFAULT_REDACTOR, horizon)
