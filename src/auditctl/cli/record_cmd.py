"""``auditctl record``: one event from flags, ``--json``, or JSON/JSONL on stdin."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated, Any

import typer

from auditctl import jsonio
from auditctl.cli.app import app
from auditctl.cli.common import Format, command, get_globals, open_text_input
from auditctl.errors import UsageError, ValidationError
from auditctl.export import read_events
from auditctl.model import ACTOR_TYPES, Event
from auditctl.timeparse import parse_time_text

MAX_STDIN_EVENTS = 10_000


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (containers): still say who, as best we can
        return "unknown"


def self_actor() -> dict[str, Any]:
    """Who auditctl names when it records its own actions (import, export, purge)."""
    return {"type": "user", "id": current_user(), "email": None}


def parse_json_value(text: str) -> Any:
    """``5`` → 5, ``true`` → True, ``{"a":1}`` → dict; anything not JSON is a string."""
    stripped = text.strip()
    if stripped and (stripped[0] in '[{"-0123456789' or stripped in ("true", "false", "null")):
        try:
            return jsonio.loads(stripped)
        except ValidationError:
            return text
    return text


def parse_pair(raw: str, option: str) -> tuple[str, Any]:
    name, sep, value = raw.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"{option} expects FIELD=VALUE, got {raw!r}", hint=f"e.g. {option} status=ready")
    return name.strip(), parse_json_value(value)


def parse_actor(raw: str, email: str | None) -> dict[str, Any]:
    kind, sep, ident = raw.partition(":")
    if not sep:
        raise UsageError(f"--actor expects TYPE:ID, got {raw!r}", hint=f"TYPE is one of {', '.join(ACTOR_TYPES)}; e.g. --actor user:ann@example.com")
    kind = kind.strip().lower()
    actor: dict[str, Any] = {"type": kind, "id": ident or None, "email": email}
    if kind == "user" and ident and "@" in ident and not email:
        actor = {"type": kind, "id": None, "email": ident}
    return actor


def build_event(
    action: str, *, actor: str | None, email: str | None, entity: str | None, entity_ids: list[str],
    old: list[str], new: list[str], source: str, ip: str | None, user_agent: str | None,
    correlation_id: str | None, parent: str | None, reason: str | None, meta: list[str],
    at: str | None, event_id: str | None,
) -> dict[str, Any]:
    changes: dict[str, dict[str, Any]] = {}
    for raw in old:
        name, value = parse_pair(raw, "--old")
        changes.setdefault(name, {"field": name})["old"] = value
    for raw in new:
        name, value = parse_pair(raw, "--new")
        changes.setdefault(name, {"field": name})["new"] = value
    metadata: dict[str, Any] = {}
    for raw in meta:
        name, value = parse_pair(raw, "--meta")
        metadata[name] = value
    entity_type, _, entity_id = (entity or "").partition(":")
    data: dict[str, Any] = {
        "action": action,
        "actor": parse_actor(actor, email) if actor else {"type": "user", "id": current_user(), "email": email},
        "source": source,
        "entity": {"type": entity_type or None, "id": entity_id or None},
        "entity_ids": entity_ids,
        "changes": list(changes.values()),
        "context": {
            "ip": ip, "user_agent": user_agent, "correlation_id": correlation_id,
            "parent_id": parent, "reason": reason,
        },
        "metadata": metadata,
    }
    if at:
        data["timestamp"] = parse_time_text(at, option="--at")
    if event_id:
        data["id"] = event_id
    return data


def read_stdin_events() -> list[Event]:
    stream = open_text_input("-")
    events = []
    for line, data in read_events(stream, name="stdin"):
        try:
            events.append(Event.from_dict(data))
        except ValidationError as exc:
            raise ValidationError(f"stdin, line {line}: {exc.message}", exc.field, exc.hint) from None
        if len(events) > MAX_STDIN_EVENTS:
            raise UsageError(f"more than {MAX_STDIN_EVENTS} events on stdin", hint="use auditctl import - for bulk loads")
    if not events:
        raise UsageError("no event on stdin", hint="pipe one JSON object, or JSON lines")
    return events


@command(app, "record")
def record(
    action: Annotated[str | None, typer.Argument(help="create, update, delete, bulk_create, bulk_update, bulk_delete, login, logout, export, import, sensitive_access; or - to read JSON/JSONL from stdin.", show_default=False)] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Who: TYPE:ID, e.g. user:ann@example.com or api_key:key_12 (default user:$USER).", show_default=False)] = None,
    email: Annotated[str | None, typer.Option("--email", help="The actor's email.", show_default=False)] = None,
    entity: Annotated[str | None, typer.Option("--entity", help="What: TYPE:ID, e.g. part:p_7f3a.", show_default=False)] = None,
    entity_id: Annotated[list[str] | None, typer.Option("--entity-id", help="An affected id of a bulk action (repeat).", show_default=False)] = None,
    old: Annotated[list[str] | None, typer.Option("--old", help="Old value: FIELD=VALUE (repeat; VALUE may be JSON).", show_default=False)] = None,
    new: Annotated[list[str] | None, typer.Option("--new", help="New value: FIELD=VALUE (repeat; VALUE may be JSON).", show_default=False)] = None,
    source: Annotated[str, typer.Option("--source", help="web, api, webhook, scheduler, system or cli.")] = "cli",
    ip: Annotated[str | None, typer.Option("--ip", help="Client IP address.", show_default=False)] = None,
    user_agent: Annotated[str | None, typer.Option("--user-agent", help="Client user agent.", show_default=False)] = None,
    correlation_id: Annotated[str | None, typer.Option("--correlation-id", help="Groups the events of one request.", show_default=False)] = None,
    parent: Annotated[str | None, typer.Option("--parent", help="Id of the event that caused this one.", show_default=False)] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, e.g. a ticket number.", show_default=False)] = None,
    meta: Annotated[list[str] | None, typer.Option("--meta", help="Metadata KEY=VALUE (repeat).", show_default=False)] = None,
    at: Annotated[str | None, typer.Option("--at", help="When it happened (default now): 2026-11-25T10:00:00Z, 5m, …", show_default=False)] = None,
    event_id: Annotated[str | None, typer.Option("--id", help="Event id (recording the same id and content again is a no-op).", show_default=False)] = None,
    json_text: Annotated[str | None, typer.Option("--json", help="The whole event as a JSON object.", show_default=False)] = None,
) -> None:
    """Record one event.

    Example: auditctl record update --actor user:ann@example.com --entity part:p1 --old status=draft --new status=ready
    """
    g = get_globals()
    flag_values = [actor, email, entity, entity_id, old, new, ip, user_agent, correlation_id, parent, reason, meta, at, event_id]
    if json_text is not None or action == "-":
        if any(v not in (None, []) for v in flag_values) or source != "cli":
            raise UsageError("give the event either as flags or as JSON, not both")
        if json_text is not None and action not in (None, "-"):
            raise UsageError("with --json, the action goes inside the JSON object")
        if json_text is not None:
            events = [Event.from_dict(jsonio.loads(json_text, "--json"))]
        else:
            events = read_stdin_events()
    else:
        if not action:
            raise UsageError("missing ACTION", hint="e.g. auditctl record update --entity part:p1, or auditctl record - < events.jsonl")
        data = build_event(
            action, actor=actor, email=email, entity=entity, entity_ids=entity_id or [], old=old or [],
            new=new or [], source=source, ip=ip, user_agent=user_agent, correlation_id=correlation_id,
            parent=parent, reason=reason, meta=meta or [], at=at, event_id=event_id,
        )
        events = [Event.from_dict(data)]
    with g.open_store(create=True) as store:
        results = store.append(events)
        # Piped, record prints ids (scripts capture them); the event only when asked.
        fmt = g.format
        if fmt in (Format.json, Format.jsonl, Format.csv):
            from auditctl.export import writer_for

            stored = [store.get(r.id).to_dict() for r in results]
            if fmt == Format.json and len(stored) == 1:
                sys.stdout.write(jsonio.dumps_pretty(stored[0]) + "\n")
                return
            writer = writer_for(fmt.value, sys.stdout)  # type: ignore[union-attr]
            for item in stored:
                writer.write(item)
            writer.close()
            return
    for result in results:
        sys.stdout.write(result.id + "\n")
    unchanged = sum(1 for r in results if not r.created)
    if unchanged:
        sys.stderr.write(f"{unchanged} event(s) already recorded with the same content; nothing added\n")
