"""Filter options shared by search, filter, export and purge, defined once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from auditctl.query import Query, build_query

FILTER_PANEL = "Filters"

ActionOpt = Annotated[list[str] | None, typer.Option("--action", "-a", metavar="ACTION", help="Action (repeat for OR), e.g. delete.", rich_help_panel=FILTER_PANEL, show_default=False)]
EntityOpt = Annotated[str | None, typer.Option("--entity", metavar="TYPE", help="Entity type, e.g. part.", rich_help_panel=FILTER_PANEL, show_default=False)]
EntityIdOpt = Annotated[str | None, typer.Option("--entity-id", metavar="ID", help="Entity id (also matches ids of bulk actions).", rich_help_panel=FILTER_PANEL, show_default=False)]
SourceOpt = Annotated[list[str] | None, typer.Option("--source", metavar="SOURCE", help="Source (repeat for OR): web, api, webhook, scheduler, system, cli.", rich_help_panel=FILTER_PANEL, show_default=False)]
ActorOpt = Annotated[str | None, typer.Option("--actor", metavar="EMAIL|ID", help="Actor email or id.", rich_help_panel=FILTER_PANEL, show_default=False)]
ActorTypeOpt = Annotated[list[str] | None, typer.Option("--actor-type", metavar="TYPE", help="Actor type (repeat for OR): user, api_key, webhook, system, scheduler.", rich_help_panel=FILTER_PANEL, show_default=False)]
CorrelationOpt = Annotated[str | None, typer.Option("--correlation-id", metavar="ID", help="Correlation id of a request.", rich_help_panel=FILTER_PANEL, show_default=False)]
ChangedOpt = Annotated[str | None, typer.Option("--changed", metavar="FIELD", help="Events that changed this field.", rich_help_panel=FILTER_PANEL, show_default=False)]
SinceOpt = Annotated[str | None, typer.Option("--since", metavar="TIME", help="From this time: 7d, 24h, today, 2026-11-01, '7 days ago', epoch…", rich_help_panel=FILTER_PANEL, show_default=False)]
UntilOpt = Annotated[str | None, typer.Option("--until", metavar="TIME", help="Before this time (same forms as --since).", rich_help_panel=FILTER_PANEL, show_default=False)]
LimitOpt = Annotated[str | None, typer.Option("--limit", "-n", metavar="N", help="At most this many events (default 50 in a table, all otherwise).", rich_help_panel=FILTER_PANEL, show_default=False)]
ReverseOpt = Annotated[bool, typer.Option("--reverse", help="Oldest first.", rich_help_panel=FILTER_PANEL)]


# name → (option, default): the filter flags every filtering command takes. A command
# declares one ``filters: Filters`` parameter and ``common.command`` puts these in its
# place (typer needs one parameter per flag; people need them defined once).
FILTER_PARAMS: dict[str, tuple[object, object]] = {
    "action": (ActionOpt, None),
    "entity": (EntityOpt, None),
    "entity_id": (EntityIdOpt, None),
    "source": (SourceOpt, None),
    "actor": (ActorOpt, None),
    "actor_type": (ActorTypeOpt, None),
    "correlation_id": (CorrelationOpt, None),
    "changed": (ChangedOpt, None),
    "since": (SinceOpt, None),
    "until": (UntilOpt, None),
    "limit": (LimitOpt, None),
    "reverse": (ReverseOpt, False),
}


@dataclass
class Filters:
    """The filter flags as typed, for the query and for the header line."""

    action: list[str] | None = None
    entity: str | None = None
    entity_id: str | None = None
    source: list[str] | None = None
    actor: str | None = None
    actor_type: list[str] | None = None
    correlation_id: str | None = None
    changed: str | None = None
    since: str | None = None
    until: str | None = None
    limit: str | None = None
    reverse: bool = False

    def query(self, terms: list[str] | None = None, default_limit: int | None = None) -> Query:
        query = build_query(
            terms=terms,
            actions=self.action,
            entity_type=self.entity,
            entity_id=self.entity_id,
            source=self.source,
            actor=self.actor,
            actor_type=self.actor_type,
            correlation_id=self.correlation_id,
            changed=self.changed,
            since=self.since,
            until=self.until,
            limit=self.limit,
            reverse=self.reverse,
        )
        if query.limit is None and default_limit is not None:
            from dataclasses import replace

            query = replace(query, limit=default_limit)
        return query

    def describe(self, terms: list[str] | None = None) -> list[str]:
        """Active filters as the user typed them (``since 7d``, not a timestamp)."""
        parts = []
        if terms:
            parts.append("search " + " ".join(terms))
        for label, value in (
            ("action", self.action), ("entity", self.entity), ("entity-id", self.entity_id),
            ("source", self.source), ("actor", self.actor), ("actor-type", self.actor_type),
            ("correlation", self.correlation_id), ("changed", self.changed),
        ):
            if value:
                parts.append(f"{label}={','.join(value) if isinstance(value, list) else value}")
        if self.since:
            parts.append(f"since {self.since}")
        if self.until:
            parts.append(f"until {self.until}")
        return parts
