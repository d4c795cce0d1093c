"""Property: any string, in any string field, renders without a raw control character.

Hypothesis puts arbitrary unicode (every control, bidi and format character; only
surrogates, which no stored event can hold, left out) into each free-text field of an
event, and the table, the detail view (cut and ``--full``) and the correlation tree
are rendered on a colour terminal at 80 and 160 columns. What reaches the terminal
may hold auditctl's own SGR colour codes and line breaks, nothing else: no other
escape sequence, no C0 control but newline, no C1, DEL or bidi control. Nothing raises.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from auditctl.cli.render import correlation_view, detail_view, event_table, print_table, table_footer, table_header
from auditctl.model import Actor, Change, Context, Entity, Event

SGR = re.compile(r"\x1b\[[0-9;]*m")
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

BASE = Event(
    id="01JD3Z6T8Q0N6YB1X5ZK1V3F4W", seq=7, org="default", action="update", source="api",
    timestamp="2026-11-20T10:00:00.000000Z", recorded_at="2026-11-20T10:00:01.000000Z",
    actor=Actor("user", "u1", "ann@example.com"), entity=Entity("part", "p1"), entity_ids=("a", "b"),
    changes=(Change("status", "draft", "ready"),),
    context=Context(ip="203.0.113.5", correlation_id="cid-1", reason="ticket"),
    metadata={"region": "eu"}, prev_hash="0" * 64, hash="f" * 64,
)


def _with(field: str, value: str) -> Event:
    """BASE with ``value`` in one string field (built directly: rendering must not rely on validation)."""
    ctx = BASE.context
    return {
        "actor.id": lambda: replace(BASE, actor=Actor("user", value, None)),
        "actor.email": lambda: replace(BASE, actor=Actor("user", "u1", value)),
        "entity.type": lambda: replace(BASE, entity=Entity(value, "p1")),
        "entity.id": lambda: replace(BASE, entity=Entity("part", value)),
        "entity_ids": lambda: replace(BASE, entity_ids=(value, value + value)),
        "change.field": lambda: replace(BASE, changes=(Change(value, 1, 2),)),
        "change.old": lambda: replace(BASE, changes=(Change("f", value, "x"),)),
        "change.new": lambda: replace(BASE, action="create", changes=(Change("f", new={"k": [value, {value: value}]}),)),
        "change.delete": lambda: replace(BASE, action="delete", changes=(Change("f", old=value),)),
        "metadata.key": lambda: replace(BASE, metadata={value: 1, "n": {value: [value]}}),
        "metadata.value": lambda: replace(BASE, metadata={"k": value}),
        "context.extra": lambda: replace(BASE, context=replace(ctx, extra={value: value})),
        "id": lambda: replace(BASE, id=value),
        **{f"context.{name}": (lambda name=name: replace(BASE, context=replace(ctx, **{name: value})))
           for name in ("ip", "user_agent", "correlation_id", "reason", "api_key_id", "impersonator", "parent_id")},
    }[field]()


FIELDS = ["actor.id", "actor.email", "entity.type", "entity.id", "entity_ids", "change.field", "change.old",
          "change.new", "change.delete", "metadata.key", "metadata.value", "context.extra", "id",
          *(f"context.{n}" for n in ("ip", "user_agent", "correlation_id", "reason", "api_key_id", "impersonator",
                                     "parent_id"))]
# Every code point but surrogates; biased towards the dangerous ones so each run meets them.
ANY = st.characters(blacklist_categories=("Cs",))
DANGEROUS = st.sampled_from(["\x1b", "\x1b[31m", "\x1b]8;;http://x\x07", "\x9b", "\r", "\n", "\x00", "\x7f", "\x85",
                             "\u202e", "\u2066", "\u200b", "\u2028", "[bold]", "[/]", ":smile:", "\t", "\x08"])
hostile_text = st.lists(st.one_of(st.text(ANY, max_size=8), DANGEROUS), max_size=12).map("".join)


def assert_clean(output: str) -> None:
    rest = SGR.sub("", output)
    assert "\x1b" not in rest, repr(rest[max(rest.find("\x1b") - 30, 0):rest.find("\x1b") + 30])
    bad = sorted({c for c in rest if (c < " " and c != "\n") or "\x7f" <= c <= "\x9f" or c in BIDI})
    assert not bad, bad


def render(renderable: Any, width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system="truecolor", highlight=False,
                      markup=False, emoji=False, soft_wrap=False, legacy_windows=False)
    if callable(renderable):
        renderable(console)
    else:
        console.print(renderable)
    return out.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FIELDS), hostile_text, st.sampled_from([80, 160]), st.booleans())
def test_any_string_in_any_field_renders_without_raw_controls(field, value, width, full):
    event = _with(field, value)
    child = replace(_with(field, value), id="child", seq=8, context=replace(event.context, parent_id=event.id))
    group = [event, child]
    outputs = [
        render(detail_view(event, group, utc=True, full=full), width),
        render(correlation_view(group, utc=True), width),
        render(lambda console: print_table(
            console, group, header=table_header([f"search {value!r}", f"actor={value}"], 2, 2, 0),
            footer=table_footer(shown=2, matched=2, limit=50, reverse=False, folded=0, any_seq=True),
            utc=False, related_counts={event.id or "": 1}), width),
    ]
    for output in outputs:
        assert_clean(output)
    rows = render(event_table(group, utc=True, width=width, related_counts={}), width).splitlines()
    assert len(rows) == 4, rows  # column heads, rule, one line per event: no value broke a row


def test_the_check_catches_raw_controls():
    for raw in ("\x1b[2J", "\x1b]8;;x\x07", "a\rb", "\x9b", "\u202e", "\x7f"):
        try:
            assert_clean(raw)
        except AssertionError:
            continue
        raise AssertionError(f"{raw!r} was not caught")
    assert_clean("\x1b[1;31mred\x1b[0m\n")
