"""Fuzz the server from its own OpenAPI document: whatever a client sends, no 5xx.

Bounded (a few examples per operation) so it runs in seconds; raise
``FUZZ_EXAMPLES`` locally for a longer hunt.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.http_backend import make_token

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from auditctl.server import create_app

    app = create_app(tmp_path_factory.mktemp("fuzz") / "fuzz.db", purge_interval=0)
    TOKENS["admin"] = make_token(app, "admin")
    TOKENS["writer"] = make_token(app, "writer")
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    app.state.auditctl.close()


def test_no_server_errors(api_schema: Any) -> None:
    # schemathesis' pytest plugin is not used (it does not load under this pytest);
    # its strategies and checks are, one hypothesis run per operation.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            # Mostly an admin (to reach the handlers), sometimes a writer (to reach refusals).
            token = TOKENS["writer"] if hash(repr(case.query)) % 4 == 0 else TOKENS["admin"]
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error])

        run()
