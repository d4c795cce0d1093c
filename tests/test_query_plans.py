"""The headline filters never scan the events table: EXPLAIN QUERY PLAN says so.

A "scan" here is SQLite visiting every row: ``SCAN events``, or walking the whole
time index (``USING INDEX events_time (org=?)`` — every event has the same org)
and testing each row. Each headline filter must be answered from its own index.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditctl.query import build_query
from auditctl.store.sqlite import SQLiteStore

HEADLINE = {
    "action and since": {"actions": ["delete"], "since": "7d", "limit": 50},
    "actor email": {"actor": "ann@example.com", "limit": 50},
    "actor id": {"actor": "user_0001", "limit": 50},
    "entity id": {"entity_id": "part_7f3a", "limit": 50},
    "correlation id": {"correlation_id": "5d9dc9f8-1818-e811-892f-902bd23f0824"},
    "changed field": {"changed": "status", "limit": 50},
    "free-text term": {"terms": ["ann@exa"], "limit": 50},
    "term and action": {"terms": ["5d9dc9f8"], "actions": ["update"], "limit": 50},
}


@pytest.fixture
def store(tmp_path: Path):
    from auditctl.model import Event

    store = SQLiteStore(tmp_path / "plans.db", create=True)
    # One event, so the search index has a shard to plan with.
    store.append([Event.from_dict({"action": "create", "actor": {"type": "system", "id": "seed"}, "source": "system",
                                   "entity": {"type": "doc", "id": "seed"}})])
    yield store
    store.close()


def is_scan(step: str) -> bool:
    if step.startswith("SCAN events") and not step.startswith("SCAN events_search"):
        return True
    return "events_time (org=?)" in step


@pytest.mark.parametrize("name", sorted(HEADLINE))
def test_headline_filter_uses_an_index(store: SQLiteStore, name: str) -> None:
    plan = store.explain(build_query(**HEADLINE[name]))
    assert not [step for step in plan if is_scan(step)], f"{name}: {plan}"


def test_action_and_since_walks_the_action_index_in_order(store: SQLiteStore) -> None:
    plan = store.explain(build_query(actions=["delete"], since="7d", limit=50))
    assert any("events_action" in step and "timestamp>" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan  # newest first needs no sort


def test_free_text_uses_the_trigram_index(store: SQLiteStore) -> None:
    plan = " | ".join(store.explain(build_query(terms=["ann@exa"])))
    assert re.search(r"events_search_\d+ VIRTUAL TABLE", plan), plan


def test_the_plans_return_what_the_filters_mean(store: SQLiteStore) -> None:
    """Forcing indexes must not change results: compare with the in-memory matcher."""
    from datetime import UTC, datetime

    from auditctl.generate import generate
    from auditctl.model import Event
    from auditctl.query import matches

    events = [Event.from_dict(d) for d in generate(600, seed=7, now=datetime(2026, 11, 25, 12, tzinfo=UTC))]
    store.append(events)
    stored = list(store.query(build_query()))
    sample = stored[17]
    cases = [
        {"actions": ["delete"]},
        {"actions": ["delete", "create"], "source": ["api"]},
        {"actor": sample.actor.email or sample.actor.id or ""},
        {"actor": (sample.actor.email or sample.actor.id or "").upper()},
        {"entity_id": sample.entity.id or "none"},
        {"correlation_id": sample.context.correlation_id or "none"},
        {"changed": "status"},
        {"terms": [(sample.context.correlation_id or "abc")[:8]]},
        {"terms": ["GLOBEX"], "actions": ["update"]},
        {"entity_type": "part", "source": ["web"]},
    ]
    bulk = next(e for e in stored if e.entity_ids)
    cases.append({"entity_id": bulk.entity_ids[-1]})
    for case in cases:
        query = build_query(**case)
        got = [e.id for e in store.query(query)]
        want = [e.id for e in stored if matches(query, e)]
        assert got == want, case
        assert store.count(query) == len(want), case


def test_a_page_of_a_common_filter_walks_in_time_order(store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many matches and a limit: walk newest-first instead of sorting every match."""
    from datetime import UTC, datetime

    import auditctl.store.sqlite as sqlite_module
    from auditctl.generate import generate
    from auditctl.model import Event
    from auditctl.query import matches

    store.append([Event.from_dict(d) for d in generate(300, seed=9, now=datetime(2026, 11, 25, 12, tzinfo=UTC))])
    monkeypatch.setattr(sqlite_module, "LONG_LIST", 5)
    common = build_query(terms=["example"], limit=7)
    plan = " | ".join(store.explain(common))
    assert "events_time" in plan and "TEMP B-TREE" not in plan, plan
    rare = build_query(correlation_id="no-such-id", limit=7)
    assert "NOT INDEXED" not in " ".join(store.explain(rare)) and "events_time (org=?)" not in " ".join(store.explain(rare))
    everything = list(store.query(build_query()))
    for query in (common, build_query(changed="status", actions=["update"], limit=4), build_query(actor="api", limit=3)):
        want = [e.id for e in everything if matches(query, e)][: query.limit]
        assert [e.id for e in store.query(query)] == want


def test_a_common_term_is_tested_row_by_row_not_listed(store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Walking past a common term must not first build the list of every match."""
    import auditctl.store.sqlite as sqlite_module
    from auditctl.model import Event

    names = ["Jörg Ærø", "jörg ærø", "JÖRG ÆRØ", "Ann Example", "ann example"] * 4
    store.append([
        Event.from_dict({"action": "update", "actor": {"type": "user", "id": f"u{i}", "email": f"{n}@example.org"},
                         "source": "cli", "entity": {"type": "doc", "id": f"d{i}"},
                         "timestamp": f"2026-11-{10 + i:02d}T00:00:00Z"})
        for i, n in enumerate(names)
    ])
    monkeypatch.setattr(sqlite_module, "LONG_LIST", 2)
    ascii_term = build_query(terms=["ANN EX"], limit=3)
    plan = " | ".join(store.explain(ascii_term))
    assert "events_time" in plan and "events_search" not in plan and "LIST SUBQUERY" not in plan, plan
    # A non-ASCII term is tested with Unicode folding: it walks as well.
    plan = " | ".join(store.explain(build_query(terms=["JÖRG"], limit=3)))
    assert "events_time" in plan and "events_search" not in plan, plan
    for term in ("ANN EX", "jörg ærø", "ærø@", "JÖRG ÆRØ", "Ø@"):
        query = build_query(terms=[term], limit=5)
        got = [e.actor.email for e in store.query(query)]
        full = [e.actor.email for e in store.query(build_query(terms=[term]))]  # unpaged: the index's list
        assert got == full[:5] and len(got) == 5, (term, got, full)
        assert all(term.lower() in email.lower() for email in got)
