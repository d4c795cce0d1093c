"""Bad and hostile input on BOTH stores: the local file and a running server.

Every case ends in a clear error (exit 2 / a 4xx JSON answer) or a faithful, harmless
rendering: never a traceback, never a 500, never a forged line, never a wildcard.
Store-level cases use the ``store`` fixture (sqlite and http); CLI cases run the real
command tree against a local file and against a server (``target``); raw HTTP cases
speak to the server as any client could.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from auditctl.cli.commands import app
from auditctl.errors import AuditError, UsageError, ValidationError
from auditctl.model import Event
from auditctl.query import build_query, matches
from tests.http_backend import make_token, mounted_app
from tests.test_render_safety import assert_safe

FORMULA = ("=", "+", "-", "@", "\t", "\r")
FORGED = "ok\nerror: fake line\r\nhint: fake hint"
HOSTILE = {
    "escapes": "\x1b[31mred\x1b[0m\x1b]8;;http://evil\x07x\x1b]8;;\x07\x9b2J\x7f",
    "markup": "[bold red]x[/][link=http://e]y[/link][/foo]:warning:",
    "crlf": FORGED,
    "bidi": "a\u202eb\u2066c\u2069\u200b",
}
# SQL, FTS5 and LIKE syntax: each must match only itself, literally.
INJECT = [
    "' OR 1=1 --", "'; DROP TABLE events; --", '"', '")) OR (("', "a OR b", "a AND NOT b", "NEAR(a b)", "NEAR(",
    "*", "a*", "^a", "col:val", "text:x", "{a b}", "-a", "+a", "%", "_", "a_b", "100%", "\\", "ab",
]
SEED_VALUES = [*INJECT, "aXb", "a b", "1001", "abc", "plain"]


def seed_events() -> list[Event]:
    events = []
    for n, value in enumerate(SEED_VALUES):
        events.append(Event.from_dict({
            "id": f"seed-{n:02d}", "action": "update", "timestamp": f"2026-11-20T10:{n:02d}:00Z", "source": "api",
            "actor": {"type": "user", "id": value, "email": f"u{n}@example.com"},
            "entity": {"type": value, "id": value}, "entity_ids": [value, f"other-{n}"],
            "changes": [{"field": value, "old": 1, "new": 2}],
            "context": {"correlation_id": value, "reason": "why " + value},
        }))
    return events


# --------------------------------------------------------------------------- store level


FILTERS = ["terms", "entity_type", "entity_id", "actor", "correlation_id", "changed"]


def test_injection_in_every_filter_matches_only_literally(store):
    seeds = seed_events()
    store.append(seeds)
    for name in FILTERS:
        for payload in INJECT:
            query = build_query(**{name: [payload] if name == "terms" else payload})
            expected = {e.id for e in seeds if matches(query, e)}
            got = {e.id for e in store.query(query)}
            assert got == expected, (name, payload)
            assert store.count(query) == len(expected)
            assert expected, (name, payload)  # every payload is somewhere: a match must be found
    # % and _ are not wildcards: they find only the values that hold them.
    by_term = {t: {e.entity.id for e in store.query(build_query(terms=[t]))} for t in ("%", "_", "a_b", "100%")}
    assert by_term == {"%": {"%", "100%"}, "_": {"_", "a_b"}, "a_b": {"a_b"}, "100%": {"100%"}}
    assert {e.entity.id for e in store.query(build_query(terms=["a OR b"]))} == {"a OR b"}
    assert store.verify().ok and store.head().seq == len(seeds)


def test_hostile_strings_are_stored_faithfully(store):
    events = [Event.from_dict({
        "id": f"h-{name}", "action": "update", "source": "api", "timestamp": "2026-11-20T10:00:00Z",
        "actor": {"type": "user", "id": value[:200], "email": value[:300]},
        "entity": {"type": value[:128], "id": value[:200]}, "entity_ids": [value],
        "changes": [{"field": value, "old": value, "new": {value: [value]}}],
        "context": {"ip": value, "user_agent": value, "reason": value, "correlation_id": value, value: value},
        "metadata": {value: value},
    }) for name, value in HOSTILE.items()]
    store.append(events)
    for event in events:
        stored = store.get(event.id)
        assert stored.content_dict() == {**event.content_dict(), "context": stored.context.to_dict()}
        assert {k: v for k, v in stored.context.to_dict().items() if k != "api_key_id"} == {
            k: v for k, v in event.context.to_dict().items() if k != "api_key_id"}


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"a": value}
    return value


BASE = {"action": "update", "actor": {"type": "user", "id": "u"}, "source": "api", "entity": {"type": "doc"}}
BAD_EVENTS = [
    ({"actor": {"type": "user", "id": "a\x00b"}}, "NUL"),
    ({"entity": {"type": "doc", "id": "x\x00"}}, "NUL"),
    ({"context": {"reason": "r\x00"}}, "NUL"),
    ({"changes": [{"field": "f\x00", "new": 1}]}, "NUL"),
    ({"metadata": {"k": "v\ud800"}}, "surrogate"),
    ({"context": {"reason": "x" * 70_000}}, "too long"),
    ({"metadata": {"big": "x" * 70_000}}, "too long"),
    ({"changes": [{"field": "f", "new": "x" * 70_000}]}, "too long"),
    ({"entity_ids": [f"e{i}" for i in range(10_001)]}, "more than"),
    ({"changes": [{"field": f"f{i}", "new": i} for i in range(1_001)]}, "more than"),
    ({"metadata": {"list": list(range(10)) + [_deep(40)]}}, "deeper"),
    ({"metadata": _deep(10_000)}, "deeper"),
    ({"timestamp": "0000-01-01T00:00:00Z"}, "timestamp"),
    ({"timestamp": "10000-01-01T00:00:00Z"}, "timestamp"),
    ({"timestamp": "+10000-01-01T00:00:00Z"}, "timestamp"),
    ({"timestamp": "0001-01-01T00:00:00+01:00"}, "out of range"),
    ({"timestamp": "9999-12-31T23:59:59-23:59"}, "out of range"),
    ({"timestamp": "1969-12-31T23:59:59Z"}, "out of range"),
    ({"timestamp": 1_700_000_000}, "timestamp"),
    ({"timestamp": "2026-02-30T00:00:00Z"}, "timestamp"),
    ({"id": "a b"}, "id"),
    ({"id": "x" * 200}, "id"),
]


def test_invalid_events_are_refused_before_any_store(store):
    for override, word in BAD_EVENTS:
        with pytest.raises(ValidationError) as caught:
            store.append([Event.from_dict({**BASE, **override})])
        assert word.lower() in caught.value.message.lower(), (override, caught.value.message)
        assert len(caught.value.message) < 300  # names the problem, does not echo a 70 KB value
    assert store.head().seq == 0


# --------------------------------------------------------------------------- raw HTTP


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Any]]:
    with mounted_app(tmp_path_factory.mktemp("bad") / "server.db") as (url, app):
        token = make_token(app)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30,
                          verify=False) as client:
            yield client, app


def _body(override: dict[str, Any]) -> bytes:
    return json.dumps({**BASE, **override}, ensure_ascii=True).encode()


RAW_POSTS: list[tuple[bytes, int, str]] = [
    *[(_body(o), 400, w) for o, w in BAD_EVENTS if w != "surrogate" and w != "deeper"],
    (_body({"metadata": {"k": "\ud800"}}).replace(b"\\ud800", b"\\udfff"), 400, "surrogate"),
    (b'{"metadata": ' + b'{"a":' * 10_000 + b"1" + b"}" * 10_001, 400, "nested"),
    (b"[" * 10_000 + b"]" * 10_000, 400, "nested"),
    (_body({"timestamp": "9999-12-31T23:59:59Z"}), 400, "future"),
    (_body({"recorded_at": "3000-01-01T00:00:00Z"}), 400, "future"),
    (_body({"metadata": {"x": 1e400}}).replace(b"Infinity", b"1e400"), 400, "finite"),
    (_body({}).replace(b'"api"', b'"api\\u0000"'), 400, "source"),
    (b'{"action": "update", "actor": {"type": "user", "id": "\xc3\x28"}}', 400, "utf-8"),
    (b"\x00" * 100, 400, "json"),
]


@pytest.mark.parametrize(("body", "status", "word"), RAW_POSTS, ids=[f"{i}-{w}" for i, (_, _, w) in enumerate(RAW_POSTS)])
def test_bad_bodies_are_4xx_json_and_store_nothing(server, body, status, word):
    client, _ = server
    response = client.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text[:300]
    answer = response.json()
    assert word.lower() in answer["error"].lower() and len(response.content) < 1000
    assert client.get("/v1/head").json()["seq"] == 0


RAW_GETS = [
    "/v1/events?limit=-1", "/v1/events?limit=" + "9" * 30, "/v1/events?limit=" + "9" * 5000,
    "/v1/events?limit=1.5", "/v1/events?limit=%20", "/v1/events?limit=0x10", "/v1/events?limit=%00",
    "/v1/count?limit=-1", "/v1/events?since=0000-01-01", "/v1/events?since=10000-01-01",
    "/v1/events?until=99999999999999", "/v1/events?since=-99999999999", "/v1/events?since=99999999999999999999d",
    "/v1/events?actor=%00", "/v1/events?changed=" + "x" * 2000, "/v1/events?action=%27%20OR%201%3D1",
    "/v1/events/%C2%B2", "/v1/events/%00", "/v1/events/" + "x" * 300, "/v1/correlations/" + "x" * 300,
]


@pytest.mark.parametrize("path", RAW_GETS, ids=[p[:48] for p in RAW_GETS])
def test_bad_queries_are_4xx_json(server, path):
    client, _ = server
    response = client.get(path)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.json()["error"] and "Traceback" not in response.text


@pytest.mark.parametrize("payload", INJECT)
def test_injection_in_every_query_parameter_is_harmless(server, payload):
    client, _ = server
    for name in ("q", "entity", "entity_id", "actor", "correlation_id", "changed"):
        response = client.get("/v1/events", params={name: payload})
        assert response.status_code == 200, response.text[:300]
        assert response.json()["events"] == []  # the store is empty: nothing may "match"


# --------------------------------------------------------------------------- CLI on both stores


class Target:
    """The real command tree against one store (a local file, or a server with a token)."""

    def __init__(self, kind: str, store: str, token: str | None = None) -> None:
        self.kind = kind
        self.base = ["--store", store] + (["--token", token] if token else [])
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | bytes | None = None) -> Any:
        result = self.runner.invoke(app, [*self.base, *args], input=input, catch_exceptions=False,
                                    env={"COLUMNS": "160"})
        assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr, result.stderr
        return result

    def ids(self, *args: str) -> set[str]:
        result = self("--format", "jsonl", *args)  # before the command: after "--" it would be a term
        assert result.exit_code == 0, result.stderr
        return {json.loads(line)["id"] for line in result.stdout.splitlines()}


@pytest.fixture(params=["local", "http"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "local":
        yield Target("local", str(tmp_path / "audit.db"))
        return
    with mounted_app(tmp_path / "server.db") as (url, server_app):
        yield Target("http", url, make_token(server_app))


def assert_one_error_line(stderr: str, *words: str) -> None:
    """An error is one ``error:`` line (and maybe one ``hint:``): nothing forged after it."""
    lines = stderr.splitlines()
    assert lines and lines[0].startswith("error: "), stderr
    assert len(lines) <= 2 and all(line.startswith(("error: ", "hint: ")) for line in lines), lines
    assert "fake" not in "".join(line for line in lines if not line.startswith("error: ")), lines
    for word in words:
        assert word in stderr, (word, stderr)


def test_crlf_cannot_forge_lines_in_tables_or_errors(target):
    recorded = target("record", "update", "--entity", "doc:x\nerror: fake line", "--reason", FORGED,
                      "--user-agent", FORGED, "--actor", "user:" + FORGED, "--new", "f\nerror: fake=1",
                      "--meta", "k=" + FORGED, "--correlation-id", FORGED)
    assert recorded.exit_code == 0, recorded.stderr
    for args in (["search"], ["search", "--flat", "fake"], ["show", "1"], ["show", "1", "--full"],
                 ["show", "--correlation", FORGED], ["search", "--actor", FORGED]):
        result = target(*args, "--format", "table")
        assert result.exit_code == 0, (args, result.stderr)
        lines = result.stdout.splitlines()
        assert not any(line.lstrip().startswith(("error:", "hint:")) for line in lines), args
        if args[:2] == ["show", "1"]:  # a value's escaped \n may continue on the next line, inside its box
            assert all(line.startswith(("╭", "│", "╰", "├", "└", " ")) or not line for line in lines), lines
        assert "ok\\nerror: fake line" in result.stdout or args[0] == "search"
        assert_safe(result.stdout, colour=False)
    for args, words in [
        (["show", FORGED], ["ok\\nerror: fake line"]),
        (["show", "--correlation", "nope\nerror: fake"], ["nope\\nerror: fake"]),
        (["record", "frob\nerror: fake", "--entity", "a:b"], ["unknown action"]),
        (["record", "update", "--entity", "a:b", "--actor", "robot\nerror: fake:x"], ["unknown actor.type"]),
        (["record", "update", "--entity", "a:b", "--source", "x\r\nerror: fake"], ["unknown source"]),
        (["search", "--since", "x\nerror: fake"], ["--since"]),
        (["search", "--action", "x\nerror: fake"], ["unknown action"]),
        (["record", "update", "--entity", "a:b", "--at", "\x1b[2Jerror: fake\n"], ["\\x1b[2J"]),
    ]:
        result = target(*args)
        assert result.exit_code in (2, 66), (args, result.stderr)
        assert_one_error_line(result.stderr, *words)
        assert_safe(result.stderr, colour=False)


def test_hostile_strings_render_harmlessly(target):
    for value in HOSTILE.values():
        recorded = target("record", "update", "--entity", "doc:" + value[:100], "--reason", value,
                          "--user-agent", value, "--meta", "k=" + value, "--new", "f=" + value, "--ip", value)
        assert recorded.exit_code == 0, recorded.stderr
    for args in (["search"], ["search", "--flat"], ["show", "1", "--full"], ["show", "3"], ["search", "[bold]"]):
        result = target(*args, "--format", "table")
        assert result.exit_code == 0, result.stderr
        assert_safe(result.stdout, colour=False)
    shown = target("show", "2", "--full", "--format", "table").stdout
    assert "[bold red]x[/][link=http://e]y[/link]" in shown  # markup shown, not interpreted


def test_csv_formula_injection_in_every_column(target, tmp_path):
    """Every column a user controls, starting with every formula character: each cell is
    defused with a leading ' (and a JSON column never starts with one)."""
    for n, char in enumerate(FORMULA + ("'",)):
        bad = char + "HYPERLINK(\"http://evil\",\"x\")"
        event = {
            "id": f"{char}evt{n}" if char.isprintable() else f"evt{n}", "action": "update", "source": "api",
            "timestamp": f"2026-11-20T10:00:0{n}Z",
            "actor": {"type": "user", "id": bad, "email": bad},
            "entity": {"type": bad[:100], "id": bad}, "entity_ids": [bad],
            "changes": [{"field": bad, "old": bad, "new": bad}],
            "context": {"ip": bad, "user_agent": bad, "correlation_id": bad, "reason": bad,
                        "impersonator": bad, "parent_id": bad, bad: bad},
            "metadata": {bad: bad},
        }
        recorded = target("record", "--json", json.dumps(event))
        assert recorded.exit_code == 0, recorded.stderr
    out = tmp_path / "out.csv"
    exported = target("export", "--format", "csv", "-o", str(out))
    assert exported.exit_code == 0, exported.stderr
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    header, body = rows[0], rows[1:]
    assert len(body) == len(FORMULA) + 1
    for row in body:
        for column, cell in zip(header, row, strict=True):
            assert not cell.startswith(FORMULA), (column, cell)
    guarded = {column for row in body for column, cell in zip(header, row, strict=True) if cell.startswith("'")}
    assert {"actor_id", "actor_email", "entity_type", "entity_id", "context_ip", "context_user_agent",
            "context_correlation_id", "context_reason", "context_impersonator", "context_parent_id"} <= guarded


def test_injection_and_wildcards_in_every_cli_filter(target, tmp_path):
    """Every payload as a search term, and each in turn through one of the filter options
    (the store-level test above crosses them all)."""
    seeds = seed_events()
    (tmp_path / "seeds.jsonl").write_text("".join(json.dumps(e.to_dict()) + "\n" for e in seeds))
    assert target("import", str(tmp_path / "seeds.jsonl")).exit_code == 0
    seeded = {e.id for e in seeds}  # (import records an event of its own too)
    options = [("entity_type", "--entity"), ("entity_id", "--entity-id"), ("actor", "--actor"),
               ("correlation_id", "--correlation-id"), ("changed", "--changed")]
    for n, payload in enumerate(INJECT):
        expected = {e.id for e in seeds if matches(build_query(terms=[payload]), e)}
        assert target.ids("search", "--", payload) & seeded == expected, payload
        name, option = options[n % len(options)]
        expected = {e.id for e in seeds if matches(build_query(**{name: payload}), e)}
        assert expected and target.ids("filter", f"{option}={payload}") & seeded == expected, (option, payload)
    by_value = {e.entity.id: e.id for e in seeds}
    assert target.ids("search", "%") & seeded == {by_value["%"], by_value["100%"]}
    assert target.ids("search", "_") & seeded == {by_value["_"], by_value["a_b"]}


BAD_LIMITS = ["0", "-1", "9" * 30, "9" * 5000, "ten", "1.5", " ", "0x10", "1e3", "%00"]


@pytest.mark.parametrize("command", ["search", "filter", "export"])
def test_bad_limits_are_usage_errors(target, command):
    assert target("record", "login", "--actor", "user:ann").exit_code == 0
    for limit in BAD_LIMITS:
        result = target(command, f"--limit={limit}", "--format", "jsonl")
        assert result.exit_code == 2, (limit, result.stdout[:200], result.stderr)
        assert_one_error_line(result.stderr, "--limit")
        assert result.stdout == ""


def test_bad_values_on_the_command_line_are_usage_errors(target, tmp_path):
    huge = "x" * 70_000
    bad_utf8 = tmp_path / "bad.jsonl"
    bad_utf8.write_bytes(b'{"action": "update", "actor": {"type": "user", "id": "\xff"}, "source": "cli",'
                         b' "entity": {"type": "a"}}\n')
    deep = json.dumps({**BASE, "metadata": {"k": 1}}).replace('{"k": 1}', '{"a":' * 10_000 + "1" + "}" * 10_000)
    cases: list[tuple[list[str], bytes | str | None, str]] = [
        (["record", "update", "--entity", "a:b\x00c"], None, "NUL"),
        (["record", "update", "--entity", "a:b", "--reason", "r\x00"], None, "NUL"),
        (["record", "update", "--entity", "a:b", "--reason", huge], None, "too long"),
        (["record", "update", "--entity", "a:b", "--meta", "k=" + huge], None, "too long"),
        (["record", "update", "--entity", "a:b", "--new", "f=" + huge], None, "too long"),
        (["record", "update", "--entity", "a:b", *(["--entity-id", "e"] * 10_001)], None, "more than"),
        (["record", "update", "--entity", "a:b", "--at", "0000-01-01T00:00:00Z"], None, "--at"),
        (["record", "update", "--entity", "a:b", "--at", "10000-01-01T00:00:00Z"], None, "10000"),
        (["record", "update", "--entity", "a:b", "--at", "-99999999999"], None, "--at"),
        (["record", "--json", deep], None, "nested"),
        (["record", "-"], deep, "nested"),
        (["record", "-"], b'{"action": "update", "actor": {"type": "user", "id": "\xc3\x28"}}', "UTF-8"),
        (["import", str(bad_utf8)], None, "UTF-8"),
        (["search", "--actor", "a\x00"], None, "--actor"),
        (["search", "--since", "0000-01-01"], None, "--since"),
        (["search", "--until", "99999999999999"], None, "--until"),
        (["search", "x" * 300], None, "too long"),
        (["show", "²"], None, "²"),
    ]
    for args, stdin, word in cases:
        result = target(*args, input=stdin)
        assert result.exit_code in (2, 66), (args[:4], result.stderr[:300])
        assert_one_error_line(result.stderr, word)
        assert len(result.stderr) < 1000
    assert target.ids("search") == set()  # nothing was stored
    far_future = target("record", "update", "--entity", "a:b", "--at", "9999-12-31T23:59:59Z")
    if target.kind == "http":  # the server refuses what is more than a day ahead of its clock
        assert far_future.exit_code == 2 and "future" in far_future.stderr
    else:  # a local file records what it is told (an import of another system's log)
        assert far_future.exit_code == 0, far_future.stderr


def test_errors_from_the_store_are_ours():
    """What the layers below raise is always an auditctl error (the CLI's catch point)."""
    for call in (lambda: build_query(limit="9" * 30), lambda: build_query(since="0000-01-01")):
        with pytest.raises(UsageError):
            call()
    assert issubclass(ValidationError, AuditError)
