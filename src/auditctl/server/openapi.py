"""Request-body schemas for the OpenAPI document.

The server reads bodies itself (size limits, NDJSON, UTF-8 checks) and validates
events with ``Event.from_dict``, the one schema; these describe that schema for
clients and for the fuzzing test.
"""

from __future__ import annotations

from typing import Any

from auditctl.model import ACTIONS, ACTOR_TYPES, SOURCES

_TEXT: dict[str, Any] = {"type": ["string", "null"], "maxLength": 256}

EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["action", "actor", "source"],
    "properties": {
        "id": _TEXT,
        "timestamp": {"type": ["string", "null"], "format": "date-time"},
        "action": {"type": "string", "enum": list(ACTIONS)},
        "actor": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"type": "string", "enum": list(ACTOR_TYPES)}, "id": _TEXT, "email": _TEXT},
        },
        "source": {"type": "string", "enum": list(SOURCES)},
        "entity": {"type": "object", "properties": {"type": _TEXT, "id": _TEXT}},
        "entity_ids": {"type": "array", "items": {"type": "string"}},
        "changes": {
            "type": "array",
            "items": {"type": "object", "required": ["field"], "properties": {"field": {"type": "string"}, "old": {}, "new": {}}},
        },
        "context": {"type": "object"},
        "metadata": {"type": "object"},
    },
}

EVENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"oneOf": [EVENT_SCHEMA, {"type": "array", "items": EVENT_SCHEMA}]}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}

PURGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "older_than": {"type": ["string", "null"], "example": "45d"},
                        "before": {"type": ["string", "null"], "format": "date-time"},
                        "dry_run": {"type": "boolean", "default": False},
                        "force": {"type": "boolean", "default": False},
                        "reason": {"type": ["string", "null"], "maxLength": 1024},
                    },
                }
            }
        },
    }
}

TOKEN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["role"],
                    "properties": {
                        "role": {"type": "string", "enum": ["admin", "auditor", "writer"]},
                        "name": {"type": ["string", "null"]},
                        "expires": {"type": ["string", "null"], "example": "90d"},
                    },
                }
            }
        },
    }
}


def _param(name: str, description: str, *, many: bool = False, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    item = schema or {"type": "string", "maxLength": 256}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "array", "items": item, "maxItems": 16} if many else item,
        **({"style": "form", "explode": True} if many else {}),
    }


FILTER_PARAMS: list[dict[str, Any]] = [
    _param("q", "search terms: case-insensitive substrings (repeat: all must match)", many=True),
    _param("action", "action (repeat = OR)", many=True, schema={"type": "string", "enum": list(ACTIONS)}),
    _param("entity", "entity type"),
    _param("entity_id", "entity id, also among a bulk action's entity_ids"),
    _param("source", "source (repeat = OR)", many=True, schema={"type": "string", "enum": list(SOURCES)}),
    _param("actor", "actor id or email"),
    _param("actor_type", "actor type (repeat = OR)", many=True, schema={"type": "string", "enum": list(ACTOR_TYPES)}),
    _param("correlation_id", "correlation id"),
    _param("changed", "a changed field's name"),
    _param("since", "from this time (inclusive): RFC 3339, 7d, 24h, …"),
    _param("until", "before this time (exclusive)"),
    _param("reverse", "oldest first", schema={"type": "boolean"}),
]
PAGE_PARAMS: list[dict[str, Any]] = [
    _param("limit", "page size (default 50, at most 1000)", schema={"type": "integer", "minimum": 1, "maximum": 1000}),
    _param("cursor", "next_cursor (or X-Next-Cursor) of the previous page, unchanged"),
]
