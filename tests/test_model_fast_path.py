"""The shortcuts agree with the long way: Event.from_dict, Event.to_dict, Redactor.event.

``Event.from_dict`` first tries ``_fast_event_from_dict``, which only accepts values
already in stored form and hands everything else to ``_event_from_dict_full``; the
redactor skips events in which no rule could match. For any input — hostile ones
above all — each shortcut must give exactly what the long way gives: the same event,
or the same error (message, field and hint).
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from auditctl import model
from auditctl.errors import ValidationError
from auditctl.generate import generate
from auditctl.model import (
    ACTIONS,
    ACTOR_TYPES,
    CONTEXT_FIELDS,
    MISSING,
    SOURCES,
    Actor,
    Change,
    Context,
    Entity,
    Event,
    format_time,
)
from auditctl.redact import REDACTED, Redactor

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Text(str):
    """A str subclass: the fast path takes exact types only."""


class Object(dict):  # type: ignore[type-arg]
    """A dict subclass."""


def nest(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


# ----------------------------------------------------------------------- hostile values

LENGTHS = (127, 128, 129, 255, 256, 257, 319, 320, 321, 4095, 4096, 4097, 65535, 65536, 65537)
# Every length limit the schema has, either side of it, in one- and more-byte text.
LONG = [ch * n for n in LENGTHS for ch in ("a", "é", "\U0001f600")]
ODD_TEXT = [
    "", " ", "\t", "\n", "\x00", "a\x00b", "\ud800", "x\udfffy", "\udc00", "é", "ſecret", "to\u212aen", "\xa0",
    "\u3000", "\u2028", "a b", "a\x7fb", "\x1fa", "a\x85", " a", "a ", "NaN", "1", "Z", Text("text"), Text(""),
]
NOT_TEXT = [None, 0, 1, -1, True, False, 1.5, float("nan"), [], {}, ["x"], {"k": "v"}, (1,), b"x", Object()]
CHOICES = [*ACTIONS, *ACTOR_TYPES, *SOURCES, "Create", " update", "update ", "USER", Text("update"), Text("user"),
           Text("cli")]
TIMES = [
    "2026-10-26T12:00:01.292893Z", "2026-10-26T12:00:01Z", "2026-10-26T12:00:01.292Z", "2026-10-26 12:00:01.292893Z",
    " 2026-10-26T12:00:01.292893Z", "2026-10-26T12:00:01.292893Z ", "2026-10-26T12:00:01.292893Z\n",
    "2026-10-26T12:00:01.292893+00:00", "2026-10-26T12:00:01.292893+02:00", "2026-10-26T12:00:01.292893",
    "1969-12-31T23:59:59.999999Z", "1970-01-01T00:00:00.000000Z", "1970-01-01T00:30:00.000000+01:00",
    "1969-12-31T23:30:00.000000-01:00", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999-01:00",
    "0000-01-01T00:00:00.000000Z", "0001-01-01T00:00:00.000000Z", "2024-02-29T00:00:00.000000Z",
    "2023-02-29T00:00:00.000000Z", "2026-04-31T00:00:00.000000Z", "2026-W43-1T12:00:01.292893Z",
    "2026-10-26T24:00:00.000000Z", "2026-10-26T12:00:60.000000Z", "2026-10-26T12:60:00.000000Z",
    "2026-13-01T00:00:00.000000Z", "2026-00-10T00:00:00.000000Z", "\u0662\u0660\u0662\u0666-10-26T12:00:01.292893Z",
    "２０２６-10-26T12:00:01.292893Z", "2026-10-26T12:00:01.292893z", "2026-10-26T12:00:01.292893ZZ", "2026-10-26",
    "20261026T120001Z", "not a time", Text("2026-10-26T12:00:01.292893Z"),
]


class Float(float):
    """A float subclass."""


class Int(int):
    """An int subclass."""


JSON_ODD = [
    float("nan"), float("inf"), -float("inf"), Float(1.5), Int(3), 2**70, -(2**70), 1e308, -0.0, "\ud800", "\x00",
    "a" * 65536, "a" * 65537, "é" * 65537, {"\ud800": 1}, {"k": "\ud800"}, ["\ud800"], {1: 1}, {None: 1},
    (1, 2), b"x", {1, 2}, Object(a=1), [Object()], {"k": (1,)}, MISSING, Text("x"), {Text("k"): 1},
    *(nest(depth, leaf) for depth in range(29, 35) for leaf in (1, "x", [], {}, float("nan"))),
]
REMOVE = object()  # as a value: take the key out


def texts(limit: int) -> list[Any]:
    return [*ODD_TEXT, *NOT_TEXT, "a" * (limit - 1), "a" * limit, "a" * (limit + 1), "é" * limit, "é" * (limit + 1)]


CONTAINERS = [None, {}, [], "", "x", 0, Object(), [{}], [None]]
PATH_VALUES: dict[tuple[Any, ...], list[Any]] = {
    ("action",): [*CHOICES, *NOT_TEXT, ""],
    ("source",): [*CHOICES, *NOT_TEXT, ""],
    ("actor",): [*CONTAINERS, Object(type="user", id="u"), {"type": "user"}, {"type": "user", "email": "e"},
                 {"type": "system", "email": "e"}, {"type": "user", "id": "", "email": ""}],
    ("actor", "type"): [*CHOICES, *NOT_TEXT, ""],
    ("actor", "stray"): [1, None],
    ("actor", "id"): texts(256),
    ("actor", "email"): texts(320),
    ("entity",): [*CONTAINERS, Object(type="t"), {"id": "i"}, {"type": ""}],
    ("entity", "type"): texts(128),
    ("entity", "id"): texts(256),
    ("entity", "stray"): [1, None],
    ("entity_ids",): [*CONTAINERS, ["x"] * 10_000, ["x"] * 10_001, ["a", ""], ["a", None], ("a",), "abc"],
    ("entity_ids", 0): texts(256),
    ("changes",): [*CONTAINERS, [{"field": "f"}], [{"field": "f", "old": 1}], [{"field": "f", "new": 1}],
                   [{"field": "f", "old": 1, "new": 2}], [{"field": "f", "new": 1}] * 1000,
                   [{"field": "f", "new": 1}] * 1001, [Object(field="f", new=1)], [{"field": "f", "new": MISSING}]],
    ("changes", 0, "field"): texts(256),
    ("changes", 0, "old"): [*JSON_ODD, None, 1, "x", REMOVE],
    ("changes", 0, "new"): [*JSON_ODD, None, 1, "x", REMOVE],
    ("changes", 0, "stray"): [1],
    ("context",): [*CONTAINERS, Object(ip="1.2.3.4"), {"ip": None}, {"extra": 1}, {1: "x"}, {None: "x"},
                   {"reason": "r" * 4097}, {"reason": "r" * 65537}, {"ip": "i" * 4097}],
    **{("context", name): texts(65_536 if name == "reason" else 4096) for name in CONTEXT_FIELDS},
    ("context", "extra_key"): [*JSON_ODD, None, "", 1],
    ("context", "k" * 128): [1],
    ("context", "k" * 129): [1],
    ("context", ""): [1, None],
    ("context", "a\x00"): [1],
    ("context", "\ud800"): [1],
    ("context", Text("ip")): ["1.2.3.4"],
    ("metadata",): [*CONTAINERS, Object(a=1), {"a": float("nan")}, *JSON_ODD],
    ("metadata", "k"): JSON_ODD,
    ("metadata", "k", "deeper"): JSON_ODD,
    ("id",): [*texts(128), "a\x7f", "a\tb", "\xa0", "é\u3000", "01M5W19WRC7W4VSRG591CV2CVD"],
    ("seq",): [None, 0, 1, 2, -1, True, False, 1.0, "1", 2**70, Int(5), Float(1.0)],
    ("org",): texts(128),
    ("timestamp",): [*TIMES, *NOT_TEXT],
    ("recorded_at",): [*TIMES, *NOT_TEXT],
    ("schema_version",): [None, 1, 2, 0, -1, True, False, 1.0, "1", Text("1"), Int(1), Float(1.0), [], {}],
    ("prev_hash",): texts(128),
    ("hash",): texts(128),
    ("stray",): [1, None],
    (1,): [1],
}
PATHS = list(PATH_VALUES)


def put(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    """``data`` with ``value`` at ``path`` (when the parents are there to hold it)."""
    *parents, last = path
    node: Any = data
    for key in parents:
        child = node[key] if isinstance(node, list) and key < len(node) else (
            node.get(key) if isinstance(node, dict) else None)
        if not isinstance(child, dict | list):
            return data
        node = child
    if isinstance(node, list):
        if not node:
            node.append({"field": "f", "new": 1} if path[0] == "changes" else "x")
        if value is REMOVE:
            node.pop()
        else:
            node[0] = value
    elif isinstance(node, dict):
        if value is REMOVE:
            node.pop(last, None)
        else:
            node[last] = value
    return data


BASES: list[dict[str, Any]] = [
    {
        "id": "01M5W19WREQ2RFXZH7EF02QBGC", "seq": 3, "org": "acme", "timestamp": "2026-10-26T12:00:01.294113Z",
        "recorded_at": "2026-10-26T12:00:02.000000Z", "action": "update",
        "actor": {"type": "user", "id": "user_0147", "email": "hiro@globex.test"}, "source": "cli",
        "entity": {"type": "customer", "id": "customer_14a523"}, "entity_ids": ["a", "b"],
        "changes": [{"field": "phone", "old": "p1", "new": "p2"}, {"field": "n", "old": 1.5, "new": {"a": [1]}}],
        "context": {"correlation_id": "7c49787f", "ip": "203.0.113.18", "reason": "why", "note": {"x": 1}},
        "metadata": {"region": "us-west", "k": {"n": 146}}, "schema_version": 1, "prev_hash": "0" * 64,
        "hash": "f" * 64,
    },
    {"action": "create", "actor": {"type": "api_key", "id": "k"}, "source": "api", "entity": {"type": "t"},
     "changes": [{"field": "f", "new": 1}]},
    {"action": "delete", "actor": {"type": "system", "id": "s"}, "source": "system", "entity": {"type": "t"},
     "changes": [{"field": "f", "old": 1}], "metadata": {"k": 1}},
    {"action": "login", "actor": {"type": "user", "email": "e@x"}, "source": "web", "context": {"ip": "1.2.3.4"}},
]


def test_every_hostile_value_in_every_field_is_answered_as_the_full_path_does() -> None:
    wrong = []
    for base in BASES:
        for path, hostile_values in PATH_VALUES.items():
            for value in [*hostile_values, REMOVE]:
                data = put(copy.deepcopy(base), path, value)
                if outcome(Event.from_dict, data) != outcome(model._event_from_dict_full, data):
                    wrong.append((base["action"], path, repr(value)[:60]))
                assert_record_as_to_dict(data)
    assert not wrong


# ----------------------------------------------------------------------- strategies

name = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=12)
plain = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | name
plain_json = st.recursive(plain, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(name, inner, max_size=3),
                          max_leaves=6)
ulid = st.text("0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=26, max_size=26)
moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
valid_moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999))
offsets = st.builds(timezone, st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23)))
times = st.one_of(
    moments.map(format_time),
    st.builds(lambda m, tz: m.replace(tzinfo=tz).isoformat(), moments, offsets),
    moments.map(lambda m: m.isoformat()),
)
# Every code point, lone surrogates and NUL included.
any_text = st.text(st.characters(blacklist_categories=()), max_size=12)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), any_text, st.sampled_from(ODD_TEXT))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3), max_leaves=8,
)
anything = st.one_of(json_values, times, st.sampled_from([*JSON_ODD, *LONG, *CHOICES, *NOT_TEXT]))


@st.composite
def stored_form(draw: Any) -> dict[str, Any]:
    """A valid event already in stored form (canonical times): the fast path's case."""
    action = draw(st.sampled_from(ACTIONS))
    actor_type = draw(st.sampled_from(ACTOR_TYPES))
    changes = []
    for field in draw(st.lists(name, max_size=3, unique=True)):
        change: dict[str, Any] = {"field": field}
        if action == "delete" or (action != "create" and draw(st.booleans())):
            change["old"] = draw(plain_json)
        if action != "delete" and (draw(st.booleans()) or "old" not in change):
            change["new"] = draw(plain_json)
        changes.append(change)
    data: dict[str, Any] = {
        "action": action,
        "actor": {"type": actor_type, "id": draw(name), "email": draw(st.none() | name)},
        "source": draw(st.sampled_from(SOURCES)),
        "entity": {"type": draw(name), "id": draw(st.none() | name)},
        "entity_ids": draw(st.lists(name, max_size=3)),
        "changes": changes,
        "context": {key: draw(name) for key in draw(st.lists(st.sampled_from(CONTEXT_FIELDS), max_size=4))},
        "metadata": draw(st.dictionaries(name, plain_json, max_size=3)),
    }
    if draw(st.booleans()):
        data["context"]["extra_key"] = draw(plain_json)
    for key, value in (("id", draw(ulid)),
                       ("timestamp", format_time(draw(valid_moments))), ("seq", draw(st.integers(1, 2**40))),
                       ("org", draw(name)), ("recorded_at", format_time(draw(valid_moments))), ("schema_version", 1),
                       ("prev_hash", "0" * 64), ("hash", "f" * 64)):
        if draw(st.booleans()):
            data[key] = value
    return data


@st.composite
def hostile(draw: Any) -> Any:
    """A stored-form event with a few parts replaced or removed: each by a value chosen
    for that part (a limit's either side, a near-miss time, a wrong type), or by anything."""
    if draw(st.integers(0, 40)) == 0:
        return draw(anything)
    data = draw(stored_form())
    for _ in range(draw(st.integers(0, 4))):
        path = draw(st.sampled_from(PATHS))
        value = draw(st.sampled_from([*PATH_VALUES[path], REMOVE]) | anything)
        data = put(data, path, value)
    if draw(st.integers(0, 20)) == 0:
        data = Object(data)
    return data


def outcome(convert: Any, data: Any) -> tuple[Any, ...]:
    data = copy.deepcopy(data)
    try:
        event = convert(data)
    except ValidationError as exc:
        return ("invalid", exc.message, exc.field, exc.hint)
    except Exception as exc:  # whatever escapes, both ways must let the same thing escape
        return ("raised", type(exc).__name__, str(exc))
    kept = event.metadata is data.get("metadata")  # the caller's dict, or a new one
    return ("ok", event, shape(event), event.to_dict(), kept)


def shape(event: Event) -> tuple[Any, ...]:
    """The types every part is made of: equal values of other classes would hide a bug."""
    return (type(event), type(event.actor), type(event.entity), type(event.context), type(event.changes),
            type(event.entity_ids), type(event.metadata), type(event.context.extra), *map(type, event.changes),
            *(type(getattr(event, f.name)) for f in dataclasses.fields(event)),
            *(type(getattr(event.actor, f)) for f in ("type", "id", "email")))


# ----------------------------------------------------------------------- from_dict


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile())
def test_from_dict_answers_as_the_full_path_does(data: Any) -> None:
    assert outcome(Event.from_dict, data) == outcome(model._event_from_dict_full, data)
    assert_record_as_to_dict(data)


def assert_record_as_to_dict(data: Any) -> None:
    """``fast_record`` gives None where the fast path declines, else the event's ``to_dict()``, key for key."""
    record = model.fast_record(copy.deepcopy(data))
    fast = model._fast_event_from_dict(copy.deepcopy(data)) if type(data) is dict else None
    if fast is None:
        assert record is None
        return
    expected = fast.to_dict()
    assert record == expected
    assert repr(record) == repr(expected)  # the same keys in the same order, the same types


@SETTINGS
@given(stored_form())
def test_the_stored_form_takes_the_fast_path(data: dict[str, Any]) -> None:
    fast = model._fast_event_from_dict(copy.deepcopy(data))
    assert fast is not None
    assert outcome(model._fast_event_from_dict, data) == outcome(model._event_from_dict_full, data)
    # What to_dict writes (an export, the HTTP API) comes back the fast way too.
    again = model._fast_event_from_dict(fast.to_dict())
    assert again == fast and shape(again) == shape(fast)
    assert model.fast_record(data) == fast.to_dict()
    assert_record_as_to_dict(data)


def test_generated_and_exported_events_take_the_fast_path() -> None:
    for data in generate(2000, seed=3, now=NOW):
        event = model._fast_event_from_dict(data)
        assert event is not None, data
        assert event == model._event_from_dict_full(data)
        stored = event.with_store_fields(seq=7, org="acme", recorded_at="2026-11-25T12:00:00.000000Z",
                                         prev_hash="0" * 64, hash="a" * 64)
        assert model._fast_event_from_dict(stored.to_dict()) == stored
        assert_record_as_to_dict(data)
        assert_record_as_to_dict(stored.to_dict())


@pytest.mark.parametrize("data", [
    {"action": "login", "actor": {"type": "user", "email": "a@b"}, "source": "web", "timestamp": "2026-01-01T00:00:00Z"},
    {"action": "update", "actor": {"type": "user", "id": ""}, "source": "web", "entity": {"type": "x"}},
    {"action": "update", "actor": {"type": "system", "id": "s"}, "source": "web", "entity": {"type": "x"},
     "context": {"reason": "r" * 5000}, "metadata": {}},
    {"action": "update", "actor": {"type": "system", "id": "s"}, "source": "web", "entity": {"type": "x"},
     "entity_ids": 0, "changes": "", "context": [], "schema_version": 1.0},
    {"action": "update", "actor": {"type": "system", "id": "s"}, "source": "web", "entity": {"type": "x"},
     "id": "id\u00e9"},
])
def test_what_the_fast_path_declines_the_full_path_decides(data: dict[str, Any]) -> None:
    assert model._fast_event_from_dict(copy.deepcopy(data)) is None
    assert outcome(Event.from_dict, data) == outcome(model._event_from_dict_full, data)


def test_fast_built_events_are_ordinary_frozen_dataclasses() -> None:
    data = next(d for d in generate(50, seed=1, now=NOW) if d.get("changes") and d.get("context"))
    event = model._fast_event_from_dict(data)
    assert event is not None
    for part in (event, event.actor, event.entity, event.context, *event.changes):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(part, dataclasses.fields(part)[0].name, "changed")
    assert pickle.loads(pickle.dumps(event)) == event
    assert copy.deepcopy(event) == event
    assert dataclasses.replace(event, id="x").id == "x"
    assert repr(event) == repr(model._event_from_dict_full(data))


# ----------------------------------------------------------------------- to_dict


@SETTINGS
@given(stored_form())
def test_to_dict_writes_each_part_as_its_own_to_dict_does(data: dict[str, Any]) -> None:
    event = Event.from_dict(data)
    out = event.to_dict()
    assert out["actor"] == event.actor.to_dict()
    assert out["entity"] == event.entity.to_dict()
    assert out["context"] == event.context.to_dict()
    assert out["changes"] == [c.to_dict() for c in event.changes]
    assert list(out) == ["id", "seq", "org", "timestamp", "recorded_at", "action", "actor", "source", "entity",
                         "entity_ids", "changes", "context", "metadata", "schema_version", "prev_hash", "hash"]
    assert Event.from_dict(out) == event


@pytest.mark.parametrize(("old", "new", "keys"), [
    (1, 2, ["field", "old", "new"]), (MISSING, 2, ["field", "new"]), (1, MISSING, ["field", "old"]),
    (None, None, ["field", "old", "new"]), (MISSING, MISSING, ["field"]),
])
def test_change_to_dict_writes_only_what_is_there(old: Any, new: Any, keys: list[str]) -> None:
    assert list(Change("f", old, new).to_dict()) == keys


def test_context_to_dict_puts_extra_keys_after_the_schema_fields() -> None:
    out = Context(ip="1.2.3.4", extra={"b": 1, "a": [2]}).to_dict()
    assert list(out) == [*CONTEXT_FIELDS, "b", "a"]
    assert Context().to_dict() == dict.fromkeys(CONTEXT_FIELDS)
    assert Actor("user", "u").to_dict() == {"type": "user", "id": "u", "email": None}
    assert Entity().to_dict() == {"type": None, "id": None}


# ----------------------------------------------------------------------- redaction


def full_walk(redactor: Redactor) -> Redactor:
    """The same rules with every pre-check answering "maybe": the long way, always."""
    slow = Redactor(redactor.patterns)
    slow._has_trigger = lambda _text: True  # type: ignore[method-assign]
    return slow


PATTERN_SETS = [None, ("ssn",), ("x_y_z",), ("api_key", "token"), ('a"b',), ("a\\b",), ("ключ",), ("_",), ("tab\tkey",)]


def spellings(pattern: str) -> list[str]:
    out = [pattern, pattern.upper(), pattern.title()]
    for sep in ("-", " ", ".", ""):
        out += [pattern.replace("_", sep), "X-" + pattern.replace("_", sep).title() + "-Id"]
    return out


secret_shaped = [
    "Bearer abcdefgh1234", "basic dXNlcjpwYXNz", "https://bob:s3cret@hooks.example.com/x", "eyJhbGciOi.eyJzdWIiOi.sig",
    "actl_abcdefghij123", "-----BEGIN RSA PRIVATE KEY-----\nabc", "-----begin private key-----", "token=zzz999&a=1",
    "X-Api-Key: abcdefgh1234", "private-key=abcdefgh1234", "paſſword=hunter22", "to\u212aen=abcdef1234",
    "plain text that is long enough", "short",
]


def redaction_strategies(patterns: tuple[str, ...] | None) -> tuple[Redactor, Any, Any, Any]:
    redactor = Redactor() if patterns is None else Redactor(patterns)
    words = [w for p in redactor.patterns for w in spellings(p)] + ["status", "region", "note", "ſession", "to\u212aen"]
    key = st.sampled_from(words) | st.text(min_size=1, max_size=10)
    text = st.sampled_from(secret_shaped) | st.sampled_from(words) | st.text(max_size=30) | st.builds(
        lambda a, b: f"{a}={b}", st.sampled_from(words), st.sampled_from(["abcdefgh1234", "x", ""]))
    value = st.recursive(st.none() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(key, inner, max_size=3),
                         max_leaves=8)
    return redactor, key, text, value


REDACTION_CASES = [redaction_strategies(patterns) for patterns in PATTERN_SETS]


@st.composite
def redactable(draw: Any) -> tuple[Redactor, Event]:
    redactor, key, text, value = draw(st.sampled_from(REDACTION_CASES))
    changes = [{"field": f, "old": draw(value), "new": draw(value)} for f in draw(st.lists(key, max_size=3, unique=True))]
    context = {name: draw(text) for name in draw(st.lists(st.sampled_from(CONTEXT_FIELDS), max_size=3))}
    context.update(draw(st.dictionaries(key, value, max_size=2)))
    data = {"action": "update", "actor": {"type": "user", "id": "u"}, "source": "api", "entity": {"type": "x"},
            "changes": changes, "context": context, "metadata": draw(st.dictionaries(key, value, max_size=3))}
    try:
        event = Event.from_dict(data)
    except ValidationError:
        assume(False)
        raise
    return redactor, event


@SETTINGS
@given(redactable())
def test_the_redactor_skips_only_what_the_full_walk_would_leave_alone(case: tuple[Redactor, Event]) -> None:
    redactor, event = case
    assert redactor.event(event) == full_walk(redactor).event(event)
    # The record's pre-check, which import's workers ask, skips no more than that.
    if not redactor.may_redact_record(event.to_dict()):
        assert full_walk(redactor).event(event) == event


@pytest.mark.parametrize("text", secret_shaped)
def test_mask_text_pre_check_never_skips_a_secret(text: str) -> None:
    for patterns in PATTERN_SETS:
        redactor = Redactor() if patterns is None else Redactor(patterns)
        assert redactor.mask_text(text) == full_walk(redactor).mask_text(text)


@pytest.mark.parametrize("key", ["X-Api-Key", "api key", "api.key", "Private-Key", "privatekey", "PRIVATE KEY"])
def test_a_sensitive_key_spelled_with_separators_is_redacted_on_its_own(key: str) -> None:
    # Nothing else in the event could trigger a rule: the key alone must.
    event = Event.from_dict({"action": "update", "actor": {"type": "user", "id": "u"}, "source": "api",
                             "entity": {"type": "x"}, "metadata": {key: "v1"}, "context": {key: "v2"},
                             "changes": [{"field": key, "old": "o", "new": "n"}]})
    out = Redactor().event(event)
    assert out.metadata == {key: REDACTED}
    assert out.context.extra == {key: REDACTED}
    assert (out.changes[0].old, out.changes[0].new) == (REDACTED, REDACTED)
    assert Redactor().mask_text(f"curl -H '{key}: abcdefgh1234'") == f"curl -H '{key}: {REDACTED}'"
