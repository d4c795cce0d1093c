"""Human output: the event table, the detail view and correlation trees (Rich, for people only).

Every stored string is untrusted: it goes through ``sanitize.visible`` and into a
``rich.text.Text`` (never parsed as markup), so only auditctl's own styles reach
the terminal. A table row is always one line: cells never wrap, they are cut
with … and escaped newlines stay ``\\n``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from rich import box
from rich.console import Group, RenderableType
from rich.constrain import Constrain
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from auditctl import jsonio
from auditctl.model import MISSING, Event
from auditctl.redact import REDACTED
from auditctl.sanitize import visible, visible_multiline

# DESIGN §3: green create, blue update, red delete, purple login/logout, amber
# export/import, orange sensitive_access. 256-colour names, so every terminal
# shows the same hues (Rich maps them down on 16-colour terminals).
GREEN, BLUE, RED = "green3", "royal_blue1", "red1"
PURPLE, AMBER, ORANGE = "medium_purple1", "orange1", "dark_orange3"
ACTION_STYLES = {
    "create": GREEN,
    "bulk_create": GREEN,
    "update": BLUE,
    "bulk_update": BLUE,
    "delete": RED,
    "bulk_delete": RED,
    "login": PURPLE,
    "logout": PURPLE,
    "export": AMBER,
    "import": AMBER,
    "sensitive_access": "bold " + ORANGE,
}
SOURCE_STYLES = {
    "web": "cyan",
    "api": "sky_blue1",
    "webhook": "orchid",
    "scheduler": "wheat4",
    "system": "grey62",
    "cli": "spring_green3",
}
OLD_STYLE = RED
NEW_STYLE = GREEN
REDACTED_STYLE = "bold reverse"
RELATED_STYLE = "bold cyan"
MUTED = "dim"

MAX_CELL = 60  # characters of one value in the table before …
MAX_DETAIL = 200  # characters of one string value in the detail view before …
MAX_JSON_LINES = 12  # lines of a pretty-printed JSON value before …
MAX_IDS = 50  # entity ids listed before "… and N more"
MAX_TREE = 50  # related entries drawn in the detail view before "… and N more"
MAX_DEPTH = 20  # tree levels; deeper causes are drawn at this level
DETAIL_WIDTH = 120  # the detail view's width on wide terminals (without --full)


def action_style(action: str) -> str:
    return ACTION_STYLES.get(action, "")


def source_style(source: str) -> str:
    return SOURCE_STYLES.get(source, "")


# --------------------------------------------------------------------------- text


def safe(value: Any, style: str = "", limit: int | None = MAX_CELL) -> Text:
    """Untrusted value → one-line Text, controls escaped, long values cut with …"""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    text = visible(text)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    out = Text(text, style=style, no_wrap=True, overflow="ellipsis")
    _mark_redacted(out)
    return out


def _mark_redacted(text: Text) -> None:
    """Make ``[REDACTED]`` stand out wherever it appears (whole values and masked parts)."""
    if REDACTED in text.plain:
        text.highlight_words([REDACTED], style=REDACTED_STYLE)


def _inline(value: Any, limit: int) -> str:
    """A value on one line for a summary: strings bare, the rest as compact JSON."""
    if isinstance(value, str):
        text = value if value else '""'
    else:
        text = jsonio.dumps(value)
    text = visible(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- time


@dataclass(frozen=True)
class Clock:
    """How times are shown: local with the zone by default, or UTC (``--utc``)."""

    utc: bool = False

    def local(self, stamp: str) -> datetime:
        value = datetime.fromisoformat(stamp)
        return value if self.utc else value.astimezone()

    def zone(self, stamp: str) -> str:
        return "UTC" if self.utc else (self.local(stamp).tzname() or "")


def format_time(stamp: str | None, utc: bool) -> str:
    """``2026-11-24 11:00:00 CET`` (local) or ``2026-11-24 10:00:00 UTC``."""
    if not stamp:
        return ""
    clock = Clock(utc)
    return f"{clock.local(stamp):%Y-%m-%d %H:%M:%S} {clock.zone(stamp)}"


def _utc_offset(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _fraction(moment: datetime) -> str:
    return f".{moment.microsecond:06d}" if moment.microsecond else ""


def _delay(start: str, end: str) -> str:
    seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    if abs(seconds) < 60:
        return ""
    later = "later" if seconds > 0 else "earlier"
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            whole = int(seconds // size)
            rest = int((seconds - whole * size) // {"d": 3600, "h": 60, "m": 1}[unit])
            sub = {"d": "h", "h": "m", "m": "s"}[unit]
            return f"{whole}{unit}{f' {rest}{sub}' if rest else ''} {later}"
    return ""  # pragma: no cover


# --------------------------------------------------------------------------- summaries


def actor_label(event: Event) -> str:
    return event.actor.email or event.actor.id or ""


def entity_label(event: Event) -> str:
    kind, ident = event.entity.type or "", event.entity.id or ""
    return f"{kind}:{ident}" if kind and ident else kind or ident


def change_summary(event: Event, limit: int = 200, compact: bool = False, value_limit: int = 24) -> Text:
    """What changed, on one line: ``status: draft → ready · spec: {…} → {…}``.

    create shows ``field=new``, delete ``field=old``; with no changes, the reason and
    metadata say what happened (dim). ``compact`` (a narrow column) names only the
    fields when there are several: ``status, spec``.
    """
    out = Text(no_wrap=True, overflow="ellipsis")
    if compact and len(event.changes) > 1:
        out.append(", ".join(visible(c.field)[:24] for c in event.changes[:8]))
        if len(event.changes) > 8:
            out.append(f" +{len(event.changes) - 8}", style=MUTED)
        _mark_redacted(out)
        return out
    for index, change in enumerate(event.changes[:4]):
        if index:
            out.append(" · ", style=MUTED)
        out.append(visible(change.field)[:32])
        if change.old is not MISSING and change.new is not MISSING:
            out.append(": ")
            out.append(_inline(change.old, value_limit), style=OLD_STYLE)
            out.append(" → ", style=MUTED)
            out.append(_inline(change.new, value_limit), style=NEW_STYLE)
        elif change.new is not MISSING:
            out.append("=")
            out.append(_inline(change.new, value_limit + 8), style=NEW_STYLE)
        elif change.old is not MISSING:
            out.append("=")
            out.append(_inline(change.old, value_limit + 8), style=OLD_STYLE)
    if len(event.changes) > 4:
        out.append(f" · +{len(event.changes) - 4} more", style=MUTED)
    if not event.changes:
        notes = []
        if event.context.reason:
            notes.append(f"“{_inline(event.context.reason, 48)}”")
        if event.action in ("login", "logout") and event.context.ip:
            notes.append(f"from {_inline(event.context.ip, 46)}")
        for key, value in list(event.metadata.items())[:3]:
            notes.append(f"{_inline(key, 24)}={_inline(value, 24)}")
        out.append(" · ".join(notes), style=MUTED)
    if len(out) > limit:
        out.truncate(limit - 1)
        out.append("…")
    _mark_redacted(out)
    return out


# --------------------------------------------------------------------------- the table


@dataclass
class _Column:
    key: str
    header: str
    natural: int
    minimum: int
    justify: Literal["left", "right"] = "left"
    flexible: bool = False
    cap: int = 0


GAP = 2  # characters between two columns (padding (0, 1) plus the blank divider)


class TableLayout:
    """Which columns to show and how wide, for one width; never more than ``width``.

    Less important things go first as the terminal narrows: the actor's type, the
    year, the seconds, the source column, and finally the summary column. Actor,
    entity and summary share what is left, each cut with … rather than wrapped.
    """

    STEPS = ("actor_type", "year", "seconds", "source", "summary")

    def __init__(
        self, events: Sequence[Event], *, width: int, utc: bool, related: dict[str, int], now_year: int | None = None
    ) -> None:
        self.events = events
        self.width = max(width, 20)
        self.clock = Clock(utc)
        self.related = related
        zones = {self.clock.zone(e.timestamp) for e in events if e.timestamp}
        self.zone = zones.pop() if len(zones) == 1 else None  # one zone → in the header
        years = {self.clock.local(e.timestamp).year for e in events if e.timestamp}
        this_year = now_year if now_year is not None else _now_year(utc)
        self.can_drop_year = years <= {this_year}
        self.show_seq = any(e.seq is not None for e in events)
        self.show = dict.fromkeys(self.STEPS, True)
        self.widths: dict[str, int] = {}
        self.columns = self._fit()
        self.widths = {c.key: c.natural for c in self.columns}

    # ---------------------------------------------------------------- cells

    def time_cell(self, event: Event) -> Text:
        if not event.timestamp:
            return Text("")
        moment = self.clock.local(event.timestamp)
        pattern = ("%Y-" if self.show["year"] else "") + "%m-%d %H:%M" + (":%S" if self.show["seconds"] else "")
        text = moment.strftime(pattern)
        if self.zone is None:
            text += " " + self.clock.zone(event.timestamp)
        return Text(text, no_wrap=True)

    def action_cell(self, event: Event) -> Text:
        text = Text(event.action, style=action_style(event.action), no_wrap=True, overflow="ellipsis")
        count = self.related.get(event.id or "", 0)
        if count:
            text.append(f" +{count} related", style=RELATED_STYLE)
        return text

    def actor_cell(self, event: Event) -> Text:
        text = safe(actor_label(event), limit=80)
        if self.show["actor_type"]:
            text.append(f" ({event.actor.type})", style=MUTED)
        return text

    def entity_cell(self, event: Event) -> Text:
        label = entity_label(event)
        text = safe(label, limit=80) if label else Text("—", style=MUTED)
        if event.entity_ids:
            count = len(event.entity_ids)
            text.append(f" ({count} id{'s' if count != 1 else ''})", style=MUTED)
        text.no_wrap, text.overflow = True, "ellipsis"
        return text

    def summary_cell(self, event: Event, width: int | None = None) -> Text:
        # Values get a third of a wide column (so two or three changes still show).
        values = 60 if width is None else max(16, min(60, width // 3))
        return change_summary(event, compact=width is not None and width < 28, value_limit=values)

    def cells(self, event: Event) -> list[Text]:
        by_key = {
            "seq": lambda: Text("" if event.seq is None else str(event.seq), style=MUTED, no_wrap=True),
            "time": lambda: self.time_cell(event),
            "action": lambda: self.action_cell(event),
            "actor": lambda: self.actor_cell(event),
            "entity": lambda: self.entity_cell(event),
            "source": lambda: Text(visible(event.source), style=source_style(event.source), no_wrap=True),
            "summary": lambda: self.summary_cell(event, self.widths.get("summary")),
        }
        return [by_key[column.key]() for column in self.columns]

    # ---------------------------------------------------------------- fitting

    def _candidates(self) -> list[_Column]:
        def natural(render: Any, header: str) -> int:
            return max([len(header)] + [render(e).cell_len for e in self.events])

        cols: list[_Column] = []
        if self.show_seq:
            cols.append(_Column("seq", "seq", natural(lambda e: Text(str(e.seq or "")), "seq"), 3, "right"))
        time_header = "time" + (f" ({visible(self.zone)})" if self.zone else "")
        cols.append(_Column("time", time_header, natural(self.time_cell, time_header), 5))
        cols.append(_Column("action", "action", natural(self.action_cell, "action"), 6))
        cols.append(_Column("actor", "actor", natural(self.actor_cell, "actor"), 10, flexible=True, cap=48))
        cols.append(_Column("entity", "entity", natural(self.entity_cell, "entity"), 10, flexible=True, cap=48))
        if self.show["source"]:
            cols.append(_Column("source", "source", natural(lambda e: Text(e.source), "source"), 6))
        if self.show["summary"]:
            cols.append(
                _Column(
                    "summary", "what changed", natural(self.summary_cell, "what changed"), 16, flexible=True, cap=160
                )
            )
        return cols

    def _needed(self, cols: list[_Column], comfortable: bool) -> int:
        """Width the columns need: ``comfortable`` lets actor and entity show whole
        (up to ``COMFORT``) beside a useful summary; otherwise the bare minimums."""
        fixed = sum(c.natural for c in cols if not c.flexible)
        flexible = sum(
            min(c.natural, max(c.minimum, self.COMFORT if comfortable and c.key != "summary" else 0))
            for c in cols
            if c.flexible
        )
        return fixed + flexible + GAP * (len(cols) - 1)

    COMFORT = 32

    def _fit(self) -> list[_Column]:
        cols = self._candidates()
        for step in self.STEPS:
            # Details go while actor and entity would be cut; the summary only when
            # even the minimums do not fit.
            if self._needed(cols, comfortable=step != "summary") <= self.width:
                break
            if step == "year" and not self.can_drop_year:
                continue
            self.show[step] = False
            cols = self._candidates()
        widths = {c.key: (c.natural if not c.flexible else min(c.natural, c.minimum)) for c in cols}
        spare = self.width - sum(widths.values()) - GAP * (len(cols) - 1)
        if spare < 0:
            # Too narrow for even the minimums: shrink the widest columns; cells get … .
            while spare < 0 and max(widths.values()) > 1:
                widest = max(widths, key=lambda k: widths[k])
                widths[widest] -= 1
                spare += 1
        else:
            # Share what is left, growing the narrowest column that still wants more:
            # first actor and entity up to a comfortable width, then everyone.
            flexible = [c for c in cols if c.flexible]
            for phase in ("comfort", "cap"):
                while spare > 0:
                    wanting = [
                        c
                        for c in flexible
                        if widths[c.key]
                        < min(c.natural, c.cap if phase == "cap" or c.key == "summary" else self.COMFORT)
                        and (phase == "cap" or c.key != "summary")
                    ]
                    if not wanting:
                        break
                    narrowest = min(wanting, key=lambda c: widths[c.key])
                    widths[narrowest.key] += 1
                    spare -= 1
        for column in cols:
            column.natural = widths[column.key]
        return cols

    def table(self) -> Table:
        table = Table(
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            padding=(0, 1, 0, 0),
            header_style="bold",
            expand=False,
        )
        for column in self.columns:
            table.add_column(
                column.header,
                width=column.natural,
                min_width=column.natural,
                max_width=column.natural,
                no_wrap=True,
                overflow="ellipsis",
                justify=column.justify,
            )
        for event in self.events:
            table.add_row(*self.cells(event))
        return table


def _now_year(utc: bool) -> int:
    from auditctl.timeparse import now

    moment = now()
    return (moment if utc else moment.astimezone()).year


def event_table(
    events: Sequence[Event],
    *,
    utc: bool,
    width: int,
    related_counts: dict[str, int] | None = None,
    now_year: int | None = None,
) -> Table:
    return TableLayout(events, width=width, utc=utc, related=related_counts or {}, now_year=now_year).table()


def table_header(filters: Sequence[str], matched: int, rows: int, folded: int) -> Text:
    """``12 events matched · 3 filters: action=delete · since 7d · source=api``.

    The count comes first so a long filter list wraps after it, not through it.
    """
    out = Text()
    out.append(f"{matched:,} event{'s' if matched != 1 else ''} matched", style="bold")
    out.append(" · ", style=MUTED)
    if filters:
        out.append(f"{len(filters)} filter{'s' if len(filters) != 1 else ''}", style="bold reverse")
        out.append(": ")
        for index, item in enumerate(filters):
            if index:
                out.append(" · ", style=MUTED)
            out.append(visible(item)[:120], style="bold")
    else:
        out.append("no filters", style=MUTED)
    return out


def table_footer(
    *, shown: int, matched: int, limit: int | None, reverse: bool, folded: int, any_seq: bool
) -> list[Text]:
    lines: list[Text] = []
    if matched > shown:
        which = "oldest" if reverse else "newest"
        more = f"{min(max((limit or shown) * 4, 200), 10_000)}"
        lines.append(
            Text(
                f"showing the {which} {shown:,} of {matched:,} · --limit {more} for more · --format jsonl for all",
                style=MUTED,
            )
        )
    if folded:
        lines.append(
            Text(
                f"{folded:,} related entr{'ies' if folded != 1 else 'y'} folded in (+N related); --flat lists all",
                style=MUTED,
            )
        )
    if shown == 0:
        lines.append(Text("no events match; widen the filters (e.g. a longer --since)", style=MUTED))
    elif any_seq:
        lines.append(Text("details: auditctl show SEQ", style=MUTED))
    return lines


def print_table(
    console: Any,
    events: list[Event],
    *,
    header: Text,
    footer: Iterable[Text],
    utc: bool,
    related_counts: dict[str, int] | None = None,
) -> None:
    console.print(header)
    if events:
        console.print(event_table(events, utc=utc, width=console.width, related_counts=related_counts))
    for line in footer:
        console.print(line)


# --------------------------------------------------------------------------- detail view


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def _panel(body: RenderableType, title: str | Text) -> Panel:
    heading = title if isinstance(title, Text) else Text(title, style="bold")
    return Panel(body, title=heading, title_align="left", border_style=MUTED, padding=(0, 1))


def value_text(value: Any, style: str, full: bool, level: int = 0) -> Text:
    """One old/new value for the changes table: strings as they are (escaped),
    other JSON pretty-printed (``level`` 1 keeps a short object on one line);
    long ones cut unless ``full``."""
    if value is MISSING:
        return Text("—", style=MUTED)
    if value is None:
        return Text("null", style="italic " + MUTED)
    if value == REDACTED:
        return Text(REDACTED, style=REDACTED_STYLE + " " + style)
    if isinstance(value, str):
        if value == "":
            return Text('""', style=MUTED)
        out = _multiline(value, style, full)
    elif isinstance(value, dict | list) and value:
        pretty = pretty_json(value, level)
        lines = pretty.split("\n")
        cut = not full and len(lines) > MAX_JSON_LINES
        out = Text(visible_multiline("\n".join(lines[:MAX_JSON_LINES] if cut else lines)), style=style)
        if cut:
            out.append(f"\n… {len(lines) - MAX_JSON_LINES} more lines (--full)", style=MUTED)
    else:
        out = Text(jsonio.dumps(value), style=style)
    _mark_redacted(out)
    return out


def pretty_json(value: Any, level: int = 0, width: int = 60) -> str:
    """Indented JSON where nested containers that fit in ``width`` stay on one line:
    ``{"tags": ["a", "b"]}`` reads better as one line than as four."""
    flat = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if not isinstance(value, dict | list) or not value or (level and len(flat) + 2 * level <= width):
        return flat
    pad, end = "  " * (level + 1), "  " * level
    if isinstance(value, dict):
        items = [
            f"{pad}{json.dumps(k, ensure_ascii=False)}: {pretty_json(v, level + 1, width)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    items = [pad + pretty_json(v, level + 1, width) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + end + "]"


def _multiline(value: str, style: str, full: bool) -> Text:
    """A string value: a newline shows as ``\\n`` and breaks the line *inside* the cell."""
    cut = not full and len(value) > MAX_DETAIL
    shown = value[: MAX_DETAIL - 1] if cut else value
    out = Text(style=style)
    parts = shown.split("\n")
    for index, part in enumerate(parts):
        out.append(visible(part))
        if index < len(parts) - 1:
            out.append("\\n", style=MUTED)
            out.append("\n")
    if cut:
        out.append(f"… (+{len(value) - len(shown):,} chars, --full)", style=MUTED)
    return out


def _field_value(value: Any, full: bool) -> Text:
    """A context or metadata value: strings escaped, other JSON pretty."""
    if value is None:
        return Text("null", style="italic " + MUTED)
    return value_text(value, "", full, level=1)


def detail_view(event: Event, related: list[Event], *, utc: bool, full: bool) -> Group:
    clock = Clock(utc)
    limit = None if full else MAX_DETAIL
    parts: list[RenderableType] = []

    header = _grid()
    header.add_row("action", Text(event.action, style="bold " + action_style(event.action)))
    if event.timestamp:
        header.add_row("time", _time_text(event.timestamp, clock))
    if event.recorded_at:
        recorded = _time_text(event.recorded_at, clock, beside=False)
        delay = _delay(event.timestamp, event.recorded_at) if event.timestamp else ""
        if delay:
            recorded.append(f"  ({delay})", style=MUTED)
        header.add_row("recorded", recorded)
    actor = safe(actor_label(event), limit=limit)
    actor.append(f"  ({event.actor.type})", style=MUTED)
    if event.actor.email and event.actor.id:
        actor.append("  id ", style=MUTED)
        actor.append_text(safe(event.actor.id, limit=limit))
    header.add_row("actor", actor)
    header.add_row("source", Text(visible(event.source), style=source_style(event.source)))
    entity = entity_label(event)
    entity_text = safe(entity, limit=limit) if entity else Text("—", style=MUTED)
    if event.entity_ids:
        entity_text.append(f"  ({len(event.entity_ids)} ids, listed below)", style=MUTED)
    header.add_row("entity", entity_text)
    ident = Text()
    if event.seq is not None:
        ident.append(f"seq {event.seq}  ")
    ident.append_text(safe(event.id or "", style=MUTED, limit=limit))
    if event.org and event.org != "default":
        ident.append("  org ", style=MUTED)
        ident.append_text(safe(event.org, limit=limit))
    header.add_row("id", ident)
    if event.hash:
        header.add_row("hash", safe(event.hash if full else event.hash[:16] + "…", style=MUTED, limit=None))
    title = Text("event" if event.seq is None else f"event #{event.seq}", style="bold")
    parts.append(_panel(header, title))

    ctx = event.context
    context_rows: list[tuple[str, Any]] = [
        ("ip", ctx.ip),
        ("user agent", ctx.user_agent),
        ("api key", ctx.api_key_id),
        ("impersonated by", ctx.impersonator),
        ("reason", ctx.reason),
        ("correlation id", ctx.correlation_id),
        ("caused by", ctx.parent_id),
    ]
    context_rows += list(ctx.extra.items())
    present = [(key, value) for key, value in context_rows if value is not None]
    if present:
        grid = _grid()
        for key, value in present:
            grid.add_row(safe(key, limit=40), _field_value(value, full))
        parts.append(_panel(grid, "request context"))

    if event.changes:
        parts.append(_panel(changes_table(event, full), f"changes ({len(event.changes)})"))

    if event.entity_ids:
        shown = event.entity_ids if full else event.entity_ids[:MAX_IDS]
        ids = Text()
        for index, item in enumerate(shown):
            if index:
                ids.append(", ", style=MUTED)
            ids.append(visible(item))
        if len(shown) < len(event.entity_ids):
            ids.append(f"  … and {len(event.entity_ids) - len(shown):,} more (--full)", style=MUTED)
        parts.append(_panel(ids, f"entity ids ({len(event.entity_ids):,})"))

    if event.metadata:
        grid = _grid()
        items = list(event.metadata.items())
        for key, value in items if full else items[:MAX_IDS]:
            grid.add_row(safe(key, limit=40), _field_value(value, full))
        if not full and len(items) > MAX_IDS:
            grid.add_row(Text("…", style=MUTED), Text(f"{len(items) - MAX_IDS} more keys (--full)", style=MUTED))
        parts.append(_panel(grid, "metadata"))

    others = [e for e in related if e.id != event.id]
    if others:
        tree = correlation_tree(
            related if any(e.id == event.id for e in related) else [event, *related],
            highlight=event.id,
            utc=utc,
            limit=None if full else MAX_TREE,
        )
        parts.append(_panel(tree, f"related ({len(others)} more in this request)"))
    # Wide terminals: keep the panels a readable width (--full may use all of it).
    return Group(*parts) if full else Group(Constrain(Group(*parts), DETAIL_WIDTH))


def _time_text(stamp: str, clock: Clock, beside: bool = True) -> Text:
    moment = clock.local(stamp)
    text = Text(f"{moment:%Y-%m-%d %H:%M:%S}{_fraction(moment)} ")
    if clock.utc or not moment.utcoffset():
        # Local time is UTC (a server, a container): say it once.
        text.append("UTC")
        return text
    text.append(moment.tzname() or "")
    text.append(f" ({_utc_offset(moment)})", style=MUTED)
    if beside:
        utc = datetime.fromisoformat(stamp)
        text.append(f"   {utc:%Y-%m-%d %H:%M:%S}{_fraction(utc)} UTC", style=MUTED)
    return text


def changes_table(event: Event, full: bool) -> Table:
    """Field, old (red) and new (green) side by side; a column only when some change has it."""
    show_old = any(c.old is not MISSING for c in event.changes)
    show_new = any(c.new is not MISSING for c in event.changes)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True, header_style="bold")
    table.add_column("field", style="bold", overflow="fold", max_width=32)
    if show_old:
        table.add_column(Text("old", style="bold " + OLD_STYLE), ratio=1, overflow="fold")
    if show_new:
        table.add_column(Text("new", style="bold " + NEW_STYLE), ratio=1, overflow="fold")
    for change in event.changes:
        row: list[Text] = [safe(change.field, limit=None if full else 64)]
        if show_old:
            row.append(value_text(change.old, OLD_STYLE, full))
        if show_new:
            row.append(value_text(change.new, NEW_STYLE, full))
        table.add_row(*row)
    return table


# --------------------------------------------------------------------------- correlation tree


def _tree_label(event: Event, clock: Clock, highlight: str | None, primary: Event | None = None) -> Text:
    """One line per entry; under the primary, times on the same day show only the clock."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if highlight is not None and event.id == highlight:
        text.append("▶ ", style="bold")
    if event.seq is not None:
        text.append(f"{event.seq}  ", style="bold")
    if event.timestamp:
        moment = clock.local(event.timestamp)
        same_day = (
            primary is not None
            and primary.timestamp is not None
            and clock.local(primary.timestamp).date() == moment.date()
            and clock.zone(primary.timestamp) == clock.zone(event.timestamp)
        )
        shown = f"{moment:%H:%M:%S}" if same_day else f"{moment:%Y-%m-%d %H:%M:%S} {clock.zone(event.timestamp)}"
        text.append(shown + "  ", style=MUTED)
    text.append(event.action, style=action_style(event.action))
    text.append("  ")
    text.append_text(safe(actor_label(event), limit=40))
    entity = entity_label(event)
    if entity:
        text.append("  ")
        text.append_text(safe(entity, limit=40))
    if event.entity_ids:
        text.append(f" ({len(event.entity_ids)} ids)", style=MUTED)
    summary = change_summary(event, limit=60)
    if summary.plain:
        text.append("  ")
        text.append_text(summary)
    return text


def correlation_tree(events: list[Event], *, highlight: str | None, utc: bool, limit: int | None = None) -> Any:
    """The group as a tree: the primary entry at the root, each entry under its ``parent_id``.

    Entries without a parent, with a parent outside the group, or in a cycle of
    parents hang under the primary: they were all caused by the same request.
    """
    from rich.tree import Tree

    clock = Clock(utc)
    ordered = sorted(events, key=lambda e: (e.timestamp or "", e.seq or 0))
    by_id = {e.id: e for e in ordered if e.id}
    roots = [e for e in ordered if not e.context.parent_id] or ordered
    primary = roots[0]
    children: dict[str, list[Event]] = {}
    for event in ordered:
        if event is primary:
            continue
        parent = event.context.parent_id
        if not parent or parent not in by_id or parent == event.id:
            parent = primary.id
        children.setdefault(parent or "", []).append(event)

    tree = Tree(_tree_label(primary, clock, highlight), guide_style=MUTED)
    drawn = 1
    placed = {primary.id}
    # Depth-first without recursion: a long chain of causes must not overflow the stack.
    stack: list[tuple[Any, Event, int]] = [(tree, child, 1) for child in reversed(children.get(primary.id or "", []))]
    orphans = [e for e in ordered if e is not primary]

    def place(stack: list[tuple[Any, Event, int]]) -> None:
        nonlocal drawn
        while stack:
            node, event, depth = stack.pop()
            if event.id in placed:
                continue
            placed.add(event.id)
            if limit is not None and drawn >= limit:
                continue
            branch = node.add(_tree_label(event, clock, highlight, primary))
            drawn += 1
            below = branch if depth < MAX_DEPTH else node
            for child in reversed(children.get(event.id or "", [])):
                stack.append((below, child, depth + 1))

    place(stack)
    # Entries caught in a cycle of parents are reachable from nowhere: under the primary.
    for event in orphans:
        if event.id not in placed:
            place([(tree, event, 1)])
    if limit is not None and len(ordered) > drawn:
        cid = visible(primary.context.correlation_id or "")
        tree.add(Text(f"… and {len(ordered) - drawn:,} more: auditctl show --correlation {cid}", style=MUTED))
    return tree


def correlation_view(events: list[Event], *, utc: bool) -> Group:
    """``show --correlation``: a heading line, then the tree."""
    first = min(events, key=lambda e: (e.timestamp or "", e.seq or 0))
    heading = Text("correlation ", style="bold")
    heading.append_text(safe(first.context.correlation_id or "", style="bold", limit=None))
    heading.append(f" — {len(events):,} event{'s' if len(events) != 1 else ''}", style=MUTED)
    return Group(heading, correlation_tree(events, highlight=None, utc=utc))
