"""Import's preparation: ``Sealer.row`` splices exactly what hashing and storing the whole event give."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditctl import jsonio
from auditctl.errors import ValidationError
from auditctl.ingest import ROW_COLUMNS, Sealer, prepare, prepare_record, store_batches
from auditctl.integrity import GENESIS, event_hash
from auditctl.model import Event
from auditctl.redact import DEFAULT_REDACTOR
from auditctl.store.sqlite import SQLiteStore
from tests.test_properties import events, text


def whole(record: dict[str, Any], *, seq: int, org: str, timestamp: str, recorded_at: str, prev_hash: str,
          key: bytes | None) -> tuple[str, str]:
    """The definition: the sealed event as a dict, hashed and dumped whole."""
    data = dict(record)
    del data["prev_hash"], data["hash"]
    data.update(seq=seq, org=org, timestamp=record["timestamp"] or timestamp,
                recorded_at=record["recorded_at"] or recorded_at)
    hash_ = event_hash(data, prev_hash, key)
    data.update(prev_hash=prev_hash, hash=hash_)
    return jsonio.dumps(data), hash_


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events(), st.integers(1, 2**40), text, st.booleans(), st.booleans(), st.sampled_from([None, b"k3y"]))
def test_seal_gives_the_bytes_of_hashing_and_dumping_the_whole_event(raw, seq, org, no_time, metadata_source, key):
    if no_time:
        raw = {**raw, "timestamp": None}
    if metadata_source:  # a "source" key inside metadata must not be taken for the event's
        raw = {**raw, "metadata": {**raw["metadata"], "source": {"timestamp": "x"}, "zz": ',"source":"web"'}}
    record = Event.from_dict(raw).to_dict()
    recorded = "2026-11-25T12:00:00.000001Z"
    prev = GENESIS if seq == 1 else "ab" * 32
    keys: list[Any] = []
    row, hash_ = Sealer(org, key).row(prepare_record(record), seq, 7, recorded, prev, keys)
    columns = dict(zip(ROW_COLUMNS, row, strict=True))
    assert columns["hash"] == hash_
    assert (columns["doc"], hash_) == whole(record, seq=seq, org=org, timestamp=recorded, recorded_at=recorded,
                                            prev_hash=prev, key=key)
    stored = jsonio.loads(columns["doc"])
    assert {name: columns[name] for name in ("org", "seq", "id", "timestamp", "recorded_at", "prev_hash")} == {
        name: stored[name] for name in ("org", "seq", "id", "timestamp", "recorded_at", "prev_hash")}
    assert keys == [("e", value, 7) for value in record["entity_ids"]] + [
        ("c", change["field"], 7) for change in record["changes"]]


def test_row_columns_are_the_stores_insert_columns() -> None:
    from auditctl.store.sqlite import _INSERT_EVENT

    assert _INSERT_EVENT.split("(")[1].split(")")[0].replace(" ", "").split(",") == list(ROW_COLUMNS)


def test_prepared_events_travel_between_processes() -> None:
    record = Event.from_dict({"id": "01ABC", "action": "update", "actor": {"type": "user", "id": "u"}, "source": "cli",
                              "entity": {"type": "price_list", "id": "p1"},
                              "changes": [{"field": "price", "old": 1.5, "new": 2}]}).to_dict()
    prepared = prepare_record(record)
    assert pickle.loads(pickle.dumps(prepared)) == prepared


def items(count: int, bad_at: int | None = None) -> list[tuple[int, Any]]:
    out = []
    for line in range(1, count + 1):
        data: dict[str, Any] = {"action": "update", "actor": {"type": "user", "id": f"u{line}", "email": "a@b.c"},
                                "source": "cli", "entity": {"type": "doc", "id": f"d{line}"},
                                "context": {"reason": f"token=secret{line}"}}
        if line == bad_at:
            data["action"] = "explode"
        out.append((line, data))
    return out


class Spy:
    """A SQLite store that counts the batches taken sealed ahead, and can write an event
    of its own before a sealed batch (another writer slipping in between)."""

    def __init__(self, store: SQLiteStore, interfere_at: set[int] | None = None) -> None:
        self.store, self.interfere_at = store, interfere_at or set()
        self.sealed_taken = self.sealed_refused = self.calls = 0

    def chain_end(self) -> Any:
        return self.store.chain_end()

    def append_sealed(self, batch: Any) -> bool:
        self.calls += 1
        if self.calls in self.interfere_at:
            self.store.append([Event.from_dict({"action": "login", "actor": {"type": "user", "id": "other"},
                                                "source": "web"})])
        taken = self.store.append_sealed(batch)
        self.sealed_taken += taken
        self.sealed_refused += not taken
        return taken

    def append_prepared(self, batch: Any) -> Any:
        return self.store.append_prepared(batch)


def stored(store: SQLiteStore) -> list[dict[str, Any]]:
    return [jsonio.loads(row[0]) for row in store.conn.execute("SELECT doc FROM events ORDER BY seq")]


def run(target: Any, source: list[tuple[int, Any]], *, parallel: bool = True, batch_size: int = 5) -> list[Any]:
    return list(store_batches(source, target, name="f.jsonl", redactor=DEFAULT_REDACTOR, batch_size=batch_size,
                              parallel=parallel))


@pytest.fixture
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITCTL_NOW", "2026-11-25T12:00:00Z")


@pytest.mark.parametrize("parallel", [True, False])
def test_batches_are_stored_in_order_redacted_and_with_content_ids(tmp_path: Path, parallel: bool) -> None:
    store = SQLiteStore(tmp_path / "s.db", create=True)
    assert run(store, items(23), parallel=parallel) == [(5, 0)] * 4 + [(3, 0)]
    docs = stored(store)
    assert [d["actor"]["id"] for d in docs] == [f"u{i}" for i in range(1, 24)]
    assert [d["seq"] for d in docs] == list(range(1, 24))
    assert all("secret" not in jsonio.dumps(d) for d in docs)
    # ids derived from the redacted content: the same each run, either way
    assert [d["id"] for d in docs] == [p.id for p in prepare(items(23), "f.jsonl", DEFAULT_REDACTOR)]
    assert store.verify().ok


def test_sealing_ahead_stores_exactly_what_the_long_way_stores(tmp_path: Path, fixed_now: None) -> None:
    source = [(line, {**data, "entity_ids": [f"b{line}", "shared"],
                      "changes": [{"field": "title", "old": line, "new": line + 1}, {"field": "price", "new": 1.5}],
                      "metadata": {"n": line}, "timestamp": None if line % 4 else "2026-11-01T00:00:00Z"})
              for line, data in items(23)]
    ahead = Spy(SQLiteStore(tmp_path / "ahead.db", create=True, chain_key=b"k3y"))
    long_way = SQLiteStore(tmp_path / "long.db", create=True, chain_key=b"k3y")
    run(ahead, source)
    run(long_way, source, parallel=False)
    assert ahead.sealed_taken == 5 and ahead.sealed_refused == 0
    assert stored(ahead.store) == stored(long_way)
    for table in ("event_keys", "chain_heads"):
        assert (ahead.store.conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
                == long_way.conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall())
    assert [r[0] for r in ahead.store.conn.execute("SELECT rowid FROM events_search_0 WHERE events_search_0 MATCH"
                                                    " 'u17'")] == [17]
    assert ahead.store.verify().ok


def test_a_rerun_import_is_refused_sealed_and_skips_every_event(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", create=True)
    run(store, items(23))
    again = Spy(store)
    assert run(again, items(23)) == [(0, 5)] * 4 + [(0, 3)]
    # The first sealed batch fails the guess (its ids are stored); the worker stops
    # sealing soon after, so at most the batches already in flight are refused.
    assert again.sealed_taken == 0 and 1 <= again.sealed_refused <= 3
    assert len(stored(store)) == 23 and store.verify().ok


def test_a_rerun_with_new_events_after_the_old_ones_stores_only_the_new(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", create=True)
    run(store, items(10))
    assert sum(added for added, _ in run(Spy(store), items(23))) == 13
    assert [d["actor"]["id"] for d in stored(store)] == [f"u{i}" for i in range(1, 24)]
    assert store.verify().ok


def test_another_writer_between_batches_makes_the_batch_go_the_long_way(tmp_path: Path) -> None:
    spy = Spy(SQLiteStore(tmp_path / "s.db", create=True), interfere_at={2})
    assert sum(added for added, _ in run(spy, items(23))) == 23
    docs = stored(spy.store)
    assert len(docs) == 24 and docs[5]["actor"]["id"] == "other"  # after the first batch, before the second
    assert [d["actor"]["id"] for d in docs if d["actor"]["id"] != "other"] == [f"u{i}" for i in range(1, 24)]
    assert spy.sealed_taken == 1 and spy.sealed_refused >= 1
    assert spy.store.verify().ok


def test_an_id_twice_in_one_batch_or_across_batches_is_stored_once(tmp_path: Path) -> None:
    source = items(23)
    source[3] = (4, dict(source[1][1]))  # line 4 repeats line 2 (same batch)
    source[12] = (13, dict(source[6][1]))  # line 13 repeats line 7 (an earlier batch)
    spy = Spy(SQLiteStore(tmp_path / "s.db", create=True))
    assert sum(added for added, _ in run(spy, source)) == 21
    assert sum(skipped for _, skipped in run(spy, source)) == 23
    assert len(stored(spy.store)) == 21 and spy.store.verify().ok


@pytest.mark.parametrize("parallel", [True, False])
def test_a_bad_record_stops_at_its_batch_with_its_line(tmp_path: Path, parallel: bool) -> None:
    store = SQLiteStore(tmp_path / "s.db", create=True)
    got = []
    with pytest.raises(ValidationError) as caught:
        for counts in store_batches(items(30, bad_at=17), store, name="f.jsonl", redactor=DEFAULT_REDACTOR,
                                    batch_size=5, parallel=parallel):
            got.append(counts)
    assert got == [(5, 0)] * 3  # lines 1-15; the batch holding line 17 is never stored
    assert caught.value.message.startswith("f.jsonl, line 17: ") and "action" in caught.value.message
    assert len(stored(store)) == 15 and store.verify().ok


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the workers must be forked with the patch")
def test_a_worker_that_dies_stops_the_import_and_keeps_the_batches_before(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from auditctl import ingest
    from auditctl.errors import StoreIOError

    writer, real = os.getpid(), ingest.prepare

    def dies_at_line_17(batch: list[tuple[int, Any]], name: str, redactor: Any) -> Any:
        if os.getpid() != writer and any(line == 17 for line, _ in batch):
            os._exit(3)  # as if killed: no message, no token for the next batch
        return real(batch, name, redactor)

    monkeypatch.setattr(ingest, "prepare", dies_at_line_17)  # the workers are forked with it
    store = SQLiteStore(tmp_path / "s.db", create=True)
    with pytest.raises(StoreIOError) as caught:
        run(store, items(40))
    assert "worker process stopped (exit code 3)" in caught.value.message
    # Whole batches from before line 17's, in order. Which ones depends on timing: the
    # dying worker's earlier message may still have been on its way out.
    count = len(stored(store))
    assert count in (5, 10, 15) and store.verify().ok
    assert [d["actor"]["id"] for d in stored(store)] == [f"u{i}" for i in range(1, count + 1)]


def test_the_collector_runs_less_often_while_batches_arrive_and_as_before_after(tmp_path: Path) -> None:
    import gc

    before = gc.get_threshold()
    seen = []

    class Watch(Spy):
        def append_sealed(self, batch: Any) -> bool:
            seen.append(gc.get_threshold())
            return super().append_sealed(batch)

    run(Watch(SQLiteStore(tmp_path / "s.db", create=True)), items(12))
    assert seen and all(threshold[0] >= 50_000 for threshold in seen)
    assert gc.get_threshold() == before


@pytest.mark.parametrize("workers", [1, 3])
def test_any_number_of_workers_seals_the_chain_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        workers: int) -> None:
    from auditctl import ingest

    monkeypatch.setattr(ingest, "_worker_count", lambda: workers)
    ahead = Spy(SQLiteStore(tmp_path / "ahead.db", create=True))
    long_way = SQLiteStore(tmp_path / "long.db", create=True)
    run(ahead, items(37))
    run(long_way, items(37), parallel=False)
    assert ahead.sealed_taken == 8 and ahead.sealed_refused == 0
    strip = ("recorded_at", "timestamp", "hash", "prev_hash")  # the events carry no time: stamped when stored
    assert ([{k: v for k, v in d.items() if k not in strip} for d in stored(ahead.store)]
            == [{k: v for k, v in d.items() if k not in strip} for d in stored(long_way)])
    assert ahead.store.verify().ok


def test_lines_the_batch_parse_declines_are_read_one_by_one(tmp_path: Path) -> None:
    """A batch of JSON lines is parsed in one go; a line holding an array of events,
    an integer beyond 64 bits or bad JSON makes it fall back to reading each line."""
    line = {"action": "update", "actor": {"type": "user", "id": "u"}, "source": "cli", "entity": {"type": "doc"}}
    texts = [jsonio.dumps({**line, "metadata": {"n": n}}) for n in range(12)]
    texts[4] = jsonio.dumps([{**line, "metadata": {"n": "a"}}, {**line, "metadata": {"n": "b"}}])
    texts[7] = texts[7].replace('"n":7', '"n":123456789012345678901234567890')
    store = SQLiteStore(tmp_path / "s.db", create=True)
    assert sum(added for added, _ in run(store, list(enumerate(texts, 1)))) == 13
    ns = [d["metadata"]["n"] for d in stored(store)]
    assert ns == [0, 1, 2, 3, "a", "b", 5, 6, 123456789012345678901234567890, 8, 9, 10, 11]
    texts[9] = '{"action": "update",'
    with pytest.raises(ValidationError) as caught:
        run(SQLiteStore(tmp_path / "t.db", create=True), list(enumerate(texts, 1)))
    assert caught.value.message.startswith("f.jsonl, line 10: invalid JSON")


def long_way(data: dict[str, Any]) -> Any:
    """What ``prepare`` made of one event before its shortcut: the event, redacted, with an id, as a record."""
    from auditctl.model import content_id

    event = DEFAULT_REDACTOR.event(Event.from_dict(data))
    if event.id is None:
        event = event.with_store_fields(id=content_id(event))
    return prepare_record(event.to_dict())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), min_size=1, max_size=5), st.booleans())
def test_prepare_gives_what_the_long_way_gives(raws: list[dict[str, Any]], as_lines: bool) -> None:
    """Most events go from their dict straight to their record (``model.fast_record``);
    secrets to redact, a missing id or anything not in stored form go the long way."""
    items = [(n, jsonio.dumps(raw) if as_lines else raw) for n, raw in enumerate(raws, 1)]
    assert prepare(items, "input", DEFAULT_REDACTOR) == [long_way(raw) for raw in raws]


def test_prepare_of_events_with_secrets_and_without_ids_redacts_and_names_them() -> None:
    from auditctl.generate import generate

    raws = list(generate(300, seed=11))
    raws[3]["metadata"] = {"api_token": "hunter2", "note": "Bearer abcdefgh12345"}
    raws[4]["context"] = {**raws[4].get("context", {}), "session_secret": "s3cr3t"}
    del raws[5]["id"]
    prepared = prepare([(n, jsonio.dumps(raw)) for n, raw in enumerate(raws, 1)], "input", DEFAULT_REDACTOR)
    assert prepared == [long_way(raw) for raw in raws]
    assert b"hunter2" not in prepared[3].content and b"abcdefgh12345" not in prepared[3].content
    assert b"s3cr3t" not in prepared[4].content
    assert prepared[5].id and prepared[5].id == long_way(raws[5]).id
