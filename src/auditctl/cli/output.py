"""One renderer per output format; machine formats stream plain text to stdout."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from auditctl.cli.common import Format, get_globals
from auditctl.export import writer_for
from auditctl.model import Event


def write_machine(fmt: Format, items: Iterable[dict[str, Any]], out: Any = None) -> int:
    """Stream event dicts in a machine format; return the count (store queries: write_query)."""
    writer = writer_for(fmt.value, out or sys.stdout)
    for item in items:
        writer.write(item)
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


def human_console(*, stderr: bool = False) -> Any:
    """A Rich console for people: plain text (no escape sequences at all) under
    ``NO_COLOR``/``--no-color`` or when the stream is not a terminal; never parses
    markup, emoji codes or "highlights" anything, never soft-wraps a line."""
    from rich.console import Console

    try:
        color = get_globals().color
    except RuntimeError:  # outside a command (a library caller, a test): the environment decides
        color = not os.environ.get("NO_COLOR")
    options: dict[str, Any] = {}
    if not color:
        options["color_system"] = None
    return Console(stderr=stderr, highlight=False, markup=False, emoji=False, soft_wrap=False, **options)


def print_event_table(
    events: list[Event],
    *,
    filters: list[str],
    total: int | None,
    limit: int | None,
    flat: bool = False,
    reverse: bool = False,
) -> None:
    from auditctl.cli.render import print_table, table_footer, table_header

    g = get_globals()
    console = human_console()
    shown = len(events)
    rows, counts = (events, {}) if flat else group_correlated(events)
    matched = total if total is not None else shown
    folded = shown - len(rows)
    header = table_header(filters, matched, len(rows), folded)
    footer = table_footer(
        shown=shown,
        matched=matched,
        limit=limit,
        reverse=reverse,
        folded=folded,
        any_seq=any(e.seq is not None for e in rows),
    )
    print_table(console, rows, header=header, footer=footer, utc=bool(g.utc), related_counts=counts)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress(
    total: int | None, description: str, *, unit: str = "events", position: Callable[[], int] | None = None
) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """A progress bar on stderr when it is a terminal; a pass-through otherwise.

    With ``total`` the bar is determinate: it counts items, or, with ``position``
    (e.g. the bytes of a file read so far), whatever that returns, in ``unit``
    (``"bytes"`` shows sizes and speed). Without ``total`` it is a spinner with a count.
    """

    def passthrough(items: Iterable[Any]) -> Iterator[Any]:
        return iter(items)

    if not _stderr_is_terminal():
        return passthrough

    def wrapped(items: Iterable[Any]) -> Iterator[Any]:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        from auditctl.sanitize import visible

        # markup=False: a file name like "[red]x.jsonl" is shown, not interpreted.
        columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}", markup=False)]
        if total is None:
            columns += [TextColumn("{task.fields[items]:,} " + unit, markup=False), TimeElapsedColumn()]
        else:
            columns += [BarColumn(), TaskProgressColumn()]
            columns += [DownloadColumn(), TransferSpeedColumn()] if unit == "bytes" else [MofNCompleteColumn()]
            columns += [TimeRemainingColumn()]
        count = 0
        with Progress(*columns, console=human_console(stderr=True), transient=True) as bar:
            task = bar.add_task(visible(description), total=total, items=0)
            for item in items:
                yield item
                count += 1
                # Updating per item would cost more than the work for small events.
                if count % 64 == 0:
                    done = position() if position is not None else count
                    bar.update(task, completed=done, items=count)
            bar.update(task, completed=total if total is not None else count, items=count)

    return wrapped


@contextmanager
def busy(description: str) -> Iterator[None]:
    """A spinner on stderr (terminal only) for one long call with no steps to count."""
    if not _stderr_is_terminal():
        yield
        return
    from rich.text import Text

    from auditctl.sanitize import visible

    console = human_console(stderr=True)
    with console.status(Text(visible(description)), spinner="dots"):
        yield
