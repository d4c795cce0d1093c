"""The audit event (schema version 1, DESIGN §1) as frozen dataclasses.

``Event.to_dict``/``Event.from_dict`` are the only JSON schema in the project: the
CLI, import, export, the HTTP server and the HTTP client all go through them.
``from_dict`` validates and names the offending field in its error.
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from auditctl.errors import ValidationError

SCHEMA_VERSION = 1

ACTIONS = (
    "create",
    "update",
    "delete",
    "bulk_create",
    "bulk_update",
    "bulk_delete",
    "login",
    "logout",
    "export",
    "import",
    "sensitive_access",
)
ACTOR_TYPES = ("user", "api_key", "webhook", "system", "scheduler")
SOURCES = ("web", "api", "webhook", "scheduler", "system", "cli")
CONTEXT_FIELDS = (
    "ip",
    "user_agent",
    "correlation_id",
    "reason",
    "api_key_id",
    "impersonator",
    "parent_id",
)
# Actions that need no entity: a session is not about a thing.
ENTITYLESS_ACTIONS = frozenset({"login", "logout"})

# Fields the store assigns; a client may carry them (an export does) but the store
# decides their value, and they take no part in "is this the same event?".
STORE_ASSIGNED = ("seq", "org", "recorded_at", "schema_version", "prev_hash", "hash")

DEFAULT_ORG = "default"
MAX_ID_LEN = 128
MAX_STRING_LEN = 65_536
MAX_JSON_DEPTH = 32
MAX_ENTITY_IDS = 10_000
MAX_CHANGES = 1_000
MIN_YEAR = 1970
MAX_YEAR = 9999


class _Missing:
    """Marks an absent ``old``/``new``: absent and ``null`` are different facts."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


@dataclass(frozen=True, slots=True)
class Actor:
    type: str
    id: str | None = None
    email: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "email": self.email}

    @property
    def label(self) -> str:
        return self.email or self.id or ""


@dataclass(frozen=True, slots=True)
class Entity:
    type: str | None = None
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id}


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    old: Any = MISSING
    new: Any = MISSING

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field}
        if self.old is not MISSING:
            out["old"] = self.old
        if self.new is not MISSING:
            out["new"] = self.new
        return out


@dataclass(frozen=True, slots=True)
class Context:
    ip: str | None = None
    user_agent: str | None = None
    correlation_id: str | None = None
    reason: str | None = None
    api_key_id: str | None = None
    impersonator: str | None = None
    parent_id: str | None = None
    # Keys beyond the schema's seven (e.g. from another system's log) are kept, not
    # dropped: an audit tool must not silently lose what it was given.
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ip": self.ip,
            "user_agent": self.user_agent,
            "correlation_id": self.correlation_id,
            "reason": self.reason,
            "api_key_id": self.api_key_id,
            "impersonator": self.impersonator,
            "parent_id": self.parent_id,
        }
        out.update(self.extra)
        return out


@dataclass(frozen=True, slots=True)
class Event:
    action: str
    actor: Actor
    source: str
    entity: Entity = field(default_factory=Entity)
    id: str | None = None
    seq: int | None = None
    org: str | None = None
    timestamp: str | None = None
    recorded_at: str | None = None
    entity_ids: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()
    context: Context = field(default_factory=Context)
    metadata: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    prev_hash: str | None = None
    hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "seq": self.seq,
            "org": self.org,
            "timestamp": self.timestamp,
            "recorded_at": self.recorded_at,
            "action": self.action,
            "actor": self.actor.to_dict(),
            "source": self.source,
            "entity": self.entity.to_dict(),
            "entity_ids": list(self.entity_ids),
            "changes": [c.to_dict() for c in self.changes],
            "context": self.context.to_dict(),
            "metadata": self.metadata,
            "schema_version": self.schema_version,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    def content_dict(self) -> dict[str, Any]:
        """The event without the fields a store assigns: what idempotency compares."""
        data = self.to_dict()
        for key in STORE_ASSIGNED:
            data.pop(key, None)
        return data

    def with_store_fields(self, **values: Any) -> Event:
        return replace(self, **values)

    @staticmethod
    def from_dict(data: Any) -> Event:
        return event_from_dict(data)


# --------------------------------------------------------------------------- ids


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_last_ms = 0
_last_rand = 0


def new_id(now_ms: int | None = None) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, Crockford base32.

    Within one millisecond the random part is incremented, so ids made by one
    process sort in the order they were made.
    """
    global _last_ms, _last_rand
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    if ms == _last_ms:
        _last_rand = (_last_rand + 1) & ((1 << 80) - 1)
    else:
        _last_ms = ms
        _last_rand = int.from_bytes(os.urandom(10), "big")
    return _base32((ms << 80) | _last_rand)


def content_id(event: Event) -> str:
    """A deterministic, ULID-shaped id for an imported event that has none.

    Made from the event's content (and its time, so it still sorts by time):
    re-running the same import finds the same ids and adds nothing.
    """
    import hashlib

    from auditctl import jsonio

    digest = hashlib.sha256(jsonio.canonical(event.content_dict())).digest()
    ms = int(datetime.fromisoformat(event.timestamp).timestamp() * 1000) if event.timestamp else 0
    value = (max(ms, 0) << 80) | int.from_bytes(digest[:10], "big")
    return _base32(value)


def _base32(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_correlation_id() -> str:
    import secrets

    return secrets.token_hex(16)


# --------------------------------------------------------------------------- times


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds and ``Z``: fixed width, so it sorts as text."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}Z"
    )


# Lone surrogates (e.g. from a JSON "\\ud800" escape) are not text: they cannot be
# written as UTF-8, so they are rejected at the door rather than crash a writer.
_SURROGATE = re.compile("[\ud800-\udfff]")

_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
# An id is printable text without spaces: no control characters, no space, no DEL.
_ID_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")


def normalize_time(value: Any, field_name: str) -> str:
    """Accept an RFC 3339 / ISO 8601 time with any offset; return canonical UTC text."""
    if not isinstance(value, str):
        raise ValidationError(
            f"{field_name} must be an RFC 3339 time string, got {type(value).__name__}",
            field_name,
        )
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"{field_name} is not a valid time: {value[:64]!r}",
            field_name,
            hint="use RFC 3339, e.g. 2026-11-25T01:14:01Z",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise ValidationError(f"{field_name} is out of range: {value[:64]!r}", field_name) from None
    if not (MIN_YEAR <= utc.year <= MAX_YEAR):
        raise ValidationError(
            f"{field_name} is out of range ({MIN_YEAR}–{MAX_YEAR}): {value[:64]!r}", field_name
        )
    if _CANONICAL_TIME.match(text):
        return text
    return format_time(utc)


def parse_stored_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --------------------------------------------------------------------------- validation


def _require_str(value: Any, name: str, *, optional: bool = True, max_len: int = MAX_STRING_LEN) -> str | None:
    if value is None:
        if optional:
            return None
        raise ValidationError(f"{name} is required", name)
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}", name)
    if len(value) > max_len:
        raise ValidationError(f"{name} is too long ({len(value)} characters, at most {max_len})", name)
    if "\x00" in value:
        raise ValidationError(f"{name} contains a NUL character", name)
    if not value.isascii() and _SURROGATE.search(value):  # isascii() is O(1): most text skips the scan
        raise ValidationError(f"{name} is not valid Unicode text (lone surrogate)", name)
    if not value:
        if not optional:
            raise ValidationError(f"{name} must not be empty", name)
        # An empty optional field says nothing: store it as absent, so that JSON and
        # CSV (which cannot tell "" from missing) round-trip to the same event.
        return None
    return value


def _choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if value is None or value == "":
        raise ValidationError(f"{name} is required (one of: {', '.join(allowed)})", name)
    if value not in allowed:
        shown = value if isinstance(value, str) else type(value).__name__
        raise ValidationError(
            f"unknown {name} {str(shown)[:64]!r}; allowed: {', '.join(allowed)}", name
        )
    return value  # type: ignore[no-any-return]


def check_json_value(value: Any, name: str, depth: int = 0) -> None:
    """Reject what JSON cannot carry faithfully, and structures too deep to be sane."""
    if depth > MAX_JSON_DEPTH:
        raise ValidationError(f"{name} is nested deeper than {MAX_JSON_DEPTH} levels", name)
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING_LEN:
            raise ValidationError(
                f"{name} is too long ({len(value)} characters, at most {MAX_STRING_LEN})", name
            )
        if _SURROGATE.search(value):
            raise ValidationError(f"{name} is not valid Unicode text (lone surrogate)", name)
        return
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValidationError(f"{name} must be a finite number", name)
        return
    if isinstance(value, list):
        for item in value:
            check_json_value(item, name, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or _SURROGATE.search(key):
                raise ValidationError(f"{name} has a key that is not valid text", name)
            check_json_value(item, f"{name}.{key}" if depth < 3 else name, depth + 1)
        return
    raise ValidationError(f"{name} holds a {type(value).__name__}, which JSON cannot carry", name)


_TOP_LEVEL_KEYS = frozenset(
    {
        "id",
        "seq",
        "org",
        "timestamp",
        "recorded_at",
        "action",
        "actor",
        "source",
        "entity",
        "entity_ids",
        "changes",
        "context",
        "metadata",
        "schema_version",
        "prev_hash",
        "hash",
    }
)


_ACTOR_KEYS = frozenset({"type", "id", "email"})
_ENTITY_KEYS = frozenset({"type", "id"})
_CHANGE_KEYS = frozenset({"field", "old", "new"})


def event_from_dict(data: Any) -> Event:
    if not isinstance(data, dict):
        raise ValidationError(f"an event must be a JSON object, got {type(data).__name__}")
    # issuperset() is one C loop: the common case (no stray keys) skips the list.
    unknown = [] if _TOP_LEVEL_KEYS.issuperset(data) else [k for k in data if k not in _TOP_LEVEL_KEYS]
    if unknown:
        raise ValidationError(
            f"unknown field {str(unknown[0])[:64]!r} in event",
            str(unknown[0])[:64],
            hint="put extra data under \"metadata\"",
        )

    action = _choice(data.get("action"), "action", ACTIONS)

    raw_actor = data.get("actor")
    if not isinstance(raw_actor, dict):
        raise ValidationError(
            "actor is required: an object with type and id (or email for users)", "actor"
        )
    actor_type = _choice(raw_actor.get("type"), "actor.type", ACTOR_TYPES)
    actor_id = _require_str(raw_actor.get("id"), "actor.id", max_len=MAX_ID_LEN * 2)
    actor_email = _require_str(raw_actor.get("email"), "actor.email", max_len=320)
    extra_actor = [] if _ACTOR_KEYS.issuperset(raw_actor) else [k for k in raw_actor if k not in _ACTOR_KEYS]
    if extra_actor:
        raise ValidationError(f"unknown field actor.{str(extra_actor[0])[:64]}", "actor")
    if not actor_id and not (actor_type == "user" and actor_email):
        need = "actor.id or actor.email" if actor_type == "user" else "actor.id"
        raise ValidationError(f"{need} is required", "actor.id")

    source = _choice(data.get("source"), "source", SOURCES)

    raw_entity = data.get("entity")
    if raw_entity is None:
        raw_entity = {}
    if not isinstance(raw_entity, dict):
        raise ValidationError("entity must be an object with type and id", "entity")
    extra_entity = [] if _ENTITY_KEYS.issuperset(raw_entity) else [k for k in raw_entity if k not in _ENTITY_KEYS]
    if extra_entity:
        raise ValidationError(f"unknown field entity.{str(extra_entity[0])[:64]}", "entity")
    entity_type = _require_str(raw_entity.get("type"), "entity.type", max_len=MAX_ID_LEN)
    entity_id = _require_str(raw_entity.get("id"), "entity.id", max_len=MAX_ID_LEN * 2)
    if not entity_type and action not in ENTITYLESS_ACTIONS:
        raise ValidationError(f"entity.type is required for {action} events", "entity.type")

    raw_ids = data.get("entity_ids") or []
    if not isinstance(raw_ids, list):
        raise ValidationError("entity_ids must be a list of strings", "entity_ids")
    if len(raw_ids) > MAX_ENTITY_IDS:
        raise ValidationError(f"entity_ids has more than {MAX_ENTITY_IDS} entries", "entity_ids")
    entity_ids = tuple(
        _require_str(v, "entity_ids[]", optional=False, max_len=MAX_ID_LEN * 2) or "" for v in raw_ids
    )

    raw_changes = data.get("changes") or []
    if not isinstance(raw_changes, list):
        raise ValidationError("changes must be a list of {field, old, new} objects", "changes")
    if len(raw_changes) > MAX_CHANGES:
        raise ValidationError(f"changes has more than {MAX_CHANGES} entries", "changes")
    changes = []
    for raw in raw_changes:
        if not isinstance(raw, dict):
            raise ValidationError("each change must be an object with field, old and/or new", "changes")
        extra_change = [] if _CHANGE_KEYS.issuperset(raw) else [k for k in raw if k not in _CHANGE_KEYS]
        if extra_change:
            raise ValidationError(f"unknown field changes[].{str(extra_change[0])[:64]}", "changes")
        name = _require_str(raw.get("field"), "changes[].field", optional=False, max_len=MAX_ID_LEN * 2)
        old = raw.get("old", MISSING) if "old" in raw else MISSING
        new = raw.get("new", MISSING) if "new" in raw else MISSING
        if old is not MISSING:
            check_json_value(old, f"changes[{name}].old", 1)
        if new is not MISSING:
            check_json_value(new, f"changes[{name}].new", 1)
        if action == "create" and old is not MISSING:
            raise ValidationError(f"a create carries only new values (changes[{name}] has old)", "changes")
        if action == "delete" and new is not MISSING:
            raise ValidationError(f"a delete carries only old values (changes[{name}] has new)", "changes")
        if old is MISSING and new is MISSING:
            raise ValidationError(f"changes[{name}] has neither old nor new", "changes")
        changes.append(Change(name or "", old, new))

    raw_context = data.get("context") or {}
    if not isinstance(raw_context, dict):
        raise ValidationError("context must be an object", "context")
    ctx_values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw_context.items():
        if key in CONTEXT_FIELDS:
            ctx_values[key] = _require_str(value, f"context.{key}", max_len=4096 if key != "reason" else MAX_STRING_LEN)
        else:
            _require_str(key, "context key", max_len=MAX_ID_LEN)
            check_json_value(value, f"context.{key}", 1)
            extra[key] = value
    context = Context(**ctx_values, extra=extra)

    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ValidationError("metadata must be an object", "metadata")
    check_json_value(metadata, "metadata", 0)

    event_id = _require_str(data.get("id"), "id", max_len=MAX_ID_LEN)
    if event_id is not None:
        if not event_id.strip() or _ID_FORBIDDEN.search(event_id):
            raise ValidationError("id must be non-empty printable text without spaces", "id")

    seq = data.get("seq")
    if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool) or seq < 1):
        raise ValidationError("seq must be a positive integer", "seq")
    org = _require_str(data.get("org"), "org", max_len=MAX_ID_LEN)
    timestamp = data.get("timestamp")
    timestamp = normalize_time(timestamp, "timestamp") if timestamp is not None else None
    recorded_at = data.get("recorded_at")
    recorded_at = normalize_time(recorded_at, "recorded_at") if recorded_at is not None else None
    version = data.get("schema_version", SCHEMA_VERSION)
    if version is None:
        version = SCHEMA_VERSION
    if version != SCHEMA_VERSION:
        raise ValidationError(
            f"schema_version {str(version)[:16]} is not supported (this auditctl reads {SCHEMA_VERSION})",
            "schema_version",
        )
    prev_hash = _require_str(data.get("prev_hash"), "prev_hash", max_len=128)
    hash_ = _require_str(data.get("hash"), "hash", max_len=128)

    return Event(
        action=action,
        actor=Actor(actor_type, actor_id, actor_email),
        source=source,
        entity=Entity(entity_type, entity_id),
        id=event_id,
        seq=seq,
        org=org,
        timestamp=timestamp,
        recorded_at=recorded_at,
        entity_ids=entity_ids,
        changes=tuple(changes),
        context=context,
        metadata=metadata,
        schema_version=SCHEMA_VERSION,
        prev_hash=prev_hash,
        hash=hash_,
    )
