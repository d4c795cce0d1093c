"""What the speed work relies on: the fast codec paths give exactly the slow paths' answers.

* ``jsonio.canonical`` (the bytes the hash chain is computed over) is byte-identical
  to the standard library's ``json.dumps(sort_keys=True, ...)`` whichever path it takes;
* ``jsonio.loads``/``dumps`` read and write the same values as ``json``;
* the redaction pre-check never skips an event a full walk would change;
* the generator is deterministic and every event it makes is valid.
"""

from __future__ import annotations

import json
import math
import random
import struct
from datetime import UTC, datetime
from typing import Any

import pytest

from auditctl import jsonio
from auditctl.generate import generate
from auditctl.model import Event
from auditctl.redact import Redactor

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
SPECIAL = [0x0, 0x1F, 0x7F, 0x85, 0x2028, 0x2029, 0xFEFF, 0x200B, 0x202E, 0x5C, 0x22, 0x2F, 0x8, 0xC, 0xA, 0xD, 0x9,
           0x17F, 0x212A, 0x130, 0x1F600]


def random_text(rng: random.Random) -> str:
    chars = []
    for _ in range(rng.randrange(0, 10)):
        roll = rng.random()
        if roll < 0.4:
            code = rng.randrange(0, 0x80)
        elif roll < 0.6:
            code = rng.choice(SPECIAL)
        else:
            code = rng.randrange(0x80, 0x110000)
            if 0xD800 <= code <= 0xDFFF:
                code = 0x41
        chars.append(chr(code))
    return "".join(chars)


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.4:
        return rng.choice([
            None, True, False, rng.randrange(-2**63, 2**64), rng.randrange(-9, 9), random_text(rng),
            rng.uniform(-1e6, 1e6), rng.choice([1e-05, 1e16, 1e22, 5e-324, 0.1, -0.0, 100.0]), 2**70,
        ])
    if roll < 0.7:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {random_text(rng): random_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))}


def stdlib_canonical(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def test_canonical_is_byte_identical_to_the_standard_library() -> None:
    rng = random.Random(20261125)
    for _ in range(20_000):
        value = random_value(rng)
        assert jsonio.canonical(value) == stdlib_canonical(value), repr(value)[:300]
        if "NaN" not in json.dumps(value) and "Infinity" not in json.dumps(value):
            assert jsonio.canonical_finite(value) == stdlib_canonical(value), repr(value)[:300]


def test_canonical_spells_every_float_as_the_standard_library() -> None:
    """Floats take the fast codec only where both spell them alike (``jsonio._plain``):
    random bit patterns cover every exponent, and the edges of that range are tried."""
    rng = random.Random(20261126)
    floats = [struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(100_000)]
    floats += [rng.uniform(-1e6, 1e6) for _ in range(20_000)] + [round(rng.uniform(0, 1e5), 2) for _ in range(20_000)]
    edges = [1e-4, 1e16, 0.0, 5e-324, 1e-7, 1e-5, 123.0, 1e15]
    floats += [x for edge in edges for x in (edge, math.nextafter(edge, 0), math.nextafter(edge, math.inf))]
    for x in floats:
        for value in (x, -x):
            if math.isfinite(value):
                assert jsonio.canonical({"v": [value]}) == stdlib_canonical({"v": [value]}), value
                for wrapped in ({"v": [value]}, {"v": value}, {"v": {"w": value}}, [value, 1], value):
                    assert jsonio.canonical_finite(wrapped) == stdlib_canonical(wrapped), value


def test_canonical_finite_takes_json_for_a_string_that_looks_like_a_float() -> None:
    for text in ("e5,", "1e16]", "x 0.00001", "e-7}", "0.0000", "e12"):
        for value in ({"v": text}, {"v": [text, 0.5]}, [text], text):
            assert jsonio.canonical_finite(value) == stdlib_canonical(value), value


def test_canonical_of_generated_events_matches() -> None:
    for data in generate(2000, seed=3, now=NOW):
        event = Event.from_dict(data).to_dict()
        assert jsonio.canonical(event) == stdlib_canonical(event)
        assert jsonio.canonical_finite(event) == stdlib_canonical(event)


def test_loads_and_dumps_agree_with_json() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        value = random_value(rng)
        text = json.dumps(value, ensure_ascii=False)
        assert jsonio.loads(text) == json.loads(text) or text.count("NaN")
        assert json.loads(jsonio.dumps(value)) == value
    for text in ('123456789012345678901234567890', '-9223372036854775809', '[1e400]', '"\\ud800"', 'NaN'):
        assert repr(jsonio.loads(text)) == repr(json.loads(text))


@pytest.mark.parametrize("text", [
    "Authorization: Bearer abcdefgh123", "https://bob:pw@host/x", "paſſword=hunter22", "PASSWORD=hunter2 x",
    "to\u212aen=abcdef1234", "x eyJhbGciOi.eyJzdWIiOi.signature", "call actl_abcdefgh1234",
    "-----BEGIN RSA PRIVATE KEY-----\nabc", "plain text that is long enough",
])
def test_redaction_pre_check_never_skips_a_secret(text: str) -> None:
    fast = Redactor()
    slow = Redactor()
    slow._has_trigger = lambda _text: True  # type: ignore[method-assign]
    assert fast.mask_text(text) == slow.mask_text(text)
    event = Event.from_dict({
        "action": "update", "actor": {"type": "user", "id": "u1"}, "source": "api", "entity": {"type": "x"},
        "changes": [{"field": "note", "old": "a", "new": text}], "context": {"reason": text, "extra_key": text},
        "metadata": {"nested": [{"value": text}], "Session_Id": "s"},
    })
    assert fast.event(event) == slow.event(event)


def test_generator_is_deterministic_and_valid() -> None:
    first = [jsonio.dumps(d) for d in generate(3000, seed=11, now=NOW)]
    second = [jsonio.dumps(d) for d in generate(3000, seed=11, now=NOW)]
    assert first == second
    events = [Event.from_dict(json.loads(line)) for line in first]
    assert len({e.id for e in events}) == len(events)
    stamps = [e.timestamp or "" for e in events]
    assert stamps == sorted(stamps)
    assert stamps[0] >= "2026-10-26T12:00:00" and stamps[-1] < "2026-11-25T12:00:00"
    actions = {e.action for e in events}
    assert actions == {"create", "update", "delete", "bulk_create", "bulk_update", "bulk_delete", "login", "logout",
                       "export", "import", "sensitive_access"}
    sources = {(e.actor.type, e.source) for e in events}
    assert ("webhook", "webhook") in sources and ("scheduler", "scheduler") in sources
    assert all(source == "api" for kind, source in sources if kind == "api_key")
    groups: dict[str, list[Event]] = {}
    for event in events:
        groups.setdefault(event.context.correlation_id or "", []).append(event)
    assert max(len(g) for g in groups.values()) <= 5 and any(len(g) > 1 for g in groups.values())
    for members in groups.values():
        assert members[0].context.parent_id is None
        assert all(m.context.parent_id == members[0].id for m in members[1:])
    updates = [e for e in events if e.action == "update"]
    assert all(1 <= len(e.changes) <= 3 for e in updates)
    assert all(2 <= len(e.entity_ids) <= 20 for e in events if e.action.startswith("bulk_"))
    assert 0.15 < sum(1 for e in events if e.metadata) / len(events) < 0.25
    size = sum(len(line) + 1 for line in first) / len(first)
    assert 350 < size < 500
