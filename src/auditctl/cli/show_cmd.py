"""``auditctl show``: the detail view of one event, or a correlation group as a tree."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from auditctl import jsonio
from auditctl.cli.app import app
from auditctl.cli.common import Format, command, get_globals
from auditctl.cli.output import human_console, write_machine
from auditctl.errors import NotFound, UsageError


@command(app, "show")
def show(
    event: Annotated[str | None, typer.Argument(help="Event id or seq.", show_default=False)] = None,
    correlation: Annotated[str | None, typer.Option("--correlation", help="Show a whole correlation group as a tree.", show_default=False)] = None,
    full: Annotated[bool, typer.Option("--full", help="Show long values whole instead of cut with …")] = False,
) -> None:
    """Show one event in detail, with what changed and its related events.

    Example: auditctl show 1042      (or an id: auditctl show 01JD3Z6T8Q0N6YB1X5ZK1V3F4W)
    """
    if (event is None) == (correlation is None):
        raise UsageError("give an event id or seq, or --correlation CID", hint="e.g. auditctl show 1042")
    g = get_globals()
    fmt = g.output_format()
    with g.open_store() as store:
        if correlation is not None:
            group = store.related(correlation)
            if not group:
                raise NotFound(f"no events with correlation id {correlation[:80]!r}")
            if fmt == Format.table:
                from auditctl.cli.render import correlation_view

                human_console().print(correlation_view(group, utc=bool(g.utc)))
            else:
                write_machine(fmt, (e.to_dict() for e in group))
            return
        found = store.get(event or "")
        if fmt == Format.json:
            sys.stdout.write(jsonio.dumps_pretty(found.to_dict()) + "\n")
            return
        if fmt != Format.table:
            write_machine(fmt, [found.to_dict()])
            return
        related = store.related(found.context.correlation_id) if found.context.correlation_id else []
    from auditctl.cli.render import detail_view

    human_console().print(detail_view(found, related, utc=bool(g.utc), full=full))
