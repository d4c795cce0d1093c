"""What one request may ask of the server, and the checks that keep it to that.

Every bound answers with a 4xx JSON error that names the problem; nothing a client
sends can make the server use unbounded memory or time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from auditctl import jsonio
from auditctl.errors import TooLarge, UsageError, ValidationError

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_body: int = 10 * MiB
    max_small_body: int = 64 * 1024  # purge and other small JSON requests
    max_batch: int = 10_000
    default_page: int = 50
    max_page: int = 1000
    max_future: timedelta = timedelta(days=1)
    max_path_key: int = 256  # an id, seq or correlation id in the path
    max_user_agent: int = 512


async def read_body(chunks: AsyncIterator[bytes], content_length: str | None, limit: int) -> bytes:
    """The whole request body, refusing (413) as soon as it passes ``limit`` bytes."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise UsageError("Content-Length is not a number") from None
        if declared > limit:
            raise TooLarge(f"request body is {declared} bytes; the limit is {limit}",
                           hint="send fewer events per request")
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"request body is larger than the limit of {limit} bytes",
                           hint="send fewer events per request")
    return bytes(body)


def decode_utf8(body: bytes) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"request body is not valid UTF-8 (bad byte at offset {exc.start})") from None
    return text.removeprefix("\ufeff")


def check_encodable(value: Any, where: str) -> None:
    """Refuse lone surrogates (``"\\ud800"``): JSON can spell them, UTF-8 cannot store them."""
    try:
        jsonio.dumps(value).encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{where}: a string holds a lone UTF-16 surrogate, which is not valid Unicode") from None


NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def event_items(text: str, content_type: str, max_batch: int) -> list[tuple[int, int | None, Any]]:
    """The events of a body as (position, line, value): NDJSON lines are left as text,
    with their line number, for whoever prepares them to parse (``server.prep``);
    other bodies are parsed here, by ``parse_events_body``."""
    stripped = text.strip()
    if _media_type(content_type) in NDJSON_TYPES and stripped:
        numbered = [(number, line) for number, line in enumerate(stripped.splitlines(), 1) if line.strip()]
        if len(numbered) <= max_batch:
            return [(index, number, line) for index, (number, line) in enumerate(numbered)]
    return [(index, None, value) for index, value in enumerate(parse_events_body(text, content_type, max_batch))]


def parse_events_body(text: str, content_type: str, max_batch: int) -> list[Any]:
    """One JSON object, a JSON array, or NDJSON: the raw items, in order."""
    kind = _media_type(content_type)
    stripped = text.strip()
    if not stripped:
        raise ValidationError("request body is empty; send an event, an array of events or NDJSON")
    if kind in NDJSON_TYPES:
        lines = [line for line in stripped.splitlines() if line.strip()]
        if len(lines) <= max_batch and (fast := jsonio.loads_each_fast(lines)) is not None:
            return fast  # valid Unicode throughout: no check_encodable
        # Line by line: the first bad line (or the one past the limit) is reported.
        items: list[Any] = []
        for number, line in enumerate(stripped.splitlines(), 1):
            if not line.strip():
                continue
            if len(items) >= max_batch:
                raise TooLarge(f"more than {max_batch} events in one request", hint="split the batch")
            items.append(jsonio.loads(line, f"line {number}"))
        check_encodable(items, "request body")
        return items
    if kind not in ("application/json", ""):
        raise UsageError(f"unsupported content type {kind[:64]!r}; use application/json or application/x-ndjson")
    value = jsonio.loads(stripped, "request body")
    check_encodable(value, "request body")
    items = value if isinstance(value, list) else [value]
    if len(items) > max_batch:
        raise TooLarge(f"{len(items)} events in one request; the limit is {max_batch}", hint="split the batch")
    if not items:
        raise ValidationError("the array of events is empty")
    return items
