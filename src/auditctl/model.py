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
from auditctl.names import CONTEXT_FIELDS

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
# Actions that need no entity: a session is not about a thing.
ENTITYLESS_ACTIONS = frozenset({"login", "logout"})

# Fields the store assigns; a client may carry them (an export does) but the store
# decides their value, and they take no part in "is this the same event?".
STORE_ASSIGNED = ("seq", "org", "recorded_at", "schema_version", "prev_hash", "hash")

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
        return _change_record(self.field, self.old, self.new)


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
        return _context_record(self.ip, self.user_agent, self.correlation_id, self.reason, self.api_key_id,
                               self.impersonator, self.parent_id, self.extra)


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
        # Runs for every event stored, hashed or exported: the actor and entity are
        # written out by _event_record rather than through their to_dict() (the same
        # dicts; tests/test_model_fast_path.py holds them to it).
        actor, entity = self.actor, self.entity
        return _event_record(
            self.id, self.seq, self.org, self.timestamp, self.recorded_at, self.action, actor.type, actor.id,
            actor.email, self.source, entity.type, entity.id, list(self.entity_ids),
            [c.to_dict() for c in self.changes] if self.changes else [], self.context.to_dict(), self.metadata,
            self.schema_version, self.prev_hash, self.hash,
        )

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
    """Validate a JSON object as an event; a ValidationError names the offending field.

    Import spends most of its Python time here, so the common shape — every value
    already in the form it is stored in — takes ``_fast_event_from_dict``, which only
    checks. Anything it is unsure of (a bad value, but also an empty string to drop,
    a time to normalise, a ``schema_version`` of ``1.0``) goes to the full path,
    which decides and words the error. tests/test_model_fast_path.py holds the two
    to the same answers.
    """
    event = _fast_event_from_dict(data) if type(data) is dict else None
    return event if event is not None else _event_from_dict_full(data)


def _event_from_dict_full(data: Any) -> Event:
    """Every rule, in order, each failure worded for the user: the reference path."""
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


# --------------------------------------------------------------------------- fast path
#
# Each check below answers one question: would the full path accept this value and
# keep it exactly as it is? Only exact built-in types qualify (a str or dict subclass
# goes the long way), and a "no" is never an error here, only a hand-over.

_ACTION_SET = frozenset(ACTIONS)
_ACTOR_TYPE_SET = frozenset(ACTOR_TYPES)
_SOURCE_SET = frozenset(SOURCES)
_CONTEXT_KEYS = frozenset(CONTEXT_FIELDS)
_NO_CONTEXT: dict[str, Any] = {}  # read, never written
# The length limit of each schema context field, as the full path applies it.
_CONTEXT_LIMITS = {name: (MAX_STRING_LEN if name == "reason" else 4096) for name in CONTEXT_FIELDS}


# A frozen dataclass sets each field through object.__setattr__: a generic lookup and
# call per field, most of what building an Event costs. The fast path fills in a plain
# class with the very same slots and then gives the object its real class (allowed
# between identical slot layouts); what comes out is an ordinary frozen instance.
def _draft_class(cls: type) -> type:
    return type(f"_{cls.__name__}Draft", (), {"__slots__": vars(cls)["__slots__"]})


_ActorDraft = _draft_class(Actor)
_EntityDraft = _draft_class(Entity)
_ChangeDraft = _draft_class(Change)
_ContextDraft = _draft_class(Context)
_EventDraft = _draft_class(Event)
_new = object.__new__


def _new_change(name: Any, old: Any, new: Any) -> Change:
    change: Any = _new(_ChangeDraft)
    change.field = name
    change.old = old
    change.new = new
    change.__class__ = Change
    return change


def _new_context(raw: dict[str, Any], extra: dict[str, Any]) -> Context:
    """A Context with the schema fields found in ``raw`` (other keys are not read) and ``extra``."""
    context: Any = _new(_ContextDraft)
    get = raw.get
    context.ip = get("ip")
    context.user_agent = get("user_agent")
    context.correlation_id = get("correlation_id")
    context.reason = get("reason")
    context.api_key_id = get("api_key_id")
    context.impersonator = get("impersonator")
    context.parent_id = get("parent_id")
    context.extra = extra
    context.__class__ = Context
    return context


def _kept_text(value: Any, max_len: int) -> bool:
    """Would ``_require_str`` return ``value`` itself (non-empty, short enough, valid text)?"""
    return (
        type(value) is str
        and 0 < len(value) <= max_len
        and "\x00" not in value
        and (value.isascii() or _SURROGATE.search(value) is None)
    )


def _json_ok(value: Any, depth: int) -> bool:
    """True only if ``check_json_value(value, name, depth)`` passes; builds no names."""
    kind = type(value)
    if kind is str:
        return len(value) <= MAX_STRING_LEN and (value.isascii() or _SURROGATE.search(value) is None)
    if value is None or kind is int or kind is bool:
        return True
    if kind is float:
        return math.isfinite(value)
    if depth >= MAX_JSON_DEPTH:  # its items would be too deep: let the full check decide
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or _SURROGATE.search(key) is None):
                return False
            if type(item) is str:  # the usual item, checked here to save a call
                if len(item) > MAX_STRING_LEN or not (item.isascii() or _SURROGATE.search(item) is None):
                    return False
            elif not _json_ok(item, depth + 1):
                return False
        return True
    if kind is list:
        for item in value:
            if not _json_ok(item, depth + 1):
                return False
        return True
    return False


def _canonical_time(value: Any) -> bool:
    """Would ``normalize_time`` accept ``value`` and return it unchanged?"""
    if type(value) is not str or _CANONICAL_TIME.match(value) is None:
        return False
    try:
        # Zulu time: astimezone(UTC) is the identity, so the year checked is this one.
        return datetime.fromisoformat(value).year >= MIN_YEAR
    except ValueError:
        return False


def _fast_checked(data: dict[str, Any]) -> tuple[Any, ...] | None:
    """The fields of ``data`` if it is already in stored form and valid; else None.

    Only checks: ``_fast_event_from_dict`` builds the event from what it returns,
    ``fast_record`` the event's ``to_dict()``."""
    if not _TOP_LEVEL_KEYS.issuperset(data):
        return None
    get = data.get

    action = get("action")
    if type(action) is not str or action not in _ACTION_SET:
        return None

    raw_actor = get("actor")
    if type(raw_actor) is not dict or not _ACTOR_KEYS.issuperset(raw_actor):
        return None
    actor_type = raw_actor.get("type")
    actor_id = raw_actor.get("id")
    actor_email = raw_actor.get("email")
    if (
        type(actor_type) is not str
        or actor_type not in _ACTOR_TYPE_SET
        or (actor_id is not None and not _kept_text(actor_id, MAX_ID_LEN * 2))
        or (actor_email is not None and not _kept_text(actor_email, 320))
        or (actor_id is None and (actor_type != "user" or actor_email is None))
    ):
        return None

    source = get("source")
    if type(source) is not str or source not in _SOURCE_SET:
        return None

    raw_entity = get("entity")
    if raw_entity is None:
        entity_type = entity_id = None
    elif type(raw_entity) is dict and _ENTITY_KEYS.issuperset(raw_entity):
        entity_type = raw_entity.get("type")
        entity_id = raw_entity.get("id")
        if (entity_type is not None and not _kept_text(entity_type, MAX_ID_LEN)) or (
            entity_id is not None and not _kept_text(entity_id, MAX_ID_LEN * 2)
        ):
            return None
    else:
        return None
    if entity_type is None and action not in ENTITYLESS_ACTIONS:
        return None

    raw_ids = get("entity_ids")
    if raw_ids is None:
        entity_ids: tuple[str, ...] = ()
    elif type(raw_ids) is list and len(raw_ids) <= MAX_ENTITY_IDS:
        for value in raw_ids:
            if not _kept_text(value, MAX_ID_LEN * 2):
                return None
        entity_ids = tuple(raw_ids)
    else:
        return None

    raw_changes = get("changes")
    changes: list[tuple[Any, Any, Any]] = []
    if raw_changes is not None:
        if type(raw_changes) is not list or len(raw_changes) > MAX_CHANGES:
            return None
        for raw in raw_changes:
            if type(raw) is not dict or not _CHANGE_KEYS.issuperset(raw):
                return None
            name = raw.get("field")
            old = raw.get("old", MISSING)
            new = raw.get("new", MISSING)
            if not _kept_text(name, MAX_ID_LEN * 2):
                return None
            if old is MISSING and new is MISSING:
                return None
            if old is not MISSING and (action == "create" or not _json_ok(old, 1)):
                return None
            if new is not MISSING and (action == "delete" or not _json_ok(new, 1)):
                return None
            changes.append((name, old, new))

    raw_context = get("context")
    extra: dict[str, Any] = {}
    if raw_context is None:
        raw_context = _NO_CONTEXT
    elif type(raw_context) is dict and _CONTEXT_KEYS.issuperset(raw_context):
        # The usual context: schema fields only. (A reason longer than the other
        # fields' limit takes the full path.)
        for value in raw_context.values():
            if value is not None and not _kept_text(value, 4096):
                return None
    elif type(raw_context) is dict:
        for key, value in raw_context.items():
            limit = _CONTEXT_LIMITS.get(key) if type(key) is str else None
            if limit is not None:
                if value is not None and not _kept_text(value, limit):
                    return None
            elif _kept_text(key, MAX_ID_LEN) and _json_ok(value, 1):
                extra[key] = value
            else:
                return None
    else:
        return None

    metadata = get("metadata")
    if metadata is None:
        metadata = {}
    elif type(metadata) is not dict or not _json_ok(metadata, 0):
        return None
    elif not metadata:
        metadata = {}  # as the full path's `or {}`: never the caller's empty dict

    event_id = get("id")
    # Printable ASCII without a space has no _ID_FORBIDDEN character and is not blank.
    if event_id is not None and not (
        _kept_text(event_id, MAX_ID_LEN) and event_id.isascii() and event_id.isprintable() and " " not in event_id
    ):
        return None
    seq = get("seq")
    if seq is not None and (type(seq) is not int or seq < 1):
        return None
    org = get("org")
    if org is not None and not _kept_text(org, MAX_ID_LEN):
        return None
    timestamp = get("timestamp")
    if timestamp is not None and not _canonical_time(timestamp):
        return None
    recorded_at = get("recorded_at")
    if recorded_at is not None and not _canonical_time(recorded_at):
        return None
    version = get("schema_version")
    if version is not None and (type(version) is not int or version != SCHEMA_VERSION):
        return None
    prev_hash = get("prev_hash")
    if prev_hash is not None and not _kept_text(prev_hash, 128):
        return None
    hash_ = get("hash")
    if hash_ is not None and not _kept_text(hash_, 128):
        return None

    return (action, actor_type, actor_id, actor_email, source, entity_type, entity_id, entity_ids, changes,
            raw_context, extra, metadata, event_id, seq, org, timestamp, recorded_at, prev_hash, hash_)


def _fast_event_from_dict(data: dict[str, Any]) -> Event | None:
    """The event, if ``data`` is already in stored form and valid; else None."""
    checked = _fast_checked(data)
    if checked is None:
        return None
    (action, actor_type, actor_id, actor_email, source, entity_type, entity_id, entity_ids, changes,
     raw_context, extra, metadata, event_id, seq, org, timestamp, recorded_at, prev_hash, hash_) = checked
    actor: Any = _new(_ActorDraft)
    actor.type = actor_type
    actor.id = actor_id
    actor.email = actor_email
    actor.__class__ = Actor
    entity: Any = _new(_EntityDraft)
    entity.type = entity_type
    entity.id = entity_id
    entity.__class__ = Entity
    event: Any = _new(_EventDraft)
    event.action = action
    event.actor = actor
    event.source = source
    event.entity = entity
    event.id = event_id
    event.seq = seq
    event.org = org
    event.timestamp = timestamp
    event.recorded_at = recorded_at
    event.entity_ids = entity_ids
    event.changes = tuple([_new_change(*change) for change in changes])
    event.context = _new_context(raw_context, extra)
    event.metadata = metadata
    event.schema_version = SCHEMA_VERSION
    event.prev_hash = prev_hash
    event.hash = hash_
    event.__class__ = Event
    return event


def fast_record(data: Any) -> dict[str, Any] | None:
    """``event_from_dict(data).to_dict()`` if ``data`` takes the fast path; else None.

    Import's workers need only the record, so for them the event's objects were
    built just to be written out again. The dict is the one ``Event.to_dict``
    writes, key for key; tests/test_model_fast_path.py holds the two to each other.
    """
    checked = _fast_checked(data) if type(data) is dict else None
    if checked is None:
        return None
    (action, actor_type, actor_id, actor_email, source, entity_type, entity_id, entity_ids, changes,
     raw_context, extra, metadata, event_id, seq, org, timestamp, recorded_at, prev_hash, hash_) = checked
    get = raw_context.get
    context = _context_record(get("ip"), get("user_agent"), get("correlation_id"), get("reason"), get("api_key_id"),
                              get("impersonator"), get("parent_id"), extra)
    return _event_record(
        event_id, seq, org, timestamp, recorded_at, action, actor_type, actor_id, actor_email, source, entity_type,
        entity_id, list(entity_ids), [_change_record(*change) for change in changes], context, metadata,
        SCHEMA_VERSION, prev_hash, hash_,
    )


# The stored JSON's shape, written once: Event.to_dict and fast_record both build
# their dicts here, key for key in the order the store keeps.
def _event_record(event_id: str | None, seq: int | None, org: str | None, timestamp: str | None,
                  recorded_at: str | None, action: str, actor_type: str, actor_id: str | None,
                  actor_email: str | None, source: str, entity_type: str | None, entity_id: str | None,
                  entity_ids: list[str], changes: list[dict[str, Any]], context: dict[str, Any],
                  metadata: dict[str, Any], schema_version: int, prev_hash: str | None,
                  hash_: str | None) -> dict[str, Any]:
    return {
        "id": event_id,
        "seq": seq,
        "org": org,
        "timestamp": timestamp,
        "recorded_at": recorded_at,
        "action": action,
        "actor": {"type": actor_type, "id": actor_id, "email": actor_email},
        "source": source,
        "entity": {"type": entity_type, "id": entity_id},
        "entity_ids": entity_ids,
        "changes": changes,
        "context": context,
        "metadata": metadata,
        "schema_version": schema_version,
        "prev_hash": prev_hash,
        "hash": hash_,
    }


def _context_record(ip: str | None, user_agent: str | None, correlation_id: str | None, reason: str | None,
                    api_key_id: str | None, impersonator: str | None, parent_id: str | None,
                    extra: dict[str, Any]) -> dict[str, Any]:
    """``Context.to_dict``: the schema's seven fields, then any extra keys."""
    out: dict[str, Any] = {
        "ip": ip,
        "user_agent": user_agent,
        "correlation_id": correlation_id,
        "reason": reason,
        "api_key_id": api_key_id,
        "impersonator": impersonator,
        "parent_id": parent_id,
    }
    if extra:
        out.update(extra)
    return out


def _change_record(name: str, old: Any, new: Any) -> dict[str, Any]:
    """``Change.to_dict``, from its fields: an old or new value that is missing is left out."""
    if old is not MISSING and new is not MISSING:  # the common update
        return {"field": name, "old": old, "new": new}
    out: dict[str, Any] = {"field": name}
    if old is not MISSING:
        out["old"] = old
    if new is not MISSING:
        out["new"] = new
    return out
