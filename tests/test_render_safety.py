"""Stored strings are untrusted: hostile text in every field must reach the terminal
escaped and visible, never as control sequences, bidi reordering or Rich markup."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from auditctl.cli.render import safe
from auditctl.model import Event
from auditctl.sanitize import has_unsafe, visible, visible_multiline

HOSTILE = [
    "\x1b[31mred\x1b[0m",
    "\x1b]8;;http://evil\x07link\x1b]8;;\x07",
    "c1\x9b2J",
    "cr\rOVERWRITE",
    "del\x7f",
    "bidi\u202eevil",
    "iso\u2066x\u2069",
    "[bold red]x[/]",
    "[link=http://e]y[/link]",
    "[/]",
    "[/foo]",
    "nl\nsecond line",
    ":warning:",
]
ALL = "".join(HOSTILE)  # 140-odd characters: fits every field but entity.type
SHORT = "\x1b[2J\x9b\r\u202e[/][b]\x7f\u2066"  # for fields limited to 128 characters
CID = "cid" + ALL
SGR = re.compile(r"\x1b\[[0-9;]*m")
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def hostile_event(seq: int, parent: str | None = None) -> dict[str, Any]:
    return {
        "id": f"01JD3Z6T8Q0N6YB1X5ZK1V3F{seq:02d}",
        "action": "update",
        "timestamp": f"2026-11-20T10:00:0{seq}Z",
        "actor": {"type": "user", "id": "u" + ALL, "email": "e" + ALL},
        "source": "api",
        "entity": {"type": "t" + SHORT, "id": "i" + ALL},
        "entity_ids": [ALL, "x" + ALL],
        "changes": [
            {"field": "f" + ALL, "old": "o" + ALL, "new": {"k" + SHORT: ["v" + ALL, 1, None]}},
            {"field": ALL, "old": ALL, "new": ALL},
            {"field": "created" + SHORT, "new": [ALL]},
        ],
        "context": {
            "ip": ALL,
            "user_agent": ALL,
            "correlation_id": CID,
            "reason": ALL,
            "api_key_id": ALL,
            "impersonator": ALL,
            "parent_id": parent or ALL,
            "x" + SHORT: ALL,
        },
        "metadata": {SHORT: ALL, "nested": {SHORT: [ALL, {"deep" + SHORT: ALL}]}},
    }


@pytest.fixture
def hostile_store(store_path: Path, tmp_path: Path) -> Path:
    from auditctl.store.sqlite import SQLiteStore

    first = hostile_event(1)
    first["context"]["parent_id"] = None  # the primary of the group
    second = hostile_event(2, parent=first["id"])
    with SQLiteStore(store_path, create=True) as store:
        store.append([Event.from_dict(first), Event.from_dict(second)])
    (tmp_path / "hostile.jsonl").write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    return store_path


def assert_safe(text: str, *, colour: bool) -> None:
    """Only auditctl's own SGR colour codes; no other escape, C0/C1 control, DEL, CR or bidi."""
    rest = SGR.sub("", text) if colour else text
    assert "\x1b" not in rest, repr(rest[max(rest.find("\x1b") - 40, 0) : rest.find("\x1b") + 40])
    bad = [c for c in rest if (unicodedata.category(c) == "Cc" and c != "\n") or c in BIDI]
    assert not bad, sorted(set(bad))


MODES = {
    "terminal": ({"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLORTERM": "truecolor"}, True),
    "terminal-no-color": ({"FORCE_COLOR": "1", "TERM": "xterm-256color", "NO_COLOR": "1"}, False),
    "piped": ({}, False),
}
COMMANDS = [
    ("search",),
    ("search", "--flat"),
    ("search", "red"),
    ("show", "1"),
    ("show", "2", "--full"),
    ("show", "--correlation", CID),
    ("filter", "--action", "update"),
]


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("width", ["80", "160"])
def test_hostile_strings_never_reach_the_terminal_raw(
    cli: Any, hostile_store: Path, tmp_path: Path, mode: str, width: str
) -> None:
    env, colour = MODES[mode]
    env = {**env, "COLUMNS": width}
    runs = [cli(*command, "--format", "table", env=env) for command in COMMANDS]
    runs.append(cli("filter", "--input", str(tmp_path / "hostile.jsonl"), "--format", "table", env=env, store=False))
    for result in runs:
        assert result.exit_code == 0, result.stderr
        assert_safe(result.stdout, colour=colour)
        assert_safe(result.stderr, colour=False)
        if colour:
            assert "\x1b[" in result.stdout  # auditctl's own colours are there
        else:
            assert "\x1b" not in result.stdout


def test_colour_is_the_only_difference_between_terminal_and_plain(cli: Any, hostile_store: Path) -> None:
    """Stripping auditctl's SGR codes from the coloured output gives exactly the plain
    output: every escape sequence on the terminal is styling, none came from the data."""
    for command in COMMANDS:
        coloured = cli(*command, "--format", "table", env={**MODES["terminal"][0], "COLUMNS": "120"}).stdout
        plain = cli(*command, "--format", "table", env={"COLUMNS": "120"}).stdout
        assert SGR.sub("", coloured) == plain, command
        assert "\x1b[31mred" not in coloured and "\x1b]8" not in coloured


def test_hostile_strings_are_shown_escaped_and_literal(cli: Any, hostile_store: Path) -> None:
    text = cli("show", "1", "--full", "--format", "table", env={"COLUMNS": "400"}).stdout
    for shown in (
        "\\x1b[31mred\\x1b[0m",
        "\\x1b]8;;http://evil\\x07link",
        "c1\\x9b2J",
        "cr\\rOVERWRITE",
        "del\\x7f",
        "bidi<U+202E>evil",
        "iso<U+2066>x<U+2069>",
        "[bold red]x[/]",
        "[link=http://e]y[/link]",
        "[/][/foo]",
        ":warning:",
    ):
        assert shown in text, shown
    # Every section of the detail view carried the hostile text and showed it.
    for title in ("event #1", "request context", "changes (3)", "entity ids (2)", "metadata", "related"):
        assert f"╭─ {title}" in text, title


def test_newlines_never_break_a_table_row(cli: Any, hostile_store: Path) -> None:
    for width in ("80", "160", "300"):
        lines = cli("search", "--flat", "--format", "table", env={"COLUMNS": width}).stdout.splitlines()
        # header, column heads, rule, two rows, "details: …"
        assert len(lines) == 6, lines
        assert lines[3].lstrip().startswith("2 ") and lines[4].lstrip().startswith("1 ")
        assert all(len(line) <= int(width) for line in lines)


def test_hostile_lookup_errors_are_escaped(cli: Any, hostile_store: Path) -> None:
    result = cli("show", "\x1b[31mnope\u202e", "--format", "table")
    assert result.exit_code == 66
    assert_safe(result.stderr, colour=False)
    assert "nope" in result.stderr


def test_hostile_filter_values_in_the_header_are_escaped(cli: Any, hostile_store: Path) -> None:
    result = cli(
        "search",
        "\x1b[2J[bold]",
        "--actor",
        "\u202eann",
        "--format",
        "table",
        env={"FORCE_COLOR": "1", "TERM": "xterm-256color"},
    )
    assert result.exit_code == 0, result.stderr
    assert_safe(result.stdout, colour=True)
    assert "search \\x1b[2J[bold]" in SGR.sub("", result.stdout)


def test_a_real_process_on_a_forced_terminal_and_piped(run: Any, hostile_store: Path) -> None:
    base = ["--store", str(hostile_store)]
    coloured = run(
        *base, "show", "2", "--format", "table", env={"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "120"}
    )
    assert coloured.returncode == 0, coloured.stderr
    assert_safe(coloured.stdout, colour=True)
    assert "\x1b[" in coloured.stdout
    piped = run(*base, "search", "--format", "table", env={"COLUMNS": "120"})
    assert piped.returncode == 0, piped.stderr
    assert "\x1b" not in piped.stdout
    assert_safe(piped.stdout, colour=False)


# --------------------------------------------------------------------------- sanitize


@pytest.mark.parametrize(
    "raw,shown",
    [
        ("\x1b[31m", "\\x1b[31m"),
        ("\x00\x07\x08\x0b\x0c\x1f", "\\x00\\x07\\x08\\x0b\\x0c\\x1f"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x7f\x80\x85\x9b\x9f", "\\x7f\\x80\\x85\\x9b\\x9f"),
        ("\u202a\u202b\u202c\u202d\u202e", "<U+202A><U+202B><U+202C><U+202D><U+202E>"),
        ("\u2066\u2067\u2068\u2069", "<U+2066><U+2067><U+2068><U+2069>"),
        ("\u200e\u200f\u061c", "<U+200E><U+200F><U+061C>"),
        ("zero\u200bwidth\ufeff", "zero<U+200B>width<U+FEFF>"),
        ("line\u2028para\u2029", "line<U+2028>para<U+2029>"),
        ("tag\U000e0041", "tag<U+E0041>"),
        ("soft\u00adhyphen", "soft\\xadhyphen"),
        ("[bold]x[/] café 日本 👍🏽", "[bold]x[/] café 日本 👍🏽"),
        ("", ""),
    ],
)
def test_visible_escapes_every_control_and_keeps_the_rest(raw: str, shown: str) -> None:
    assert visible(raw) == shown
    assert has_unsafe(raw) == (raw != shown)


def test_visible_multiline_keeps_only_newlines() -> None:
    assert visible_multiline("a\x1b\nb\r") == "a\\x1b\nb\\r"


def test_safe_builds_literal_text_and_cuts_long_values() -> None:
    text = safe("[bold red]x[/]" + "y" * 100, limit=20)
    assert text.plain == "[bold red]x[/]yyyyy…"
    assert not text.spans  # no markup was interpreted
    assert safe("[/foo]", limit=None).plain == "[/foo]"
