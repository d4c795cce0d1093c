"""The HTTP API: tokens and permissions, organizations, limits, paging, who-did-it.

Each test gets a fresh server app over a fresh store (tests/http_backend.py) and
speaks raw HTTP to it with httpx, as any client would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditctl.model import format_time
from auditctl.server.limits import Limits
from auditctl.timeparse import now
from tests.http_backend import make_token, mounted_app

EVENT = {
    "action": "update",
    "actor": {"type": "user", "id": "u1"},
    "source": "api",
    "entity": {"type": "part", "id": "p1"},
    "changes": [{"field": "status", "old": "draft", "new": "ready"}],
    "timestamp": "2026-11-20T10:00:00Z",
}


def event(**overrides: Any) -> dict[str, Any]:
    return {**EVENT, **overrides}


@dataclass
class Server:
    url: str
    app: Any
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, who: str | None = "admin", **headers: str) -> httpx.Client:
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens.get(who, who)}"
        # verify=False: plain http, and loading the CA bundle would cost ~100 ms a client.
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, verify=False)

    def call(self, who: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.client(who) as client:
            return client.request(method, path, **kwargs)

    def events(self, org: str = "default") -> list[dict[str, Any]]:
        """Everything in an org, read straight from the store (no HTTP, no permissions)."""
        from auditctl.query import Query

        with self.app.state.auditctl.pool.acquire() as store:
            return list(store.for_org(org).query_json(Query(reverse=True)))

    def denials(self, org: str = "default") -> list[dict[str, Any]]:
        return [e for e in self.events(org) if e["action"] == "sensitive_access"]


def _server(tmp_path: Path, **options: Any) -> Iterator[Server]:
    with mounted_app(tmp_path / "server.db", **options) as (url, app):
        server = Server(url, app)
        for role in ("admin", "auditor", "writer"):
            server.tokens[role] = make_token(app, role, name=role)
        server.tokens["acme"] = make_token(app, "admin", org="acme", name="acme admin")
        yield server


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[Server]:
    yield from _server(tmp_path)


def assert_json_error(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) <= {"error", "code", "hint"} and body["error"] and body["code"]
    for word in words:
        assert word.lower() in body["error"].lower(), body
    for leak in ("Traceback", "sqlite", "SELECT", "File \""):
        assert leak not in response.text
    return body


# --------------------------------------------------------------------------- liveness


def test_healthz_needs_no_token(srv):
    response = srv.call(None, "GET", "/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert srv.denials() == []


def test_openapi_lists_the_v1_api(srv):
    paths = srv.call(None, "GET", "/openapi.json").json()["paths"]
    for path in ("/v1/events", "/v1/events/{id_or_seq}", "/v1/correlations/{cid}", "/v1/purge", "/v1/verify",
                 "/v1/head", "/healthz"):
        assert path in paths


# --------------------------------------------------------------------------- 401


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing token"),
        ("Bearer actl_not-a-real-token-at-all", "unknown token"),
        ("Bearer nonsense", "unknown token"),
        ("Basic YWxhZGRpbjpvcGVuc2VzYW1l", "missing token"),
    ],
)
def test_no_valid_token_is_401_and_recorded(srv, header, reason):
    headers = {"Authorization": header} if header else {}
    with httpx.Client(base_url=srv.url, headers=headers, verify=False) as client:
        response = client.get("/v1/events", headers={"User-Agent": "probe/1.0"})
    assert_json_error(response, 401, reason)
    assert response.headers["www-authenticate"] == "Bearer"
    [denied] = srv.denials("default")
    assert denied["metadata"]["outcome"] == "denied" and denied["metadata"]["status"] == 401
    assert denied["metadata"]["reason"] == reason
    assert denied["actor"] == {"type": "api_key", "id": "anonymous", "email": None}
    assert denied["context"]["ip"] == "127.0.0.1" and denied["context"]["user_agent"] == "probe/1.0"
    assert "actl_not" not in json.dumps(srv.events())  # a presented secret is never stored


def test_revoked_token_is_401_and_recorded_in_its_org(srv):
    from auditctl.store import tokens

    secret = make_token(srv.app, "admin", org="acme")
    assert srv.call(secret, "GET", "/v1/head").status_code == 200
    with srv.app.state.auditctl.pool.acquire() as store:
        info = tokens.lookup(store, secret)
        tokens.revoke_token(store, info.id, format_time(now()))
    assert_json_error(srv.call(secret, "GET", "/v1/head"), 401, "revoked")
    [denied] = srv.denials("acme")
    assert denied["metadata"]["reason"] == "revoked token"
    assert denied["context"]["api_key_id"] == info.id and denied["actor"]["id"] == info.id


def test_expired_token_is_401(srv):
    past = format_time(now().replace(year=now().year - 1))
    secret = make_token(srv.app, "admin", expires_at=past)
    assert_json_error(srv.call(secret, "GET", "/v1/events"), 401, "expired")
    assert srv.denials()[0]["metadata"]["reason"] == "expired token"
    future = format_time(now().replace(year=now().year + 1))
    assert srv.call(make_token(srv.app, "admin", expires_at=future), "GET", "/v1/events").status_code == 200


# --------------------------------------------------------------------------- 403


EXPORT_EVENT = event(action="export", entity={"type": "audit_log"}, changes=[])

PERMISSIONS = [
    # (method, path, body, {role: expected status})
    ("GET", "/v1/events", None, {"admin": 200, "auditor": 200, "writer": 403}),
    ("GET", "/v1/count", None, {"admin": 200, "auditor": 200, "writer": 403}),
    ("GET", "/v1/events/1", None, {"admin": 200, "auditor": 200, "writer": 403}),
    ("GET", "/v1/correlations/c1", None, {"admin": 200, "auditor": 200, "writer": 403}),
    ("GET", "/v1/head", None, {"admin": 200, "auditor": 200, "writer": 403}),
    ("GET", "/v1/verify", None, {"admin": 200, "auditor": 200, "writer": 403}),
    ("POST", "/v1/events", EVENT, {"admin": 201, "auditor": 403, "writer": 201}),
    ("POST", "/v1/events", EXPORT_EVENT, {"admin": 201, "auditor": 201, "writer": 201}),
    ("POST", "/v1/purge", {"older_than": "30d", "dry_run": True}, {"admin": 200, "auditor": 200, "writer": 403}),
    ("POST", "/v1/purge", {"older_than": "30d"}, {"admin": 200, "auditor": 403, "writer": 403}),
    ("GET", "/v1/tokens", None, {"admin": 200, "auditor": 403, "writer": 403}),
    ("POST", "/v1/tokens", {"role": "writer"}, {"admin": 201, "auditor": 403, "writer": 403}),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), PERMISSIONS,
                         ids=[f"{m} {p} {json.dumps(b)[:30]}" for m, p, b, _ in PERMISSIONS])
def test_permission_boundaries(srv, method, path, body, expected):
    srv.call("admin", "POST", "/v1/events", json=event())  # seq 1 exists
    for role, status in expected.items():
        before = len(srv.denials())
        response = srv.call(role, method, path, json=body)
        if status == 403:
            assert_json_error(response, 403, "lacks the permission")
            denied = srv.denials()[-1]
            assert len(srv.denials()) == before + 1
            assert denied["metadata"]["status"] == 403 and denied["metadata"]["outcome"] == "denied"
            assert denied["metadata"]["path"] == path and denied["context"]["api_key_id"].startswith("tok_")
        else:
            assert response.status_code == status, (role, response.text)


# --------------------------------------------------------------------------- organizations


def test_organizations_never_see_each_other(srv):
    posted = srv.call("admin", "POST", "/v1/events", json=[event(id="dflt-1", context={"correlation_id": "c1"}),
                                                           event(id="dflt-2")]).json()
    assert [r["seq"] for r in posted["results"]] == [1, 2]
    acme = srv.call("acme", "POST", "/v1/events", json=event(id="acme-1")).json()
    assert acme["results"][0]["seq"] == 1  # its own gap-free sequence

    assert [e["id"] for e in srv.call("acme", "GET", "/v1/events").json()["events"]] == ["acme-1"]
    assert srv.call("acme", "GET", "/v1/count").json() == {"count": 1}
    assert_json_error(srv.call("acme", "GET", "/v1/events/dflt-1"), 404)
    assert srv.call("acme", "GET", "/v1/events/2").status_code == 404
    assert srv.call("acme", "GET", "/v1/events/1").json()["id"] == "acme-1"
    assert srv.call("acme", "GET", "/v1/correlations/c1").json() == {"events": []}
    acme_head = srv.call("acme", "GET", "/v1/head").json()
    default_head = srv.call("admin", "GET", "/v1/head").json()
    assert acme_head["seq"] == 1 and default_head["seq"] == 2 and acme_head["hash"] != default_head["hash"]
    assert srv.call("acme", "GET", "/v1/verify").json()["checked"] == 1
    purge = srv.call("acme", "POST", "/v1/purge", json={"before": "2026-11-21T00:00:00Z", "dry_run": True}).json()
    assert purge["count"] == 1
    # Reusing another org's id is refused without showing its content.
    conflict = assert_json_error(srv.call("acme", "POST", "/v1/events", json=event(id="dflt-1")), 409)
    assert "u1" not in conflict["error"]
    # An org's token admin sees and revokes only its own tokens.
    listed = srv.call("acme", "GET", "/v1/tokens").json()["tokens"]
    assert {t["org"] for t in listed} == {"acme"}
    admin_id = next(t["id"] for t in srv.call("admin", "GET", "/v1/tokens").json()["tokens"] if t["name"] == "admin")
    assert srv.call("acme", "DELETE", f"/v1/tokens/{admin_id}").status_code == 404


# --------------------------------------------------------------------------- writing


def test_post_one_array_or_ndjson(srv):
    one = srv.call("admin", "POST", "/v1/events", json=event())
    assert one.status_code == 201 and one.json()["results"][0]["seq"] == 1
    many = srv.call("admin", "POST", "/v1/events", json=[event(), event(source="web")]).json()
    assert [r["seq"] for r in many["results"]] == [2, 3] and many["created"] == 2
    lines = "\n".join(json.dumps(event(id=f"nd-{i}")) for i in range(3)) + "\n"
    nd = srv.call("admin", "POST", "/v1/events", content=lines, headers={"Content-Type": "application/x-ndjson"})
    assert [(r["id"], r["seq"], r["created"]) for r in nd.json()["results"]] == [
        ("nd-0", 4, True), ("nd-1", 5, True), ("nd-2", 6, True)]
    again = srv.call("admin", "POST", "/v1/events", content=lines, headers={"Content-Type": "application/x-ndjson"})
    assert again.status_code == 200 and again.json()["created"] == 0


def test_who_did_it_is_filled_in(srv):
    with srv.client("writer", **{"User-Agent": "billing-service/2.1"}) as client:
        result = client.post("/v1/events", json=[event(id="w-1"), event(id="w-2", context={
            "ip": "203.0.113.22", "user_agent": "curl/8.11.0"})]).json()
    assert result["created"] == 2
    token_id = next(t["id"] for t in srv.call("admin", "GET", "/v1/tokens").json()["tokens"] if t["name"] == "writer")
    first, second = srv.call("admin", "GET", "/v1/events/w-1").json(), srv.call("admin", "GET", "/v1/events/w-2").json()
    assert first["context"]["ip"] == "127.0.0.1"
    assert first["context"]["user_agent"] == "billing-service/2.1"
    assert first["context"]["api_key_id"] == token_id and not token_id.startswith("actl_")
    assert (second["context"]["ip"], second["context"]["user_agent"]) == ("203.0.113.22", "curl/8.11.0")
    # A retry by the same token from elsewhere is still the same event, not a conflict.
    with srv.client("writer", **{"User-Agent": "other/1"}) as client:
        retry = client.post("/v1/events", json=event(id="w-1"))
    assert retry.status_code == 200 and retry.json()["results"][0] == {"id": "w-1", "seq": 1, "created": False}
    # The same id sent with another token claims another author: a conflict.
    assert srv.call("admin", "POST", "/v1/events", json=event(id="w-1")).status_code == 409


def test_api_key_id_is_always_the_token_used(srv):
    """A client cannot attribute its writes to another key: api_key_id is the server's to fill."""
    token_id = {t["name"]: t["id"] for t in srv.call("admin", "GET", "/v1/tokens").json()["tokens"]}
    forged = event(id="f-1", context={"api_key_id": token_id["admin"], "reason": "not me"})
    with srv.client("writer") as client:
        first = client.post("/v1/events", json=forged)
        retry = client.post("/v1/events", json=forged)
        plain = client.post("/v1/events", json=event(id="f-2", context={"api_key_id": None}))
    assert first.status_code == 201 and retry.status_code == 200 and plain.status_code == 201
    assert retry.json()["results"][0] == {"id": "f-1", "seq": 1, "created": False}
    for event_id in ("f-1", "f-2"):
        stored = srv.call("admin", "GET", f"/v1/events/{event_id}").json()
        assert stored["context"]["api_key_id"] == token_id["writer"]
    assert len(srv.events()) == 2


# --------------------------------------------------------------------------- limits and bad input


# Bad input never changes a store, so these tests share one server per module.
@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _server(tmp_path_factory.mktemp("small"), limits=Limits(max_body=4096, max_batch=3))


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _server(tmp_path_factory.mktemp("shared"))


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


BAD_POSTS = [
    (b'{"action": "update", "actor": ', "application/json", 400, "invalid json"),
    (b"\xff\xfe not utf-8", "application/json", 400, "utf-8"),
    (b'{"action": "update", "actor": {"type": "user", "id": "\xed\xa0\x80"}}', "application/json", 400, "utf-8"),
    (b'{"action": "update", "actor": {"type": "user", "id": "u"}, "source": "api", "entity": {"type": "p"},'
     + b' "metadata": {"x": "\\ud800"}}', "application/json", 400, "surrogate"),
    (json.dumps(event(action="teleport")).encode(), "application/json", 400, "action"),
    (json.dumps(event(color="red")).encode(), "application/json", 400, "color"),
    (json.dumps(event(metadata={"a": _deep(40)})).encode(),
     "application/json", 400, "deeper"),
    (b"[" * 1500 + b"]" * 1500, "application/json", 400, "nested"),
    (json.dumps(event(timestamp="2999-01-01T00:00:00Z")).encode(), "application/json", 400, "future"),
    (json.dumps(event(timestamp="yesterday-ish")).encode(), "application/json", 400, "timestamp"),
    (json.dumps(event(actor={"type": "user", "id": "x" * 100_000})).encode(), "application/json", 413, "limit"),
    (json.dumps([event()] * 4).encode(), "application/json", 413, "limit is 3"),
    ("\n".join([json.dumps(event())] * 4).encode(), "application/x-ndjson", 413, "more than 3"),
    (b"", "application/json", 400, "empty"),
    (b"[]", "application/json", 400, "empty"),
    (b"42", "application/json", 400, "object"),
    (b"action=update", "application/x-www-form-urlencoded", 400, "content type"),
    (json.dumps(event(seq="one")).encode(), "application/json", 400, "seq"),
]


@pytest.mark.parametrize(("body", "content_type", "status", "word"), BAD_POSTS,
                         ids=[f"{i}-{w}" for i, (_, _, _, w) in enumerate(BAD_POSTS)])
def test_bad_posts_are_4xx_json(small, body, content_type, status, word):
    response = small.call("admin", "POST", "/v1/events", content=body, headers={"Content-Type": content_type})
    assert_json_error(response, status, word)
    assert small.call("admin", "GET", "/v1/head").json()["seq"] == 0


def test_oversized_body_without_length_is_refused(small):
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    response = small.call("admin", "POST", "/v1/events", content=chunks(), headers={"Content-Type": "application/json"})
    assert_json_error(response, 413, "larger than the limit")


BAD_QUERIES = [
    ("/v1/events?limit=1001", "at most 1000"),
    ("/v1/events?limit=0", "at least 1"),
    ("/v1/events?limit=many", "limit"),
    ("/v1/events?since=last+tuesday", "last tuesday"),
    ("/v1/events?since=2026-11-05&until=2026-11-01", "before"),
    ("/v1/events?action=teleport", "teleport"),
    ("/v1/events?source=fax", "fax"),
    ("/v1/events?colour=red", "colour"),
    ("/v1/events?q=" + "x" * 300, "too long"),
    ("/v1/events?" + "&".join(f"q=t{i}" for i in range(17)), "too many"),
    ("/v1/events?cursor=!!!", "invalid cursor"),
    ("/v1/events?cursor=eyJ2IjoxfQ", "invalid cursor"),
    ("/v1/events?cursor=" + "A" * 600, "invalid cursor"),
    ("/v1/events?entity=%00", "entity"),
    ("/v1/count?since=%ff%fe", "since"),
    ("/v1/events/" + "9" * 300, "invalid"),
]


@pytest.mark.parametrize(("path", "word"), BAD_QUERIES, ids=[p[:40] for p, _ in BAD_QUERIES])
def test_bad_queries_are_400_json(shared, path, word):
    assert_json_error(shared.call("admin", "GET", path), 400, word)


@pytest.mark.parametrize(("body", "word"), [
    ({"older_than": "30d", "before": "2026-01-01"}, "not both"),
    ({"older_than": "1h"}, "less than a day"),
    ({"before": "2999-01-01"}, "future"),
    ({"older_than": "forever"}, "duration"),
    ({"older_than": 30}, "string"),
    ({"dry_run": "yes"}, "boolean"),
    ({"everything": True}, "everything"),
    ([1, 2], "object"),
])
def test_bad_purges_are_400_json(shared, body, word):
    assert_json_error(shared.call("admin", "POST", "/v1/purge", json=body), 400, word)


def test_unknown_routes_and_methods_are_json(shared):
    assert_json_error(shared.call("admin", "GET", "/v2/events"), 404)
    assert_json_error(shared.call("admin", "PUT", "/v1/head"), 405)


# --------------------------------------------------------------------------- paging


def test_cursors_page_through_everything_once(srv):
    srv.call("admin", "POST", "/v1/events", json=[event(timestamp=f"2026-11-20T10:00:0{i}Z") for i in range(7)])
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = srv.call("admin", "GET", "/v1/events", params=params)
        body = page.json()
        assert page.headers.get("x-next-cursor") == body["next_cursor"]
        seen += [e["seq"] for e in body["events"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1] and pages == 3
    # A cursor is bound to its query.
    first = srv.call("admin", "GET", "/v1/events", params={"limit": 3}).json()["next_cursor"]
    assert_json_error(srv.call("admin", "GET", "/v1/events", params={"limit": 3, "cursor": first, "source": "web"}),
                      400, "different query")
    assert_json_error(srv.call("admin", "GET", "/v1/events", params={"cursor": first, "reverse": "true"}), 400)


def test_default_page_is_50(srv):
    srv.call("admin", "POST", "/v1/events", json=[event() for _ in range(60)])
    body = srv.call("admin", "GET", "/v1/events").json()
    assert len(body["events"]) == 50 and body["next_cursor"]


def test_ndjson_stream(srv):
    srv.call("admin", "POST", "/v1/events", json=[event(source="web"), event(), event(source="web")])
    response = srv.call("admin", "GET", "/v1/events", params={"source": "web", "limit": 1},
                        headers={"Accept": "application/x-ndjson"})
    assert response.headers["content-type"].startswith("application/x-ndjson")
    [line] = response.text.splitlines()
    assert json.loads(line)["seq"] == 3
    rest = srv.call("admin", "GET", "/v1/events", params={"source": "web", "cursor": response.headers["x-next-cursor"]},
                    headers={"Accept": "application/x-ndjson"})
    assert [json.loads(x)["seq"] for x in rest.text.splitlines()] == [1] and "x-next-cursor" not in rest.headers


# --------------------------------------------------------------------------- tokens over HTTP and purge


def test_token_management_over_http(srv):
    made = srv.call("admin", "POST", "/v1/tokens", json={"role": "auditor", "name": "ci", "expires": "90d"})
    assert made.status_code == 201
    body = made.json()
    assert body["token"].startswith("actl_") and body["org"] == "default" and body["expires_at"]
    assert srv.call(body["token"], "GET", "/v1/head").status_code == 200
    listed = srv.call("admin", "GET", "/v1/tokens").json()["tokens"]
    assert all("token" not in t and "secret_hash" not in t for t in listed)
    assert srv.call("admin", "DELETE", f"/v1/tokens/{body['id']}").json()["status"] == "revoked"
    assert srv.call(body["token"], "GET", "/v1/head").status_code == 401


def test_purge_records_the_token_and_a_retry_reports_the_first_result(srv):
    srv.call("admin", "POST", "/v1/events", json=[event(), event(timestamp="2026-11-24T00:00:00Z")])
    request = {"json": {"before": "2026-11-21T00:00:00Z"}, "headers": {"Idempotency-Key": "k-1"}}
    first = srv.call("admin", "POST", "/v1/purge", **request).json()
    again = srv.call("admin", "POST", "/v1/purge", **request).json()
    assert first["count"] == 1 and again == first
    recorded = srv.call("admin", "GET", f"/v1/events/{first['event_id']}").json()
    assert recorded["action"] == "bulk_delete" and recorded["actor"]["type"] == "api_key"
    assert srv.call("admin", "GET", "/v1/verify").json()["ok"] is True


def test_scheduled_purge_removes_expired_events_in_every_org(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDITCTL_NOW", "2026-11-25T12:00:00Z")
    for server in _server(tmp_path, retention_days=30, purge_interval=0.05):
        old, new = event(timestamp="2026-09-01T00:00:00Z"), event(timestamp="2026-11-20T00:00:00Z")
        srv_state = server.app.state.auditctl
        server.call("admin", "POST", "/v1/events", json=[old, new])
        server.call("acme", "POST", "/v1/events", json=[old, new])
        srv_state.start_scheduler()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
            e["timestamp"] < "2026-10-01" for org in ("default", "acme") for e in server.events(org)
        ):
            time.sleep(0.02)
        srv_state.stop_scheduler()
        for org in ("default", "acme"):
            events = server.events(org)
            assert [e["timestamp"][:10] for e in events if e["action"] != "bulk_delete"] == ["2026-11-20"]
            [purge] = [e for e in events if e["action"] == "bulk_delete"]
            assert purge["actor"]["type"] == "scheduler" and purge["source"] == "scheduler"
        assert server.call("acme", "GET", "/v1/verify").json()["ok"] is True
