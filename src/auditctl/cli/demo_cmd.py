"""``auditctl demo``: fill the store with realistic generated events for a first look."""

from __future__ import annotations

from typing import Annotated

import typer

from auditctl.cli.app import app
from auditctl.cli.common import command, get_globals, info

BATCH = 5000


@command(app, "demo")
def demo(
    events: Annotated[int, typer.Option("--events", "-n", min=1, max=10_000_000, help="How many events to add.")] = 500,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the generator (same seed, same events shape).")] = 0,
) -> None:
    """Add realistic generated events to the store, to try auditctl on.

    The events cover the last 30 days: users, API keys, webhooks and scheduled jobs
    creating, updating and deleting things, in correlated requests.

    Example: auditctl demo --events 2000 && auditctl search --action delete --since 7d
    """
    from auditctl.generate import generate
    from auditctl.model import Event

    g = get_globals()
    added = 0
    with g.open_store(create=True) as store:
        batch: list[Event] = []
        for data in generate(events, seed=seed):
            batch.append(Event.from_dict(data))
            if len(batch) >= BATCH:
                added += sum(1 for r in store.append(batch) if r.created)
                batch = []
        if batch:
            added += sum(1 for r in store.append(batch) if r.created)
        where = store.url
    info(f"added {added} demo event{'s' if added != 1 else ''} to {where}")
    info("try: auditctl search --action delete --since 7d")
