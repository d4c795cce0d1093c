"""Import's preparation: ``Sealer.seal`` splices exactly what hashing and storing the whole event give."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditctl import jsonio
from auditctl.errors import ValidationError
from auditctl.ingest import Sealer, prepare, prepare_record, prepared_batches
from auditctl.integrity import GENESIS, event_hash
from auditctl.model import Event
from auditctl.redact import DEFAULT_REDACTOR
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
    got = Sealer(org, key).seal(prepare_record(record), seq=seq, timestamp=record["timestamp"] or recorded,
                                recorded_at=recorded, prev_hash=prev)
    assert got == whole(record, seq=seq, org=org, timestamp=recorded, recorded_at=recorded, prev_hash=prev, key=key)


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


@pytest.mark.parametrize("parallel", [True, False])
def test_batches_come_out_in_order_redacted_and_with_content_ids(parallel: bool) -> None:
    batches = list(prepared_batches(items(23), name="f.jsonl", redactor=DEFAULT_REDACTOR, batch_size=5,
                                    parallel=parallel))
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    flat = [p for batch in batches for p in batch]
    assert [p.fields[2] for p in flat] == [f"u{i}" for i in range(1, 24)]
    assert all(b"secret" not in p.content and "secret" not in p.body for p in flat)
    assert flat == prepare(items(23), "f.jsonl", DEFAULT_REDACTOR)  # ids derived from content: the same each run


@pytest.mark.parametrize("parallel", [True, False])
def test_a_bad_record_stops_at_its_batch_with_its_line(parallel: bool) -> None:
    got = []
    with pytest.raises(ValidationError) as caught:
        for batch in prepared_batches(items(30, bad_at=17), name="f.jsonl", redactor=DEFAULT_REDACTOR, batch_size=5,
                                      parallel=parallel):
            got.append(len(batch))
    assert got == [5, 5, 5]  # lines 1-15; the batch holding line 17 is never handed out
    assert caught.value.message.startswith("f.jsonl, line 17: ") and "action" in caught.value.message
