"""Opaque paging cursors: a position in one query's order, checked strictly.

A cursor is base64url of a small JSON object: the (timestamp, seq) of the last event
sent, the direction, and a fingerprint of the filters, so a cursor cannot be
replayed against another query. Clients must treat it as an opaque string.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import replace

from auditctl import jsonio
from auditctl.errors import UsageError
from auditctl.query import Query

VERSION = 1
MAX_CURSOR_LEN = 512
_CHARS = re.compile(r"[A-Za-z0-9_\-]+\Z")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
_MAX_SEQ = 2**62


def fingerprint(query: Query) -> str:
    """What the filters are, without the paging fields."""
    neutral = replace(query, limit=None, after=None, org=None)
    return hashlib.sha256(jsonio.canonical(neutral.to_params())).hexdigest()[:16]


def encode(query: Query, timestamp: str, seq: int) -> str:
    body = {"v": VERSION, "t": timestamp, "s": seq, "r": query.reverse, "q": fingerprint(query)}
    return base64.urlsafe_b64encode(jsonio.canonical(body)).decode("ascii").rstrip("=")


def decode(cursor: str, query: Query) -> tuple[str, int]:
    """The position a cursor names; UsageError (400) for anything not made by ``encode``."""
    bad = UsageError("invalid cursor", hint="pass back the next_cursor of the previous page unchanged")
    if not cursor or len(cursor) > MAX_CURSOR_LEN or not _CHARS.match(cursor):
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = jsonio.loads(raw, "cursor")
    except (binascii.Error, ValueError, UsageError):
        raise bad from None
    if not isinstance(data, dict) or set(data) != {"v", "t", "s", "r", "q"} or data["v"] != VERSION:
        raise bad
    timestamp, seq, reverse = data["t"], data["s"], data["r"]
    if not isinstance(timestamp, str) or not _TIME.match(timestamp):
        raise bad
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq < _MAX_SEQ:
        raise bad
    if reverse is not query.reverse or data["q"] != fingerprint(query):
        raise UsageError("cursor belongs to a different query", hint="page with the same filters the cursor came from")
    return timestamp, seq
