"""The event schema: validation of closed sets and required fields, lossless round trip."""

from __future__ import annotations

import json

import pytest

from auditctl.errors import ValidationError
from auditctl.model import ACTIONS, ACTOR_TYPES, MISSING, SOURCES, Event, content_id, new_id

BASE = {
    "action": "update",
    "actor": {"type": "user", "id": "user_1", "email": "ann@example.com"},
    "source": "api",
    "entity": {"type": "part", "id": "p1"},
}


def with_(**changes):
    data = json.loads(json.dumps(BASE))
    data.update(changes)
    return data


def test_closed_sets_have_the_documented_members():
    assert len(ACTIONS) == 11 and len(ACTOR_TYPES) == 5 and len(SOURCES) == 6


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (with_(action="frob"), "action", ["frob", "create", "sensitive_access"]),
        (with_(action=None), "action", ["required"]),
        (with_(source="email"), "source", ["email", "web", "cli"]),
        (with_(actor={"type": "robot", "id": "x"}), "actor.type", ["robot", "scheduler"]),
        (with_(actor={"type": "api_key"}), "actor.id", ["actor.id"]),
        (with_(actor={"type": "user"}), "actor.id", ["actor.id or actor.email"]),
        (with_(entity={"id": "p1"}), "entity.type", ["entity.type", "update"]),
        (with_(timestamp="2026-13-45"), "timestamp", ["2026-13-45"]),
        (with_(timestamp="10000-01-01T00:00:00Z"), "timestamp", ["10000"]),
        (with_(changes=[{"field": "a"}]), "changes", ["neither"]),
        (with_(unknown=1), "unknown", ["unknown"]),
    ],
)
def test_invalid_events_name_the_field_and_allowed_values(data, field, words):
    with pytest.raises(ValidationError) as err:
        Event.from_dict(data)
    assert err.value.field == field
    for word in words:
        assert word in err.value.message


def test_user_may_be_named_by_email_alone_and_login_needs_no_entity():
    event = Event.from_dict({"action": "login", "actor": {"type": "user", "email": "a@b.c"}, "source": "web"})
    assert event.actor.email == "a@b.c" and event.entity.type is None


def test_create_carries_only_new_and_delete_only_old():
    with pytest.raises(ValidationError, match="only new"):
        Event.from_dict(with_(action="create", changes=[{"field": "a", "old": 1, "new": 2}]))
    with pytest.raises(ValidationError, match="only old"):
        Event.from_dict(with_(action="delete", changes=[{"field": "a", "old": 1, "new": 2}]))


def test_round_trip_is_lossless_including_absent_versus_null():
    data = with_(
        id="01JD3Z6T8Q0N6YB1X5ZK1V3F4W",
        timestamp="2026-11-25T01:14:01.589959Z",
        changes=[{"field": "status", "old": None, "new": {"a": [1, 2.5, "x", True]}}, {"field": "only_new", "new": "v"}],
        entity_ids=["a", "b"],
        context={"ip": "203.0.113.22", "correlation_id": "c", "custom": {"k": 1}},
        metadata={"region": "eu-west", "nested": {"list": [None, 1]}},
    )
    event = Event.from_dict(data)
    assert event.changes[1].old is MISSING
    again = Event.from_dict(json.loads(json.dumps(event.to_dict())))
    assert again == event
    assert again.to_dict()["changes"][1] == {"field": "only_new", "new": "v"}
    assert again.context.extra == {"custom": {"k": 1}}


def test_times_with_offsets_are_normalised_to_utc_z():
    event = Event.from_dict(with_(timestamp="2026-11-25T03:14:01+02:00"))
    assert event.timestamp == "2026-11-25T01:14:01.000000Z"


def test_deep_json_is_rejected_not_crashing():
    deep: object = "x"
    for _ in range(200):
        deep = {"k": deep}
    with pytest.raises(ValidationError, match="nested deeper"):
        Event.from_dict(with_(metadata=deep))


def test_non_finite_numbers_and_nul_bytes_are_rejected():
    with pytest.raises(ValidationError):
        Event.from_dict(with_(metadata={"x": float("nan")}))
    with pytest.raises(ValidationError, match="NUL"):
        Event.from_dict(with_(entity={"type": "part", "id": "a\x00b"}))


def test_ids_sort_by_time_and_content_ids_are_deterministic():
    first, second = new_id(1_000), new_id(2_000)
    assert len(first) == 26 and first < second
    same = [new_id(5_000) for _ in range(50)]
    assert same == sorted(same) and len(set(same)) == 50
    event = Event.from_dict(with_(timestamp="2026-11-25T00:00:00Z"))
    assert content_id(event) == content_id(Event.from_dict(with_(timestamp="2026-11-25T00:00:00Z")))
    assert content_id(event) != content_id(Event.from_dict(with_(timestamp="2026-11-25T00:00:01Z")))
