"""One ``Query`` value for every way of asking for events.

The CLI builds it from flags, the server from its query string, with the same
``build_query``; every backend understands it, and ``matches`` applies it to events
in memory (``filter --input``) with exactly the semantics the stores implement.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from auditctl.errors import UsageError

if TYPE_CHECKING:
    from auditctl.model import Event

# The model and timeparse are imported by the filters that need them: a plain
# `auditctl search` starts without them.

MAX_TERMS = 16
MAX_TERM_LEN = 256
MAX_LIMIT = 2**63 - 1  # SQLite's largest integer; a bigger limit cannot even be bound


@dataclass(frozen=True)
class Query:
    terms: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    entity_type: str | None = None
    entity_id: str | None = None
    source: tuple[str, ...] = ()
    actor: str | None = None
    actor_type: tuple[str, ...] = ()
    correlation_id: str | None = None
    changed: str | None = None
    since: str | None = None  # canonical UTC text, inclusive
    until: str | None = None  # canonical UTC text, exclusive
    limit: int | None = None
    reverse: bool = False  # oldest first
    # Paging: continue after this (timestamp, seq) position in the current order.
    after: tuple[str, int] | None = None
    org: str | None = None

    def describe(self) -> list[str]:
        """The active filters, as people read them (``action=delete``, ``since …``)."""
        parts: list[str] = []
        if self.terms:
            parts.append("search " + " ".join(repr(t) for t in self.terms))
        if self.actions:
            parts.append("action=" + ",".join(self.actions))
        if self.entity_type:
            parts.append(f"entity={self.entity_type}")
        if self.entity_id:
            parts.append(f"entity-id={self.entity_id}")
        if self.source:
            parts.append("source=" + ",".join(self.source))
        if self.actor:
            parts.append(f"actor={self.actor}")
        if self.actor_type:
            parts.append("actor-type=" + ",".join(self.actor_type))
        if self.correlation_id:
            parts.append(f"correlation={self.correlation_id}")
        if self.changed:
            parts.append(f"changed={self.changed}")
        if self.since:
            parts.append(f"since {self.since}")
        if self.until:
            parts.append(f"until {self.until}")
        return parts

    def to_params(self) -> dict[str, Any]:
        """Query-string form for the HTTP API; ``build_query`` reads it back."""
        params: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value in (None, (), False):
                continue
            if f.name == "after":
                continue
            params[f.name] = list(value) if isinstance(value, tuple) else value
        return params


def clean_term(term: str) -> str:
    """Search terms are compared case-insensitively, with control characters dropped."""
    cleaned = "".join(ch for ch in term if unicodedata.category(ch)[0] != "C")
    return cleaned.strip()


def _vocabulary(option: str) -> Sequence[str]:
    """The values an action, source or actor type filter may take."""
    from auditctl import model

    return {"action": model.ACTIONS, "source": model.SOURCES, "actor type": model.ACTOR_TYPES}[option]


def _one_of(values: Iterable[str] | None, option: str) -> tuple[str, ...]:
    if not values:
        return ()
    allowed = _vocabulary(option)
    out: list[str] = []
    for raw in values:
        for value in str(raw).split(","):
            value = value.strip().lower()
            if not value:
                continue
            if value not in allowed:
                raise UsageError(f"unknown {option} {value!r}; allowed: {', '.join(allowed)}")
            if value not in out:
                out.append(value)
    return tuple(out)


def _text(value: Any, option: str) -> str | None:
    if value is None:
        return None
    text = str(value)
    if not text.strip():
        raise UsageError(f"{option} must not be empty")
    if len(text) > MAX_TERM_LEN or "\x00" in text:
        raise UsageError(f"{option} is not a valid value")
    return text


def build_query(
    *,
    terms: Iterable[str] | None = None,
    actions: Iterable[str] | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    source: Iterable[str] | None = None,
    actor: str | None = None,
    actor_type: Iterable[str] | None = None,
    correlation_id: str | None = None,
    changed: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | str | None = None,
    reverse: bool = False,
    org: str | None = None,
) -> Query:
    """Validate raw filter values (flags or query string) into a Query."""
    cleaned_terms: list[str] = []
    for raw in terms or ():
        if len(str(raw)) > MAX_TERM_LEN:
            raise UsageError(f"search term is too long (at most {MAX_TERM_LEN} characters)")
        term = clean_term(str(raw))
        if term:
            cleaned_terms.append(term)
    if len(cleaned_terms) > MAX_TERMS:
        raise UsageError(f"too many search terms (at most {MAX_TERMS})")
    since_text = _time(since, "--since")
    until_text = _time(until, "--until")
    if since_text and until_text and since_text >= until_text:
        raise UsageError(f"--since ({since}) must be before --until ({until})")
    return Query(
        terms=tuple(cleaned_terms),
        actions=_one_of(actions, "action"),
        entity_type=_text(entity_type, "--entity"),
        entity_id=_text(entity_id, "--entity-id"),
        source=_one_of(source, "source"),
        actor=_text(actor, "--actor"),
        actor_type=_one_of(actor_type, "actor type"),
        correlation_id=_text(correlation_id, "--correlation-id"),
        changed=_text(changed, "--changed"),
        since=since_text,
        until=until_text,
        limit=parse_limit(limit),
        reverse=bool(reverse),
        org=org,
    )


def _time(text: str | None, option: str) -> str | None:
    if not text:
        return None
    from auditctl.timeparse import parse_time_text

    return parse_time_text(text, option=option)


def parse_limit(value: int | str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise UsageError(f"--limit must be a positive whole number, got {str(value)[:32]!r}") from None
    if number < 1:
        raise UsageError(f"--limit must be at least 1, got {number}")
    if number > MAX_LIMIT:
        raise UsageError(f"--limit must be at most {MAX_LIMIT}",
                         hint="leave --limit out for every match")
    return number


def query_from_params(params: Mapping[str, Any], *, max_limit: int | None = None) -> Query:
    """The server's reading of a query string (lists come as repeated keys)."""

    def many(name: str) -> list[str]:
        value = params.get(name)
        if value is None:
            return []
        return list(value) if isinstance(value, list | tuple) else [value]

    def one(name: str) -> str | None:
        values = many(name)
        return str(values[-1]) if values else None

    query = build_query(
        terms=many("terms") + many("q"),
        actions=many("actions") + many("action"),
        entity_type=one("entity_type") or one("entity"),
        entity_id=one("entity_id"),
        source=many("source"),
        actor=one("actor"),
        actor_type=many("actor_type"),
        correlation_id=one("correlation_id"),
        changed=one("changed"),
        since=one("since"),
        until=one("until"),
        limit=one("limit"),
        reverse=(one("reverse") or "").lower() in ("1", "true", "yes"),
    )
    if max_limit is not None and query.limit is not None and query.limit > max_limit:
        raise UsageError(f"limit must be at most {max_limit}")
    return query


# --------------------------------------------------------------------------- in memory


def search_haystack(event: Event) -> str:
    """The eight searchable fields, lower-cased, joined by a separator no term holds."""
    ctx = event.context
    return "\x1f".join(
        (
            event.actor.email or "",
            event.actor.id or "",
            event.action,
            event.entity.type or "",
            event.entity.id or "",
            event.source,
            ctx.correlation_id or "",
            ctx.reason or "",
        )
    ).lower()


def matches(query: Query, event: Event) -> bool:
    """Does this event satisfy every filter and every term of the query?"""
    if query.actions and event.action not in query.actions:
        return False
    if query.entity_type and (event.entity.type or "") != query.entity_type:
        return False
    if query.entity_id and event.entity.id != query.entity_id and query.entity_id not in event.entity_ids:
        return False
    if query.source and event.source not in query.source:
        return False
    if query.actor and query.actor not in (event.actor.id, event.actor.email):
        if not (event.actor.email and event.actor.email.lower() == query.actor.lower()):
            return False
    if query.actor_type and event.actor.type not in query.actor_type:
        return False
    if query.correlation_id and event.context.correlation_id != query.correlation_id:
        return False
    if query.changed and not any(c.field == query.changed for c in event.changes):
        return False
    if query.since and (event.timestamp or "") < query.since:
        return False
    if query.until and (event.timestamp or "") >= query.until:
        return False
    if query.org and event.org and event.org != query.org:
        return False
    if query.terms:
        haystack = search_haystack(event)
        for term in query.terms:
            if term.lower() not in haystack:
                return False
    return True
