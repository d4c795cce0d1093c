"""One renderer per output format; machine formats stream plain text to stdout."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from auditctl.cli.common import Format, get_globals, stdout_console
from auditctl.export import writer_for
from auditctl.model import Event


def write_machine(fmt: Format, items: Iterable[Any], out: Any = None, *, lines: bool = False) -> int:
    """Stream dicts (or JSON lines with ``lines=True``) in a machine format; return the count."""
    writer = writer_for(fmt.value, out or sys.stdout)
    write = writer.write_line if lines else writer.write
    for item in items:
        write(item)
    writer.close()
    return writer.count


def group_correlated(events: list[Event]) -> tuple[list[Event], dict[str, int]]:
    """Collapse entries that share a correlation id into their primary row.

    The primary is the entry without a parent (the earliest if several); the others
    add to its "+N related" count. Entries whose primary is not on the page stay.
    """
    groups: dict[str, list[Event]] = {}
    for event in events:
        cid = event.context.correlation_id
        if cid:
            groups.setdefault(cid, []).append(event)
    hidden: set[str] = set()
    counts: dict[str, int] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        roots = [e for e in members if not e.context.parent_id] or members
        primary = min(roots, key=lambda e: (e.timestamp or "", e.seq or 0))
        counts[primary.id or ""] = len(members) - 1
        hidden.update(e.id or "" for e in members if e is not primary)
    return [e for e in events if (e.id or "") not in hidden], counts


def print_event_table(events: list[Event], *, filters: list[str], total: int | None, limit: int | None,
                      flat: bool = False) -> None:
    from auditctl.cli.render import print_table

    g = get_globals()
    console = stdout_console()
    shown = len(events)
    rows, counts = (events, {}) if flat else group_correlated(events)
    badge = f"{len(filters)} filter{'s' if len(filters) != 1 else ''}: " + " · ".join(filters) if filters else "no filters"
    matched = total if total is not None else shown
    header = f"{badge} — {matched} event{'s' if matched != 1 else ''} matched"
    footer = None
    if total is not None and total > shown:
        footer = f"showing the newest {shown} of {total}; use --limit N for more, or --format jsonl for all"
    elif shown == 0:
        footer = "no events match; widen the filters (e.g. a longer --since)"
    print_table(console, rows, header=header, footer=footer, utc=bool(g.utc), related_counts=counts)


def progress(total: int | None, description: str) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """A progress bar on stderr when it is a terminal; a pass-through otherwise."""

    def passthrough(items: Iterator[Any]) -> Iterator[Any]:
        return items

    if not sys.stderr.isatty():
        return passthrough

    def wrapped(items: Iterator[Any]) -> Iterator[Any]:
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(description, total=total)
            for item in items:
                yield item
                bar.advance(task)

    return wrapped
