"""``auditctl serve``: the HTTP API over a local store (imports FastAPI; load only to serve)."""

from __future__ import annotations

from auditctl.server.app import ServerSettings, create_app

__all__ = ["ServerSettings", "create_app"]
