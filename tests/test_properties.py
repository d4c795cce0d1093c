"""Property-based tests (hypothesis): round trips and parsers that never crash."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditctl.errors import AuditError
from auditctl.export import CsvWriter, JsonlWriter, read_events
from auditctl.model import ACTIONS, ACTOR_TYPES, SOURCES, Event
from auditctl.query import build_query, query_from_params
from auditctl.redact import Redactor
from auditctl.store.sqlite import SQLiteStore
from auditctl.timeparse import parse_time

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
ident = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30)
json_scalar = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | text
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=12)
moment = st.datetimes(min_value=__import__("datetime").datetime(1971, 1, 1), max_value=__import__("datetime").datetime(9998, 12, 31))


@st.composite
def events(draw: Any) -> dict[str, Any]:
    action = draw(st.sampled_from(ACTIONS))
    actor_type = draw(st.sampled_from(ACTOR_TYPES))
    changes = []
    for name in draw(st.lists(ident, max_size=3, unique=True)):
        change: dict[str, Any] = {"field": name}
        if action != "create":
            change["old"] = draw(json_value)
        if action != "delete":
            change["new"] = draw(json_value)
        changes.append(change)
    return {
        "id": draw(st.text("0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=26, max_size=26)),
        "timestamp": draw(moment).isoformat() + "Z",
        "action": action,
        "actor": {"type": actor_type, "id": draw(ident), "email": draw(st.none() | text)},
        "source": draw(st.sampled_from(SOURCES)),
        "entity": {"type": draw(ident), "id": draw(st.none() | ident)},
        "entity_ids": draw(st.lists(ident, max_size=3)),
        "changes": changes,
        "context": {"ip": draw(st.none() | text), "reason": draw(st.none() | text),
                    "correlation_id": draw(st.none() | ident), "extra_key": draw(json_value)},
        "metadata": draw(st.dictionaries(text, json_value, max_size=3)),
    }


def stored_content(store: SQLiteStore) -> list[dict[str, Any]]:
    return [Event.from_dict(d).content_dict() for d in store.query_json(build_query())]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), min_size=1, max_size=5, unique_by=lambda e: e["id"]), st.sampled_from(["jsonl", "csv"]))
def test_record_export_import_round_trip(raw_events, fmt):
    redactor = Redactor()
    with tempfile.TemporaryDirectory() as tmp:
        first = SQLiteStore(Path(tmp) / "a.db", create=True)
        first.append([Event.from_dict(e) for e in raw_events])
        out = io.StringIO()
        writer = (JsonlWriter if fmt == "jsonl" else CsvWriter)(out)
        for data in first.query_json(build_query()):
            writer.write(data)
        second = SQLiteStore(Path(tmp) / "b.db", create=True)
        second.append([Event.from_dict(d) for _, d in read_events(io.StringIO(out.getvalue()))])
        expected = sorted((redactor.event(Event.from_dict(e)).content_dict() for e in raw_events), key=lambda d: d["id"])
        assert sorted(stored_content(first), key=lambda d: d["id"]) == json.loads(json.dumps(expected))
        assert sorted(stored_content(second), key=lambda d: d["id"]) == sorted(stored_content(first), key=lambda d: d["id"])
        first.close()
        second.close()


anything = st.text(max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["q", "action", "entity", "entity_id", "source", "actor", "actor_type",
                                        "correlation_id", "changed", "since", "until", "limit", "reverse"]),
                       st.lists(anything, max_size=3) | anything, max_size=6))
def test_the_query_parser_only_raises_its_own_errors(params):
    try:
        query_from_params(params, max_limit=1000)
    except AuditError:
        pass


@settings(max_examples=300, deadline=None)
@given(anything, anything, st.lists(anything, max_size=3), anything)
def test_build_query_and_times_only_raise_their_own_errors(since, limit, terms, actor):
    for call in (lambda: build_query(terms=terms, since=since, limit=limit, actor=actor), lambda: parse_time(since)):
        try:
            call()
        except AuditError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_reading_any_bytes_only_raises_our_errors(blob):
    stream = io.TextIOWrapper(io.BytesIO(blob), encoding="utf-8", errors="strict")
    try:
        for _, data in read_events(stream):
            Event.from_dict(data)
    except AuditError:
        pass
