"""The Store interface's own defaults, for backends that only implement the basics."""

from __future__ import annotations

import io
import json

from auditctl.export import write_query
from auditctl.query import build_query
from auditctl.store.sqlite import SQLiteStore
from tests.conftest import make_event


class MinimalStore(SQLiteStore):
    """A backend that relies on the base class for query_json and query_lines."""

    query_json = SQLiteStore.__mro__[1].query_json  # type: ignore[assignment]
    query_lines = SQLiteStore.__mro__[1].query_lines  # type: ignore[assignment]


def test_default_query_lines_match_the_events(tmp_path):
    store = MinimalStore(tmp_path / "m.db", create=True)
    store.append([make_event(), make_event(action="delete", changes=[{"field": "a", "old": 1}])])
    lines = list(store.query_lines(build_query()))
    assert [json.loads(line)["action"] for line in lines] == ["delete", "update"]
    out = io.StringIO()
    assert write_query(store, build_query(), "csv", out) == 2
    assert out.getvalue().count("\r\n") == 3  # header and two rows
    store.close()
