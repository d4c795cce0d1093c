"""Choose a store by URL scheme: a path or ``sqlite:///path`` → SQLite; ``http(s)://`` → server."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from auditctl.errors import UsageError

if TYPE_CHECKING:
    from auditctl.store.base import Store


def open_store(
    url: str,
    *,
    create: bool = False,
    token: str | None = None,
    org: str = "default",
    redact_patterns: list[str] | None = None,
    chain_key: str | None = None,
    timeout: float | None = None,
) -> Store:
    """Open the store ``url`` names; ``create`` only for commands that write.

    ``timeout``: seconds a remote store may take for one call, retries included.
    """
    if url.startswith(("http://", "https://")):
        from auditctl.store.http import HttpStore

        return HttpStore(url, token=token) if timeout is None else HttpStore(url, token=token, timeout=timeout)
    if "://" in url and not url.startswith("sqlite://"):
        scheme = url.split("://", 1)[0]
        raise UsageError(f"unknown store scheme {scheme!r}", hint="use a path, sqlite:///path, http:// or https://")
    # sqlite:///abs/path → /abs/path; sqlite://rel.db → rel.db; a bare path stays.
    path = url.removeprefix("sqlite://")
    # Each backend is imported when chosen; the redactor (only the local one uses it)
    # when patterns other than the defaults are set: the store loads those on first write.
    from auditctl.names import DEFAULT_PATTERNS
    from auditctl.store.sqlite import SQLiteStore

    redactor = None
    if redact_patterns is not None and tuple(redact_patterns) != DEFAULT_PATTERNS:
        from auditctl.redact import Redactor

        redactor = Redactor(redact_patterns)
    return SQLiteStore(
        Path(path).expanduser(),
        create=create,
        org=org,
        redactor=redactor,
        chain_key=chain_key.encode() if chain_key else None,
    )
