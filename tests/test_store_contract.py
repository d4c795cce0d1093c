"""The store contract: every test runs against every backend (conftest ``BACKENDS``).

What a command may rely on from any store, local or remote, grouped by behaviour.
Tests compare the fields they are about: a remote store also fills in who sent an
event (ip, user agent, token id), which a local one cannot know.
"""

from __future__ import annotations

import pytest

from auditctl.errors import ConflictError, NotFound
from auditctl.integrity import GENESIS
from auditctl.model import Event
from auditctl.query import Query, build_query
from tests.conftest import make_event


def ids(events) -> list[str]:
    return [e.id for e in events]


# --------------------------------------------------------------------------- append


class TestAppend:
    def test_assigns_store_fields_and_gap_free_seqs(self, store):
        results = store.append([make_event(), make_event(action="create", changes=[{"field": "a", "new": 1}])])
        assert [r.seq for r in results] == [1, 2]
        assert all(r.created for r in results)
        stored = store.get(results[1].id)
        assert stored.id == results[1].id and stored.seq == 2 and stored.org == "default"
        assert stored.recorded_at and stored.hash and stored.prev_hash == store.get(results[0].id).hash
        assert store.head().seq == 2

    def test_keeps_the_events_content(self, store):
        event = make_event(
            metadata={"region": "eu-west", "nested": {"list": [1, 2.5, None, True]}, "text": "naïve — 日本"},
            entity_ids=["p1", "p2"], context={"correlation_id": "c-1", "reason": "ticket #42"},
        )
        stored = store.get(store.append([event])[0].id)
        assert stored.metadata == event.metadata
        assert stored.entity_ids == ("p1", "p2")
        assert stored.changes == event.changes
        assert stored.timestamp == "2026-11-20T10:00:00.000000Z"
        assert stored.context.correlation_id == "c-1" and stored.context.reason == "ticket #42"

    def test_timestamp_defaults_to_now(self, store):
        event = Event.from_dict({"action": "login", "actor": {"type": "user", "id": "u1"}, "source": "web"})
        stored = store.get(store.append([event])[0].id)
        assert stored.timestamp and stored.timestamp.endswith("Z")

    def test_redacts_before_storage(self, store):
        event = make_event(changes=[{"field": "password", "old": "hunter2", "new": "hunter3"}],
                           metadata={"api_token": "s3cret", "url": "https://ann:pw@example.com/x"})
        stored = store.get(store.append([event])[0].id)
        assert stored.changes[0].old == "[REDACTED]" and stored.changes[0].new == "[REDACTED]"
        assert stored.metadata["api_token"] == "[REDACTED]"
        assert "pw@" not in stored.metadata["url"]

    def test_empty_batch_is_nothing(self, store):
        assert store.append([]) == []
        assert store.head().seq == 0


class TestIdempotency:
    def test_same_id_same_content_is_a_no_op(self, store):
        event = make_event(id="evt-same")
        first = store.append([event])[0]
        again = store.append([event])[0]
        assert (again.id, again.seq, again.created) == ("evt-same", first.seq, False)
        assert store.count(Query()) == 1

    def test_same_id_without_time_is_a_no_op(self, store):
        event = make_event(id="evt-untimed", timestamp=None)
        first = store.append([event])[0]
        assert store.append([event])[0].seq == first.seq
        assert store.count(Query()) == 1

    def test_same_id_other_content_is_a_conflict(self, store):
        store.append([make_event(id="evt-x")])
        with pytest.raises(ConflictError):
            store.append([make_event(id="evt-x", metadata={"changed": True})])

    def test_a_batch_is_all_or_nothing(self, store):
        store.append([make_event(id="evt-1")])
        with pytest.raises(ConflictError):
            store.append([make_event(id="evt-2"), make_event(id="evt-1", source="web")])
        with pytest.raises(NotFound):
            store.get("evt-2")
        assert store.head().seq == 1

    def test_repeated_id_inside_one_batch_is_stored_once(self, store):
        results = store.append([make_event(id="evt-twice"), make_event(id="evt-twice")])
        assert [r.created for r in results] == [True, False]
        assert results[0].seq == results[1].seq
        assert store.count(Query()) == 1


# --------------------------------------------------------------------------- get


class TestGet:
    def test_by_id_and_by_seq(self, store):
        results = store.append([make_event(), make_event(source="web")])
        assert store.get(results[1].id).source == "web"
        assert store.get("2").id == results[1].id
        assert store.get(str(results[0].seq)).id == results[0].id

    @pytest.mark.parametrize("key", ["nope", "999", "01JD3Z6T8Q0N6YB1X5ZK1V3F4W", "a/b", "%2e%2e"])
    def test_unknown_is_not_found(self, store, key):
        store.append([make_event()])
        with pytest.raises(NotFound):
            store.get(key)

    def test_odd_ids_round_trip(self, store):
        for odd in ("a/b", "weird:id?x=1#frag", "ünïcode-id"):
            store.append([make_event(id=odd)])
            assert store.get(odd).id == odd


# --------------------------------------------------------------------------- query


@pytest.fixture
def sample(store):
    """Six events with distinct values for every filter."""
    events = [
        make_event(id="e1", action="create", timestamp="2026-11-01T10:00:00Z", source="web",
                   actor={"type": "user", "id": "u1", "email": "Ann@Example.com"},
                   entity={"type": "part", "id": "p1"}, changes=[{"field": "status", "new": "draft"}]),
        make_event(id="e2", action="update", timestamp="2026-11-02T10:00:00Z", source="api",
                   actor={"type": "api_key", "id": "key_7"}, entity={"type": "part", "id": "p1"},
                   changes=[{"field": "status", "old": "draft", "new": "ready"}],
                   context={"correlation_id": "req-1", "reason": "ticket #42"}),
        make_event(id="e3", action="update", timestamp="2026-11-03T10:00:00Z", source="api",
                   actor={"type": "api_key", "id": "key_7"}, entity={"type": "order", "id": "o9"},
                   changes=[{"field": "price", "old": 1, "new": 2}],
                   context={"correlation_id": "req-1", "parent_id": "e2"}),
        make_event(id="e4", action="bulk_delete", timestamp="2026-11-04T10:00:00Z", source="system",
                   actor={"type": "system", "id": "janitor"}, entity={"type": "part"}, entity_ids=["p7", "p8"],
                   changes=[{"field": "status", "old": "ready"}]),
        make_event(id="e5", action="login", timestamp="2026-11-05T10:00:00Z", source="web",
                   actor={"type": "user", "id": "u2", "email": "bob@example.com"}, entity=None, changes=[]),
        make_event(id="e6", action="delete", timestamp="2026-11-06T10:00:00Z", source="cli",
                   actor={"type": "user", "id": "u1", "email": "Ann@Example.com"},
                   entity={"type": "order", "id": "o9"}, changes=[{"field": "price", "old": 2}]),
    ]
    store.append(events)
    return store


class TestQuery:
    def test_newest_first_and_reverse(self, sample):
        assert ids(sample.query(Query())) == ["e6", "e5", "e4", "e3", "e2", "e1"]
        assert ids(sample.query(Query(reverse=True))) == ["e1", "e2", "e3", "e4", "e5", "e6"]

    def test_limit(self, sample):
        assert ids(sample.query(Query(limit=2))) == ["e6", "e5"]
        assert ids(sample.query(Query(limit=2, reverse=True))) == ["e1", "e2"]

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({"actions": ["update"]}, ["e3", "e2"]),
            ({"actions": ["create", "delete"]}, ["e6", "e1"]),
            ({"entity_type": "order"}, ["e6", "e3"]),
            ({"entity_id": "p1"}, ["e2", "e1"]),
            ({"entity_id": "p8"}, ["e4"]),
            ({"source": ["web"]}, ["e5", "e1"]),
            ({"actor": "key_7"}, ["e3", "e2"]),
            ({"actor": "ann@example.com"}, ["e6", "e1"]),
            ({"actor_type": ["system", "api_key"]}, ["e4", "e3", "e2"]),
            ({"correlation_id": "req-1"}, ["e3", "e2"]),
            ({"changed": "price"}, ["e6", "e3"]),
            ({"since": "2026-11-03T10:00:00Z"}, ["e6", "e5", "e4", "e3"]),
            ({"until": "2026-11-03T10:00:00Z"}, ["e2", "e1"]),
            ({"since": "2026-11-02", "until": "2026-11-04"}, ["e3", "e2"]),
            ({"terms": ["ANN@"]}, ["e6", "e1"]),
            ({"terms": ["ticket", "#42"]}, ["e2"]),
            ({"terms": ["o9"], "actions": ["delete"]}, ["e6"]),
            ({"terms": ["no such thing"]}, []),
        ],
    )
    def test_filters(self, sample, filters, expected):
        query = build_query(**filters)
        assert ids(sample.query(query)) == expected
        assert sample.count(query) == len(expected)

    def test_count_ignores_limit(self, sample):
        assert sample.count(Query(limit=1)) == 6

    def test_query_json_is_the_export_form(self, sample):
        as_dicts = list(sample.query_json(Query(limit=3)))
        assert as_dicts == [e.to_dict() for e in sample.query(Query(limit=3))]
        assert as_dicts[0]["id"] == "e6" and as_dicts[0]["schema_version"] == 1

    def test_many_pages(self, store):
        # More than one server page (1000), so the remote store must follow cursors.
        store.append([make_event(timestamp=f"2026-11-20T10:{i // 60:02d}:{i % 60:02d}Z") for i in range(1205)])
        seqs = [e["seq"] for e in store.query_json(Query())]
        assert seqs == list(range(1205, 0, -1))
        assert [e.seq for e in store.query(Query(limit=1001, reverse=True))] == list(range(1, 1002))
        assert store.count(Query()) == 1205


class TestRelated:
    def test_group_oldest_first(self, sample):
        assert ids(sample.related("req-1")) == ["e2", "e3"]

    def test_unknown_group_is_empty(self, sample):
        assert sample.related("nope") == []


# --------------------------------------------------------------------------- chain


class TestChain:
    def test_empty_store(self, store):
        assert (store.head().seq, store.head().hash) == (0, GENESIS)
        report = store.verify()
        assert report.ok and report.checked == 0

    def test_verify_and_head(self, sample):
        report = sample.verify()
        assert report.ok and report.checked == 6
        assert (report.head_seq, report.head_hash) == (sample.head().seq, sample.head().hash)
        assert sample.head().seq == 6 and sample.head().hash == sample.get("e6").hash


class TestPurge:
    def test_dry_run_counts_and_changes_nothing(self, sample):
        result = sample.purge("2026-11-03T00:00:00.000000Z", dry_run=True)
        assert (result.count, result.dry_run) == (2, True)
        assert (result.oldest, result.newest) == ("2026-11-01T10:00:00.000000Z", "2026-11-02T10:00:00.000000Z")
        assert sample.count(Query()) == 6 and sample.head().seq == 6

    def test_purge_deletes_records_itself_and_verifies(self, sample):
        result = sample.purge("2026-11-03T00:00:00.000000Z", dry_run=False)
        assert (result.count, result.dry_run) == (2, False)
        assert ids(sample.query(Query(reverse=True)))[:4] == ["e3", "e4", "e5", "e6"]
        recorded = sample.get(result.event_id)
        assert recorded.action == "bulk_delete" and recorded.metadata["purged"] == 2
        assert sample.head().seq == 7
        report = sample.verify()
        assert report.ok and report.purged_through == 2

    def test_nothing_to_purge(self, sample):
        result = sample.purge("2026-10-01T00:00:00.000000Z", dry_run=False)
        assert result.count == 0 and result.event_id is None
        assert sample.head().seq == 6
