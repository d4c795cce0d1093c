"""Human output: the event table and the detail view (Rich, for people only).

Every stored string is untrusted: it goes through ``sanitize.visible`` and into a
``rich.text.Text`` (never parsed as markup), so only auditctl's own styles reach
the terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from auditctl import jsonio
from auditctl.model import MISSING, Event
from auditctl.redact import REDACTED
from auditctl.sanitize import visible, visible_multiline

ACTION_STYLES = {
    "create": "green",
    "bulk_create": "green",
    "update": "blue",
    "bulk_update": "blue",
    "delete": "red",
    "bulk_delete": "red",
    "login": "magenta",
    "logout": "magenta",
    "export": "yellow",
    "import": "yellow",
    "sensitive_access": "dark_orange",
}
SOURCE_STYLES = {
    "web": "cyan",
    "api": "bright_blue",
    "webhook": "bright_magenta",
    "scheduler": "bright_black",
    "system": "white",
    "cli": "bright_green",
}
MAX_CELL = 60


def safe(value: Any, style: str = "", limit: int | None = MAX_CELL) -> Text:
    """Untrusted value → Text with controls escaped and long values cut with …"""
    text = "" if value is None else str(value)
    text = visible(text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return Text(text, style=style)


def format_time(stamp: str | None, utc: bool) -> str:
    if not stamp:
        return ""
    moment = datetime.fromisoformat(stamp)
    if utc:
        return moment.strftime("%Y-%m-%d %H:%M:%S") + " UTC"
    local = moment.astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S %Z")


def change_summary(event: Event, limit: int = 40) -> Text:
    parts = []
    for change in event.changes[:3]:
        if change.old is not MISSING and change.new is not MISSING:
            parts.append(f"{change.field}: {_short(change.old)} → {_short(change.new)}")
        elif change.new is not MISSING:
            parts.append(f"+{change.field}={_short(change.new)}")
        else:
            parts.append(f"-{change.field}")
    if len(event.changes) > 3:
        parts.append(f"+{len(event.changes) - 3} more")
    if event.entity_ids:
        parts.append(f"{len(event.entity_ids)} ids")
    return safe("; ".join(parts), limit=limit)


def _short(value: Any) -> str:
    if isinstance(value, str):
        return value
    return jsonio.dumps(value)


def event_table(events: Iterable[Event], *, utc: bool, width: int, related_counts: dict[str, int] | None = None) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False, show_edge=False)
    narrow = width < 100
    table.add_column("time", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("actor", overflow="ellipsis", max_width=30)
    table.add_column("entity", overflow="ellipsis", max_width=30)
    if not narrow:
        table.add_column("source", no_wrap=True)
        table.add_column("changes", overflow="ellipsis", max_width=50)
    table.add_column("seq", justify="right", no_wrap=True)
    for event in events:
        actor = Text.assemble(safe(event.actor.label, limit=28), Text(f" ({event.actor.type})", style="dim")) if not narrow else safe(event.actor.label, limit=24)
        entity = safe(f"{event.entity.type or ''}:{event.entity.id or ''}".strip(":"), limit=28)
        action = Text(event.action, style=ACTION_STYLES.get(event.action, ""))
        related = (related_counts or {}).get(event.id or "", 0)
        if related:
            action.append(f" +{related} related", style="dim")
        row: list[Any] = [Text(format_time(event.timestamp, utc)), action, actor, entity]
        if not narrow:
            row += [Text(event.source, style=SOURCE_STYLES.get(event.source, "")), change_summary(event)]
        row.append(Text(str(event.seq or ""), style="dim"))
        table.add_row(*row)
    return table


def _value_text(value: Any, style: str, full: bool) -> Text:
    if value is MISSING:
        return Text("")
    if value == REDACTED:
        return Text(REDACTED, style="bold reverse " + style)
    if isinstance(value, str):
        return safe(value, style, limit=None if full else 200)
    pretty = jsonio.dumps_pretty(value)
    if not full and len(pretty) > 400:
        pretty = pretty[:399] + "…"
    return Text(visible_multiline(pretty), style=style)


def detail_view(event: Event, related: list[Event], *, utc: bool, full: bool) -> Group:
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column()
    header.add_row("action", Text(event.action, style="bold " + ACTION_STYLES.get(event.action, "")))
    header.add_row("time", Text(f"{format_time(event.timestamp, utc)}  ({event.timestamp})"))
    header.add_row("actor", Text.assemble(safe(event.actor.label, limit=None if full else 80), Text(f"  {event.actor.type}", style="dim")))
    if event.actor.email and event.actor.id:
        header.add_row("actor id", safe(event.actor.id))
    header.add_row("source", Text(event.source, style=SOURCE_STYLES.get(event.source, "")))
    header.add_row("entity", safe(f"{event.entity.type or ''} {event.entity.id or ''}".strip(), limit=None if full else 120))
    header.add_row("id", Text(f"{event.id}  seq {event.seq}", style="dim"))
    parts: list[Any] = [Panel(header, title="event", title_align="left")]

    ctx = event.context
    context_rows = [
        ("ip", ctx.ip),
        ("user agent", ctx.user_agent),
        ("api key", ctx.api_key_id),
        ("impersonator", ctx.impersonator),
        ("reason", ctx.reason),
        ("correlation", ctx.correlation_id),
        ("parent", ctx.parent_id),
    ] + [(k, v if isinstance(v, str) else jsonio.dumps(v)) for k, v in ctx.extra.items()]
    present = [(k, v) for k, v in context_rows if v is not None]
    if present:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        for key, value in present:
            grid.add_row(safe(key), safe(value, limit=None if full else 120))
        parts.append(Panel(grid, title="request context", title_align="left"))

    if event.changes:
        changes = Table(box=box.SIMPLE_HEAD, expand=False)
        changes.add_column("field", style="bold")
        show_old = any(c.old is not MISSING for c in event.changes)
        show_new = any(c.new is not MISSING for c in event.changes)
        if show_old:
            changes.add_column("old", style="red")
        if show_new:
            changes.add_column("new", style="green")
        for change in event.changes:
            row = [safe(change.field, limit=None)]
            if show_old:
                row.append(_value_text(change.old, "red", full))
            if show_new:
                row.append(_value_text(change.new, "green", full))
            changes.add_row(*row)
        parts.append(Panel(changes, title="changes", title_align="left"))

    if event.entity_ids:
        shown = event.entity_ids if full else event.entity_ids[:20]
        text = Text(", ".join(visible(i) for i in shown))
        if len(shown) < len(event.entity_ids):
            text.append(f"  … and {len(event.entity_ids) - len(shown)} more (--full)", style="dim")
        parts.append(Panel(text, title=f"entity ids ({len(event.entity_ids)})", title_align="left"))

    if event.metadata:
        pretty = jsonio.dumps_pretty(event.metadata)
        if not full and len(pretty) > 1500:
            pretty = pretty[:1499] + "…"
        parts.append(Panel(Text(visible_multiline(pretty)), title="metadata", title_align="left"))

    if len(related) > 1:
        parts.append(Panel(correlation_tree(related, highlight=event.id, utc=utc), title="related", title_align="left"))
    return Group(*parts)


def correlation_tree(events: list[Event], *, highlight: str | None, utc: bool) -> Any:
    from rich.tree import Tree

    by_id = {e.id: e for e in events}
    children: dict[str | None, list[Event]] = {}
    for event in events:
        parent = event.context.parent_id if event.context.parent_id in by_id else None
        children.setdefault(parent, []).append(event)
    roots = children.get(None, [])
    primary = roots[0] if roots else events[0]
    title = Text("correlation ")
    title.append(visible(primary.context.correlation_id or ""), style="bold")
    tree = Tree(title)

    def label(event: Event) -> Text:
        text = Text(format_time(event.timestamp, utc) + "  ", style="dim")
        text.append(event.action, style=ACTION_STYLES.get(event.action, ""))
        text.append("  ")
        text.append_text(safe(event.actor.label, limit=30))
        text.append("  ")
        text.append_text(safe(f"{event.entity.type or ''}:{event.entity.id or ''}".strip(":"), limit=40))
        text.append(f"  seq {event.seq}", style="dim")
        if event.id == highlight:
            text.append("  ◀", style="bold")
        return text

    def add(node: Any, event: Event, depth: int) -> None:
        branch = node.add(label(event))
        if depth < 50:
            for child in children.get(event.id, []):
                add(branch, child, depth + 1)

    for root in roots:
        add(tree, root, 0)
    return tree


def print_table(console: Console, events: list[Event], *, header: str, footer: str | None, utc: bool,
                related_counts: dict[str, int] | None = None) -> None:
    console.print(Text(header, style="bold"))
    if events:
        console.print(event_table(events, utc=utc, width=console.width, related_counts=related_counts))
    if footer:
        console.print(Text(footer, style="dim"))
