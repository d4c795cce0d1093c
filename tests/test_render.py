"""Human output: the event table, the detail view, correlation trees, time display, progress.

Renderers are checked at fixed widths (80 and 160 columns) against the exact text a
person sees, and the colours are checked on the rendered segments, not only the words.
"""

from __future__ import annotations

import colorsys
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.segment import Segment

from auditctl.cli import output
from auditctl.cli.output import group_correlated, progress
from auditctl.cli.render import (
    ACTION_STYLES,
    TableLayout,
    correlation_tree,
    correlation_view,
    detail_view,
    event_table,
    pretty_json,
)
from auditctl.model import Event
from tests.conftest import make_event

# Central European Time with its DST rule, as a POSIX TZ string: needs no tz database.
BERLIN = "CET-1CEST,M3.5.0,M10.5.0/3"
SGR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(autouse=True)
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", BERLIN)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def ev(seq: int, action: str, **fields: Any) -> Event:
    fields.setdefault("timestamp", f"2026-11-20T{8 + seq:02d}:00:00Z")
    fields.setdefault("changes", [])
    return make_event(id=f"01JD3Z6T8Q0N6YB1X5ZK1V3F{seq:02d}", seq=seq, action=action, **fields)


ANN = {"type": "user", "id": "user_1", "email": "ann@example.com"}


def sample_events() -> list[Event]:
    """One event of every action class, newest first (as search returns them)."""
    events = [
        ev(
            1,
            "create",
            actor=ANN,
            source="web",
            entity={"type": "part", "id": "part_1"},
            changes=[{"field": "status", "new": "draft"}, {"field": "spec", "new": {"volts": 12}}],
        ),
        ev(
            2,
            "update",
            actor=ANN,
            changes=[{"field": "status", "old": "draft", "new": "ready"}],
            context={"correlation_id": "req-1"},
        ),
        ev(
            3,
            "bulk_update",
            actor={"type": "api_key", "id": "key_9"},
            entity={"type": "part"},
            entity_ids=["p1", "p2", "p3"],
            changes=[{"field": "price", "old": 10, "new": 12}],
            context={"correlation_id": "req-1", "parent_id": "01JD3Z6T8Q0N6YB1X5ZK1V3F02"},
            timestamp="2026-11-20T10:00:01Z",
        ),
        ev(
            4,
            "delete",
            actor={"type": "user", "email": "bob@example.com"},
            source="web",
            entity={"type": "document", "id": "doc_9"},
            changes=[{"field": "title", "old": "Q3 report"}, {"field": "owner", "old": "[REDACTED]"}],
        ),
        ev(
            5,
            "login",
            actor={"type": "user", "email": "carol@example.com"},
            source="web",
            entity=None,
            context={"ip": "192.0.2.4"},
        ),
        ev(6, "logout", actor={"type": "user", "email": "carol@example.com"}, source="web", entity=None),
        ev(
            7,
            "export",
            actor={"type": "system", "id": "exporter"},
            source="scheduler",
            entity={"type": "audit_log"},
            metadata={"count": 1200},
        ),
        ev(8, "import", actor={"type": "user", "id": "dave"}, source="cli", entity={"type": "audit_log"}),
        ev(
            9,
            "sensitive_access",
            actor={"type": "webhook", "id": "hook_3"},
            source="webhook",
            entity={"type": "customer", "id": "cus_42"},
            context={"reason": "viewed SSN"},
        ),
        ev(
            10,
            "bulk_create",
            actor={"type": "system", "id": "seed"},
            source="system",
            entity={"type": "tag"},
            entity_ids=["t1"],
        ),
        ev(
            11,
            "bulk_delete",
            actor={"type": "scheduler", "id": "nightly"},
            source="system",
            entity={"type": "session"},
            entity_ids=["s1", "s2"],
        ),
    ]
    return list(reversed(events))


def console(width: int) -> Console:
    return Console(width=width, record=True, force_terminal=True, color_system="truecolor")


def render(renderable: Any, width: int) -> str:
    out = console(width)
    out.print(renderable)
    return "\n".join(line.rstrip() for line in out.export_text().splitlines())


def table(width: int, utc: bool = False) -> Any:
    rows, counts = group_correlated(sample_events())
    return event_table(rows, utc=utc, width=width, related_counts=counts, now_year=2026)


def dedent(text: str) -> str:
    return "\n".join(line.removeprefix("    ") for line in text.strip("\n").splitlines())


# --------------------------------------------------------------------------- the table


TABLE_80 = """
    seq  time (CET)   action             actor         entity       what changed
    ────────────────────────────────────────────────────────────────────────────────
     11  11-20 20:00  bulk_delete        nightly       session (2…
     10  11-20 19:00  bulk_create        seed          tag (1 id)
      9  11-20 18:00  sensitive_access   hook_3        customer:c…  “viewed SSN”
      8  11-20 17:00  import             dave          audit_log
      7  11-20 16:00  export             exporter      audit_log    count=1200
      6  11-20 15:00  logout             carol@examp…  —
      5  11-20 14:00  login              carol@examp…  —            from 192.0.2.4
      4  11-20 13:00  delete             bob@example…  document:d…  title, owner
      2  11-20 11:00  update +1 related  ann@example…  part:part_1  status: draft →…
      1  11-20 10:00  create             ann@example…  part:part_1  status, spec
"""

TABLE_160 = """
    seq  time (CET)           action             actor                     entity           source     what changed
    ─────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────
     11  2026-11-20 20:00:00  bulk_delete        nightly (scheduler)       session (2 ids)  system
     10  2026-11-20 19:00:00  bulk_create        seed (system)             tag (1 id)       system
      9  2026-11-20 18:00:00  sensitive_access   hook_3 (webhook)          customer:cus_42  webhook    “viewed SSN”
      8  2026-11-20 17:00:00  import             dave (user)               audit_log        cli
      7  2026-11-20 16:00:00  export             exporter (system)         audit_log        scheduler  count=1200
      6  2026-11-20 15:00:00  logout             carol@example.com (user)  —                web
      5  2026-11-20 14:00:00  login              carol@example.com (user)  —                web        from 192.0.2.4
      4  2026-11-20 13:00:00  delete             bob@example.com (user)    document:doc_9   web        title=Q3 report · owner=[REDACTED]
      2  2026-11-20 11:00:00  update +1 related  ann@example.com (user)    part:part_1      api        status: draft → ready
      1  2026-11-20 10:00:00  create             ann@example.com (user)    part:part_1      web        status=draft · spec={"volts":12}
"""


def test_table_at_80_columns_drops_details_not_rows() -> None:
    text = render(table(80), 80)
    assert text == dedent(TABLE_80)
    assert all(len(line) <= 80 for line in text.splitlines())


def test_table_at_160_columns_shows_everything() -> None:
    assert render(table(160), 160) == dedent(TABLE_160)


@pytest.mark.parametrize("width", [40, 60, 80, 100, 120, 140, 160, 200])
def test_table_rows_stay_one_line_at_any_width(width: int) -> None:
    events = sample_events()
    lines = render(table(width), width).splitlines()
    assert len(lines) == 2 + len(events) - 1  # header, rule, rows (one folded into +1 related)
    assert all(len(line) <= width for line in lines)


def test_table_in_utc() -> None:
    text = render(table(160, utc=True), 160)
    assert "time (UTC)" in text
    assert " 2026-11-20 09:00:00  create" in text


def test_table_shows_the_zone_per_row_when_rows_differ() -> None:
    summer = ev(1, "create", timestamp="2026-07-01T10:00:00Z")
    winter = ev(2, "create", timestamp="2026-12-01T10:00:00Z")
    text = render(event_table([winter, summer], utc=False, width=160, now_year=2026), 160)
    assert "2026-12-01 11:00:00 CET" in text
    assert "2026-07-01 12:00:00 CEST" in text


def test_table_keeps_the_year_of_another_year() -> None:
    old = ev(1, "create", timestamp="2019-03-01T10:00:00Z")
    text = render(event_table([old], utc=False, width=80, now_year=2026), 80)
    assert "2019-03-01" in text


def test_newline_in_a_value_stays_inside_its_cell() -> None:
    tricky = ev(
        1,
        "update",
        actor={"type": "user", "id": "a\nb"},
        changes=[{"field": "note", "old": "one\ntwo", "new": "three\r\nfour"}],
    )
    for width in (80, 160):
        lines = render(event_table([tricky], utc=False, width=width, now_year=2026), width).splitlines()
        assert len(lines) == 3
        assert "a\\nb" in lines[2]
    assert "three\\r\\nfour" in render(event_table([tricky], utc=False, width=160, now_year=2026), 160)


def _hue(style: Any) -> float:
    triplet = style.color.get_truecolor()
    hue, _, _ = colorsys.rgb_to_hsv(triplet.red / 255, triplet.green / 255, triplet.blue / 255)
    return hue * 360


# DESIGN §3's colours as hue ranges (degrees): what a person sees, whatever the names.
HUES = {
    "green": (90, 150),
    "blue": (200, 250),
    "red": (-10, 10),
    "purple": (255, 300),
    "amber": (38, 50),
    "orange": (15, 36),
}
ACTION_COLOUR = {
    "create": "green",
    "bulk_create": "green",
    "update": "blue",
    "bulk_update": "blue",
    "delete": "red",
    "bulk_delete": "red",
    "login": "purple",
    "logout": "purple",
    "export": "amber",
    "import": "amber",
    "sensitive_access": "orange",
}


def _in_range(hue: float, colour: str) -> bool:
    low, high = HUES[colour]
    return low <= hue <= high or low <= hue - 360 <= high


def action_segments(width: int) -> dict[str, Segment]:
    out = console(width)
    found: dict[str, Segment] = {}
    flat = event_table(sample_events(), utc=False, width=width, now_year=2026)
    for segment in out.render(flat):
        word = segment.text.strip()
        if word in ACTION_COLOUR and word not in found:
            found[word] = segment
    return found


@pytest.mark.parametrize("width", [80, 160])
def test_each_action_class_has_its_colour_in_the_rendered_table(width: int) -> None:
    found = action_segments(width)
    assert set(found) == set(ACTION_COLOUR)
    for action, segment in found.items():
        assert segment.style is not None and segment.style.color is not None, action
        assert _in_range(_hue(segment.style), ACTION_COLOUR[action]), (action, _hue(segment.style))
    assert found["sensitive_access"].style.bold  # the one to notice first


def test_action_styles_are_distinct_per_class() -> None:
    colours = {name: ACTION_STYLES[name] for name in ACTION_COLOUR}
    classes: dict[str, set[str]] = {}
    for action, colour in ACTION_COLOUR.items():
        classes.setdefault(colour, set()).add(colours[action].split()[-1])
    assert all(len(names) == 1 for names in classes.values())  # one colour per class
    assert len({next(iter(names)) for names in classes.values()}) == len(classes)  # six different ones


def test_sources_are_coloured_and_old_new_are_red_green() -> None:
    out = console(160)
    segments = list(out.render(table(160)))
    for source in ("web", "api", "cli", "system", "scheduler", "webhook"):
        hits = [s for s in segments if s.text.strip() == source and s.style and s.style.color]
        assert hits, source
    draft = next(
        s for s in segments if s.text == "draft" and s.style and s.style.color and _in_range(_hue(s.style), "red")
    )
    ready = next(s for s in segments if s.text == "ready")
    assert draft and _in_range(_hue(ready.style), "green")
    redacted = next(s for s in segments if s.text == "[REDACTED]")
    assert redacted.style.reverse and redacted.style.bold


def test_related_mark_and_layout_steps() -> None:
    rows, counts = group_correlated(sample_events())
    assert [e.seq for e in rows if counts.get(e.id or "")] == [2]
    layout = TableLayout(rows, width=80, utc=False, related=counts, now_year=2026)
    assert not layout.show["actor_type"] and not layout.show["source"] and layout.show["summary"]
    assert layout.action_cell(rows[-2]).plain == "update +1 related"
    wide = TableLayout(rows, width=200, utc=False, related=counts, now_year=2026)
    assert all(wide.show.values())


# --------------------------------------------------------------------------- the detail view


DETAIL_80 = """
    ╭─ event #2 ───────────────────────────────────────────────────────────────────╮
    │ action  update                                                               │
    │ time    2026-11-20 11:00:00 CET (UTC+01:00)   2026-11-20 10:00:00 UTC        │
    │ actor   ann@example.com  (user)  id user_1                                   │
    │ source  api                                                                  │
    │ entity  part:part_1                                                          │
    │ id      seq 2  01JD3Z6T8Q0N6YB1X5ZK1V3F02                                    │
    ╰──────────────────────────────────────────────────────────────────────────────╯
    ╭─ request context ────────────────────────────────────────────────────────────╮
    │ correlation id  req-1                                                        │
    ╰──────────────────────────────────────────────────────────────────────────────╯
    ╭─ changes (1) ────────────────────────────────────────────────────────────────╮
    │ field    old                                new                              │
    │ ──────────────────────────────────────────────────────────────────────────── │
    │ status   draft                              ready                            │
    ╰──────────────────────────────────────────────────────────────────────────────╯
    ╭─ related (1 more in this request) ───────────────────────────────────────────╮
    │ ▶ 2  2026-11-20 11:00:00 CET  update  ann@example.com  part:part_1  status:… │
    │ └── 3  11:00:01  bulk_update  key_9  part (3 ids)  price: 10 → 12            │
    ╰──────────────────────────────────────────────────────────────────────────────╯
"""

DETAIL_160 = """
    ╭─ event #2 ───────────────────────────────────────────────────────────────────────────────────────────────────────────╮
    │ action  update                                                                                                       │
    │ time    2026-11-20 11:00:00 CET (UTC+01:00)   2026-11-20 10:00:00 UTC                                                │
    │ actor   ann@example.com  (user)  id user_1                                                                           │
    │ source  api                                                                                                          │
    │ entity  part:part_1                                                                                                  │
    │ id      seq 2  01JD3Z6T8Q0N6YB1X5ZK1V3F02                                                                            │
    ╰──────────────────────────────────────────────────────────────────────────────────────────────────────────────────────╯
    ╭─ request context ────────────────────────────────────────────────────────────────────────────────────────────────────╮
    │ correlation id  req-1                                                                                                │
    ╰──────────────────────────────────────────────────────────────────────────────────────────────────────────────────────╯
    ╭─ changes (1) ────────────────────────────────────────────────────────────────────────────────────────────────────────╮
    │ field    old                                                    new                                                  │
    │ ──────────────────────────────────────────────────────────────────────────────────────────────────────────────────── │
    │ status   draft                                                  ready                                                │
    ╰──────────────────────────────────────────────────────────────────────────────────────────────────────────────────────╯
    ╭─ related (1 more in this request) ───────────────────────────────────────────────────────────────────────────────────╮
    │ ▶ 2  2026-11-20 11:00:00 CET  update  ann@example.com  part:part_1  status: draft → ready                            │
    │ └── 3  11:00:01  bulk_update  key_9  part (3 ids)  price: 10 → 12                                                    │
    ╰──────────────────────────────────────────────────────────────────────────────────────────────────────────────────────╯
"""


def _update_and_child() -> tuple[Event, list[Event]]:
    events = sample_events()
    update = next(e for e in events if e.seq == 2)
    child = next(e for e in events if e.seq == 3)
    return update, [update, child]


def test_detail_view_at_80_columns() -> None:
    update, group = _update_and_child()
    assert render(detail_view(update, group, utc=False, full=False), 80) == dedent(DETAIL_80)


def test_detail_view_at_160_columns() -> None:
    update, group = _update_and_child()
    assert render(detail_view(update, group, utc=False, full=False), 160) == dedent(DETAIL_160)


def test_detail_view_colours_old_red_new_green() -> None:
    update, group = _update_and_child()
    segments = list(console(80).render(detail_view(update, group, utc=False, full=False)))
    old = next(s for s in segments if s.text.strip() == "draft")
    new = next(s for s in segments if s.text.strip() == "ready")
    assert _in_range(_hue(old.style), "red") and _in_range(_hue(new.style), "green")
    action = next(s for s in segments if s.text.strip() == "update")
    assert _in_range(_hue(action.style), "blue")


DELETE_UTC_80 = """
    ╭─ event #4 ───────────────────────────────────────────────────────────────────╮
    │ action  delete                                                               │
    │ time    2026-11-20 12:00:00 UTC                                              │
    │ actor   bob@example.com  (user)                                              │
    │ source  web                                                                  │
    │ entity  document:doc_9                                                       │
    │ id      seq 4  01JD3Z6T8Q0N6YB1X5ZK1V3F04                                    │
    ╰──────────────────────────────────────────────────────────────────────────────╯
    ╭─ changes (2) ────────────────────────────────────────────────────────────────╮
    │ field   old                                                                  │
    │ ──────────────────────────────────────────────────────────────────────────── │
    │ title   Q3 report                                                            │
    │ owner   [REDACTED]                                                           │
    ╰──────────────────────────────────────────────────────────────────────────────╯
"""


def test_delete_shows_only_old_and_marks_redacted_in_utc() -> None:
    delete = next(e for e in sample_events() if e.seq == 4)
    view = detail_view(delete, [], utc=True, full=False)
    assert render(view, 80) == dedent(DELETE_UTC_80)
    redacted = next(s for s in console(80).render(view) if s.text.strip() == "[REDACTED]")
    assert redacted.style.reverse and redacted.style.bold


def test_create_shows_only_new_with_pretty_json() -> None:
    create = ev(
        1, "create", changes=[{"field": "spec", "new": {"volts": 12, "tags": ["a", "b"], "dims": {"w": 10, "h": 20}}}]
    )
    text = render(detail_view(create, [], utc=False, full=False), 80)
    assert "│ field   new" in text and " old " not in text
    assert "│ spec    {  " in text
    assert '│           "tags": ["a", "b"],  ' in text
    assert '│           "dims": {"w": 10, "h": 20}  ' in text
    assert "│         }  " in text


def test_pretty_json_indents_the_top_and_keeps_small_parts_inline() -> None:
    assert pretty_json({"a": [1, 2], "b": {"c": None}}) == '{\n  "a": [1, 2],\n  "b": {"c": null}\n}'
    assert pretty_json([]) == "[]"
    assert pretty_json("x") == '"x"'
    long = {"k": ["x" * 30, "y" * 30]}
    assert pretty_json(long) == '{\n  "k": [\n    "' + "x" * 30 + '",\n    "' + "y" * 30 + '"\n  ]\n}'


def test_long_values_are_cut_unless_full() -> None:
    long = "word " * 100
    big = {f"k{i}": i for i in range(30)}
    event = ev(
        1,
        "update",
        changes=[{"field": "body", "old": long, "new": big}],
        entity_ids=[f"id{i}" for i in range(80)],
        context={"user_agent": "UA " * 100},
    )
    cut = render(detail_view(event, [], utc=False, full=False), 160)
    assert "(+301 chars, --full)" in cut
    assert "more lines (--full)" in cut
    assert "… and 30 more (--full)" in cut
    whole = render(detail_view(event, [], utc=False, full=True), 160)
    assert "--full" not in whole
    assert "id79" in whole and '"k29": 29' in whole


def test_bulk_action_lists_entity_ids_and_metadata() -> None:
    bulk = ev(
        3,
        "bulk_update",
        entity={"type": "part"},
        entity_ids=["p1", "p2", "p3"],
        metadata={"region": "eu-west", "batch": {"size": 3}},
    )
    text = render(detail_view(bulk, [], utc=False, full=False), 80)
    assert "╭─ entity ids (3) " in text and "│ p1, p2, p3 " in text
    assert "│ entity  part  (3 ids, listed below)" in text
    assert "╭─ metadata " in text and "│ region  eu-west" in text and '│ batch   {"size": 3}' in text


def test_context_panel_names_every_field() -> None:
    event = ev(
        1,
        "update",
        context={
            "ip": "203.0.113.22",
            "user_agent": "curl/8.11.0",
            "api_key_id": "key_1",
            "impersonator": "admin@example.com",
            "reason": "ticket #42",
            "correlation_id": "c-1",
            "parent_id": "01PARENT",
        },
    )
    text = render(detail_view(event, [], utc=False, full=False), 80)
    for label, value in [
        ("ip", "203.0.113.22"),
        ("user agent", "curl/8.11.0"),
        ("api key", "key_1"),
        ("impersonated by", "admin@example.com"),
        ("reason", "ticket #42"),
        ("correlation id", "c-1"),
        ("caused by", "01PARENT"),
    ]:
        assert re.search(rf"│ {label} +{re.escape(value)} ", text), label


# --------------------------------------------------------------------------- correlation trees


def _group() -> list[Event]:
    ctx = {"correlation_id": "req-9"}
    return [
        ev(1, "update", context=ctx, timestamp="2026-11-20T10:00:00Z"),
        ev(
            2,
            "bulk_update",
            context={**ctx, "parent_id": "01JD3Z6T8Q0N6YB1X5ZK1V3F01"},
            timestamp="2026-11-20T10:00:01Z",
        ),
        ev(3, "delete", context={**ctx, "parent_id": "01JD3Z6T8Q0N6YB1X5ZK1V3F02"}, timestamp="2026-11-20T10:00:02Z"),
        ev(4, "export", context={**ctx, "parent_id": "01NOT_IN_THE_GROUP"}, timestamp="2026-11-20T10:00:03Z"),
        ev(5, "create", context=ctx, timestamp="2026-11-20T10:00:04Z"),
    ]


TREE_80 = """
    correlation req-9 — 5 events
    1  2026-11-20 11:00:00 CET  update  ann@example.com  part:part_1
    ├── 2  11:00:01  bulk_update  ann@example.com  part:part_1
    │   └── 3  11:00:02  delete  ann@example.com  part:part_1
    ├── 4  11:00:03  export  ann@example.com  part:part_1
    └── 5  11:00:04  create  ann@example.com  part:part_1
"""


def test_correlation_tree_puts_children_under_their_parent() -> None:
    assert render(correlation_view(list(reversed(_group())), utc=False), 80) == dedent(TREE_80)


def test_correlation_tree_survives_cycles_and_deep_chains() -> None:
    a = ev(1, "update", context={"correlation_id": "c", "parent_id": "01JD3Z6T8Q0N6YB1X5ZK1V3F02"})
    b = ev(2, "update", context={"correlation_id": "c", "parent_id": "01JD3Z6T8Q0N6YB1X5ZK1V3F01"})
    text = render(correlation_tree([a, b], highlight=None, utc=False), 80)
    assert text.count("update") == 2  # both shown, once each
    chain = [ev(1, "create", context={"correlation_id": "c"})]
    for seq in range(2, 61):
        chain.append(
            ev(
                seq,
                "update",
                timestamp="2026-11-20T10:00:00Z",
                context={"correlation_id": "c", "parent_id": f"01JD3Z6T8Q0N6YB1X5ZK1V3F{seq - 1:02d}"},
            )
        )
    text = render(correlation_tree(chain, highlight=None, utc=False), 200)
    assert text.count("update") == 59


def test_related_section_is_capped_with_a_pointer_to_the_whole_group() -> None:
    group = [ev(1, "update", context={"correlation_id": "big"})]
    group += [
        ev(i, "update", context={"correlation_id": "big"}, timestamp="2026-11-20T10:00:00Z") for i in range(2, 80)
    ]
    text = render(detail_view(group[0], group, utc=False, full=False), 120)
    assert "… and 29 more: auditctl show --correlation big" in text
    assert "more:" not in render(detail_view(group[0], group, utc=False, full=True), 120)


# --------------------------------------------------------------------------- through the CLI


@pytest.fixture
def filled(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from auditctl.store.sqlite import SQLiteStore

    monkeypatch.setenv("AUDITCTL_NOW", "2026-11-25T12:00:00Z")
    with SQLiteStore(store_path, create=True) as store:
        store.append(list(reversed(sample_events())))
    return store_path


TERMINAL = {"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLORTERM": "truecolor", "COLUMNS": "80"}


def test_cli_table_header_footer_and_colours(cli: Any, filled: Path) -> None:
    result = cli(
        "search",
        "--format",
        "table",
        "--action",
        "delete",
        "--action",
        "update",
        "--since",
        "30d",
        "--source",
        "api",
        "--source",
        "web",
        "--limit",
        "1",
        env=TERMINAL,
    )
    assert result.exit_code == 0, result.stderr
    plain = SGR.sub("", result.stdout)
    lines = plain.splitlines()
    assert lines[0] == "2 events matched · 3 filters: action=delete,update · source=api,web · since 30d"
    assert lines[-2:] == [
        "showing the newest 1 of 2 · --limit 200 for more · --format jsonl for all",
        "details: auditctl show SEQ",
    ]
    assert "\x1b[" in result.stdout  # coloured on a terminal
    assert not SGR.sub("", result.stdout).count("\x1b")


def test_cli_grouping_and_flat(cli: Any, filled: Path) -> None:
    grouped = cli("search", "--format", "table", env={"COLUMNS": "160"}).stdout
    assert "update +1 related" in grouped and "bulk_update" not in grouped
    assert "1 related entry folded in (+N related); --flat lists all" in grouped
    flat = cli("search", "--format", "table", "--flat", env={"COLUMNS": "160"}).stdout
    assert "+1 related" not in flat and "bulk_update" in flat
    assert flat.splitlines()[0] == "11 events matched · no filters"


def test_cli_plain_without_colour(cli: Any, filled: Path) -> None:
    for env, args in (({**TERMINAL, "NO_COLOR": "1"}, []), (TERMINAL, ["--no-color"]), ({"COLUMNS": "80"}, [])):
        for command in (["search"], ["show", "2"], ["show", "--correlation", "req-1"]):
            result = cli(*args, *command, "--format", "table", env=env)
            assert result.exit_code == 0, result.stderr
            assert "\x1b" not in result.stdout, (env, command)


def test_cli_show_and_correlation(cli: Any, filled: Path) -> None:
    shown = cli("show", "2", "--format", "table", env={"COLUMNS": "80"}).stdout
    assert shown.splitlines()[0].startswith("╭─ event #2 ")
    assert "│ time      2026-11-20 11:00:00 CET (UTC+01:00)   2026-11-20 10:00:00 UTC" in shown
    assert "│ recorded  2026-11-25 13:00:00 CET (UTC+01:00)  (5d 2h later)" in shown
    tree = cli("show", "--correlation", "req-1", "--format", "table", env={"COLUMNS": "80"}).stdout
    assert tree.splitlines()[:3] == [
        "correlation req-1 — 2 events",
        "2  2026-11-20 11:00:00 CET  update  ann@example.com  part:part_1  status: draft…",
        "└── 3  11:00:01  bulk_update  key_9  part (3 ids)  price: 10 → 12",
    ]


def test_cli_utc_flag(cli: Any, filled: Path) -> None:
    shown = cli("--utc", "show", "2", "--format", "table", env={"COLUMNS": "80"}).stdout
    assert "│ time      2026-11-20 10:00:00 UTC" in shown
    table_text = cli("search", "--utc", "--format", "table", env={"COLUMNS": "160"}).stdout
    assert "time (UTC)" in table_text and "2026-11-20 10:00:01" not in table_text
    machine = cli.json_lines("search", "--utc")
    assert all(e["timestamp"].endswith("Z") for e in machine)


def test_cli_filter_input_table(cli: Any, filled: Path, tmp_path: Path) -> None:
    export = tmp_path / "events.jsonl"
    export.write_text(cli("search", "--format", "jsonl").stdout)
    result = cli(
        "filter", "--input", str(export), "--action", "delete", "--format", "table", env={"COLUMNS": "80"}, store=False
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "1 event matched · 1 filter: action=delete"
    assert "document:doc_9" in result.stdout


def test_cli_empty_result(cli: Any, filled: Path) -> None:
    result = cli("search", "nobody-like-this", "--format", "table", env={"COLUMNS": "80"})
    assert result.stdout.splitlines() == [
        "0 events matched · 1 filter: search nobody-like-this",
        "no events match; widen the filters (e.g. a longer --since)",
    ]


# --------------------------------------------------------------------------- progress


def test_progress_is_silent_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(progress(3, "x")([1, 2, 3])) == [1, 2, 3]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("total,unit", [(200, "events"), (None, "events"), (4096, "bytes")])
def test_progress_on_a_terminal_passes_every_item(
    monkeypatch: pytest.MonkeyPatch, total: int | None, unit: str
) -> None:
    monkeypatch.setattr(output, "_stderr_is_terminal", lambda: True)
    seen = list(progress(total, "[bold]work[/]", unit=unit, position=lambda: 2048)(range(200)))
    assert seen == list(range(200))


def test_busy_is_a_no_op_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with output.busy("purging"):
        pass
    assert capsys.readouterr().err == ""


def test_import_progress_follows_file_bytes(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditctl.cli import import_cmd

    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(
            json.dumps(
                {
                    "action": "create",
                    "actor": {"type": "user", "id": "u"},
                    "source": "api",
                    "entity": {"type": "t", "id": str(i)},
                }
            )
            + "\n"
            for i in range(300)
        )
    )
    calls: list[tuple[Any, ...]] = []
    real = import_cmd.progress

    def spy(total: int | None, description: str, **kw: Any) -> Any:
        calls.append((total, description, kw.get("unit"), kw["position"]() if kw.get("position") else None))
        return real(total, description, **kw)

    monkeypatch.setattr(import_cmd, "progress", spy)
    result = cli("import", str(source))
    assert result.exit_code == 0, result.stderr
    assert calls and calls[0][0] == source.stat().st_size and calls[0][2] == "bytes"
