"""Realistic, deterministic audit events: for the benchmark and ``auditctl demo``.

The same seed, count and "now" always give the same events, byte for byte. Shapes
follow real traffic: updates and creates dominate, sensitive_access and import are
rare; 200 users plus api keys, webhooks, system and scheduler actors, each with the
sources it really uses; 30 days of timestamps ending at "now"; requests that cause
1–5 entries sharing a correlation id, linked by ``parent_id``; 1–3 field changes per
update; bulk actions over 2–20 entities; metadata on a fifth of events; some reasons.
About 400 bytes per event as JSON lines. Every event passes ``Event.from_dict``.

Pure: no I/O, no store; callers write or append what it yields.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

from auditctl.model import format_time

DAYS = 30

# (action, weight): weights are per cent of events, close to what production logs show.
ACTION_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("update", 36.0),
    ("create", 22.0),
    ("delete", 8.0),
    ("login", 12.0),
    ("logout", 8.5),
    ("bulk_update", 3.0),
    ("bulk_create", 2.0),
    ("bulk_delete", 1.5),
    ("export", 5.0),
    ("import", 0.8),
    ("sensitive_access", 1.2),
)

FIRST_NAMES = (
    "ann", "bob", "carla", "dmitri", "elif", "femi", "grace", "hiro", "ines", "jonas",
    "kofi", "lena", "mateo", "nora", "omar", "priya", "quinn", "rosa", "sven", "tara",
)
LAST_NAMES = (
    "adams", "baker", "chen", "diaz", "evans", "fischer", "garcia", "haddad", "ito", "jensen",
)
DOMAINS = ("example.com", "example.org", "acme.test", "globex.test")

ENTITY_FIELDS: dict[str, tuple[str, ...]] = {
    "part": ("status", "title", "quantity", "price", "owner", "revision"),
    "document": ("title", "status", "owner", "visibility", "tags"),
    "project": ("name", "status", "due_date", "owner", "budget"),
    "invoice": ("status", "amount", "due_date", "currency"),
    "customer": ("name", "email", "tier", "region", "phone"),
    "order": ("status", "quantity", "shipping_address", "carrier"),
    "user": ("role", "email", "display_name", "password", "mfa_enabled"),
    "workspace": ("name", "plan", "seats", "region"),
}
ENTITY_TYPES = tuple(ENTITY_FIELDS)
ENTITY_POOL = 4000  # distinct ids per entity type

STATUSES = ("draft", "review", "ready", "approved", "archived", "blocked")
REGIONS = ("eu-west", "eu-central", "us-east", "us-west", "ap-south")
PLANS = ("free", "team", "pro", "enterprise")
REASONS = (
    "ticket #{n}", "customer request", "quarterly clean-up", "GDPR request {n}",
    "incident INC-{n}", "migration batch {n}", "requested by finance", "scheduled retention",
)
BROWSERS = ("Mozilla/5.0 Firefox/132.0", "Mozilla/5.0 Safari/605.1.15", "Mozilla/5.0 Chrome/131.0")
API_AGENTS = ("curl/8.11.0", "python-requests/2.32.3", "Go-http-client/2.0", "okhttp/4.12.0")
WEBHOOKS = ("webhook_github", "webhook_stripe", "webhook_slack", "webhook_jira", "webhook_zapier")
SCHEDULERS = ("scheduler_nightly_backup", "scheduler_retention", "scheduler_billing_sync", "scheduler_reindex")
SYSTEMS = ("system_migrator", "system_auth", "system_indexer")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _ulid(ms: int, rand: int) -> str:
    value = (ms << 80) | rand
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class _World:
    """The fixed cast: users, keys, hooks, and the entities they touch."""

    def __init__(self, rng: random.Random) -> None:
        self.users = []
        for n in range(200):
            first = FIRST_NAMES[n % len(FIRST_NAMES)]
            last = LAST_NAMES[(n // len(FIRST_NAMES)) % len(LAST_NAMES)]
            email = f"{first}.{last}@{DOMAINS[n % len(DOMAINS)]}"
            ip = f"203.0.{113 + n % 3}.{rng.randrange(1, 255)}"
            self.users.append((f"user_{n:04d}", email, ip, BROWSERS[n % len(BROWSERS)], API_AGENTS[n % len(API_AGENTS)]))
        self.api_keys = [
            (f"key_{rng.getrandbits(32):08x}", f"198.51.100.{rng.randrange(1, 255)}", API_AGENTS[n % len(API_AGENTS)])
            for n in range(30)
        ]
        self.entity_ids = {
            kind: [f"{kind}_{rng.getrandbits(24):06x}" for _ in range(ENTITY_POOL)] for kind in ENTITY_TYPES
        }


_ACTIONS = [a for a, _ in ACTION_WEIGHTS]
_WEIGHTS = list(accumulate(w for _, w in ACTION_WEIGHTS))


def _value(rng: random.Random, field: str) -> Any:
    if field == "status":
        return rng.choice(STATUSES)
    if field in ("quantity", "seats", "revision"):
        return rng.randrange(1, 500)
    if field in ("price", "amount", "budget"):
        return round(rng.uniform(1, 20000), 2)
    if field == "due_date":
        return f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    if field == "region":
        return rng.choice(REGIONS)
    if field == "plan":
        return rng.choice(PLANS)
    if field == "mfa_enabled":
        return rng.random() < 0.5
    if field == "tags":
        return rng.sample(["urgent", "q4", "legal", "finance", "hw", "sw"], 2)
    if field == "password":
        return f"hunter{rng.randrange(100, 999)}!"  # redacted by the store, never stored
    return f"{field[:4]}-{rng.getrandbits(16):04x}"


def generate(count: int, *, seed: int = 0, now: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Yield ``count`` event dicts, oldest first, the newest just before ``now``."""
    if now is None:
        from auditctl.timeparse import now as current

        now = current()
    rng = random.Random(seed)
    world = _World(rng)
    start = now - timedelta(days=DAYS)
    start_ms = int(start.timestamp() * 1000)
    span_ms = DAYS * 86_400_000
    made = 0
    while made < count:
        size = min(count - made, rng.choices((1, 2, 3, 4, 5), (50, 20, 15, 10, 5))[0])
        # Each group gets its own slot of the window and starts in the slot's first
        # half, so the file comes out in time order.
        slot_ms = span_ms * size / count
        base_ms = start_ms + int(span_ms * made / count + rng.random() * slot_ms / 2)
        yield from _group(rng, world, size, base_ms)
        made += size


def _group(rng: random.Random, world: _World, size: int, base_ms: int) -> Iterator[dict[str, Any]]:
    """One request: the same actor and context, 1–5 entries, later ones caused by the first."""
    roll = rng.random()
    actor: dict[str, Any]
    context: dict[str, Any] = {"correlation_id": _uuid(rng)}
    if roll < 0.72:
        uid, email, ip, browser, client = rng.choice(world.users)
        actor = {"type": "user", "id": uid, "email": email}
        source = rng.choices(("web", "api", "cli"), (70, 22, 8))[0]
        context["ip"] = ip
        context["user_agent"] = browser if source == "web" else (
            "auditctl/0.1.0" if source == "cli" else client
        )
        if rng.random() < 0.005:
            context["impersonator"] = rng.choice(world.users)[1]
    elif roll < 0.88:
        key, ip, agent = rng.choice(world.api_keys)
        actor = {"type": "api_key", "id": key}
        source = "api"
        context.update(ip=ip, user_agent=agent, api_key_id=key)
    elif roll < 0.94:
        actor = {"type": "webhook", "id": rng.choice(WEBHOOKS)}
        source = "webhook"
        context["ip"] = f"192.0.2.{rng.randrange(1, 255)}"
    elif roll < 0.98:
        actor = {"type": "scheduler", "id": rng.choice(SCHEDULERS)}
        source = "scheduler"
    else:
        actor = {"type": "system", "id": rng.choice(SYSTEMS)}
        source = "system"
    parent: str | None = None
    event_ms = base_ms
    for index in range(size):
        action = rng.choices(_ACTIONS, cum_weights=_WEIGHTS)[0]
        if action in ("login", "logout") and actor["type"] != "user":
            action = "update"
        event_ms += rng.randrange(1, 8) if index else 0
        event_id = _ulid(event_ms, rng.getrandbits(80))
        ctx = dict(context)
        if parent is not None:
            ctx["parent_id"] = parent
        event = _event(rng, world, action, actor, source, ctx, event_ms, event_id)
        if index == 0:
            parent = event_id
        yield event


def _event(rng: random.Random, world: _World, action: str, actor: dict[str, Any], source: str,
           context: dict[str, Any], ms: int, event_id: str) -> dict[str, Any]:
    micros = rng.randrange(1000)
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC) + timedelta(microseconds=micros)
    event: dict[str, Any] = {
        "id": event_id,
        "timestamp": format_time(moment),
        "action": action,
        "actor": actor,
        "source": source,
    }
    if action not in ("login", "logout"):
        if action in ("export", "import"):
            kind = "audit_log" if rng.random() < 0.3 else rng.choice(ENTITY_TYPES)
            ident = None if kind == "audit_log" else rng.choice(world.entity_ids[kind])
        else:
            kind = rng.choice(ENTITY_TYPES)
            ident = rng.choice(world.entity_ids[kind])
        event["entity"] = {"type": kind, "id": ident}
        fields = ENTITY_FIELDS.get(kind, ("status",))
        if action == "update":
            names = rng.sample(fields, rng.choices((1, 2, 3), (55, 30, 15))[0])
            event["changes"] = [{"field": f, "old": _value(rng, f), "new": _value(rng, f)} for f in names]
        elif action == "create":
            names = rng.sample(fields, rng.randrange(1, 3))
            event["changes"] = [{"field": f, "new": _value(rng, f)} for f in names]
        elif action == "delete" and rng.random() < 0.5:
            f = rng.choice(fields)
            event["changes"] = [{"field": f, "old": _value(rng, f)}]
        elif action.startswith("bulk_"):
            event["entity_ids"] = rng.sample(world.entity_ids[kind], rng.randrange(2, 21))
            if action == "bulk_update":
                f = rng.choice(fields)
                event["changes"] = [{"field": f, "new": _value(rng, f)}]
    if action in ("sensitive_access", "bulk_delete") or (rng.random() < 0.1 and action not in ("login", "logout")):
        context["reason"] = rng.choice(REASONS).format(n=rng.randrange(1000, 99999))
    event["context"] = context
    if rng.random() < 0.2:
        event["metadata"] = {"region": rng.choice(REGIONS), "plan": rng.choice(PLANS),
                             "request_ms": rng.randrange(2, 900)}
    return event
