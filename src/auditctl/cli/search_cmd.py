"""``auditctl search`` (the search bar) and ``auditctl filter`` (the filter panel)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from auditctl.cli.app import app
from auditctl.cli.common import Format, command, get_globals, open_text_input
from auditctl.cli.options import (
    Filters,
)
from auditctl.cli.output import print_event_table, write_machine
from auditctl.errors import ValidationError
from auditctl.export import write_query
from auditctl.model import Event
from auditctl.query import matches

TABLE_LIMIT = 50
FlatOpt = Annotated[bool, typer.Option("--flat", help="List correlated entries one by one instead of grouping them.")]


def run_query(filters: Filters, terms: list[str] | None, flat: bool) -> None:
    g = get_globals()
    fmt = g.output_format()
    query = filters.query(terms, default_limit=TABLE_LIMIT if fmt == Format.table else None)
    with g.open_store() as store:
        if fmt == Format.table:
            events = list(store.query(query))
            total = store.count(query) if query.limit is not None and len(events) >= query.limit else len(events)
            print_event_table(events, filters=filters.describe(terms), total=total, limit=query.limit, flat=flat,
                              reverse=query.reverse)
            return
        write_query(store, query, fmt.value, sys.stdout)


@command(app, "search")
def search(
    terms: Annotated[list[str] | None, typer.Argument(metavar="TERM", help="Words to find (case-insensitive substrings of actor, action, entity, source, correlation id, reason).", show_default=False)] = None,
    filters: Filters = Filters(),
    flat: FlatOpt = False,
) -> None:
    """Search events, newest first.

    Example: auditctl search ann@example.com --action delete --since 7d
    """
    run_query(filters, terms, flat)


InputOpt = Annotated[str | None, typer.Option("--input", "-i", help="Filter this JSONL/JSON file (or - for stdin) instead of a store.", show_default=False)]


@command(app, "filter")
def filter_(
    filters: Filters = Filters(),
    flat: FlatOpt = False,
    input_file: InputOpt = None,
) -> None:
    """Filter events by structured fields, from the store or from a file.

    Example: auditctl export --since 30d | auditctl filter --input - --action delete --source api
    """
    if input_file is None:
        run_query(filters, None, flat)
        return
    filter_stream(filters, input_file, flat)


def filter_stream(filters: Filters, input_file: str, flat: bool) -> None:
    """Apply the filters to a stream of events without any store (input order kept)."""
    from auditctl.export import read_events

    g = get_globals()
    fmt = g.output_format()
    query = filters.query(None, default_limit=TABLE_LIMIT if fmt == Format.table else None)
    handle = open_text_input(input_file)
    name = "stdin" if input_file == "-" else input_file

    def matching() -> Iterator[Event]:
        for line, data in read_events(handle, name=name):
            try:
                event = Event.from_dict(data)
            except ValidationError as exc:
                raise ValidationError(f"{name}, line {line}: {exc.message}", exc.field) from None
            if matches(query, event):
                yield event

    try:
        if fmt == Format.table:
            shown: list[Event] = []
            total = 0
            for event in matching():
                total += 1
                if query.limit is None or len(shown) < query.limit:
                    shown.append(event)
            print_event_table(shown, filters=filters.describe(), total=total, limit=query.limit, flat=flat,
                              reverse=query.reverse)
            return

        def limited() -> Iterator[dict[str, Any]]:
            for count, event in enumerate(matching(), 1):
                yield event.to_dict()
                if query.limit is not None and count >= query.limit:
                    return
        write_machine(fmt, limited())
    finally:
        handle.close()
