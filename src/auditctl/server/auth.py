"""Who is asking, and may they: bearer tokens, permissions, and the record of refusals.

401 when there is no valid token (missing, unknown, revoked, expired), 403 when the
token lacks the permission. Every refusal is itself recorded as a ``sensitive_access``
event in the token's organization ("default" when the token is unknown), with the
outcome in its metadata; the presented secret is never stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditctl.errors import AuditError, PermissionDenied, Unauthorized
from auditctl.model import Actor, Context, Entity, Event
from auditctl.names import DEFAULT_ORG
from auditctl.store import tokens
from auditctl.store.tokens import TokenInfo
from auditctl.timeparse import now_text

if TYPE_CHECKING:
    from auditctl.server.app import ServerState
    from auditctl.store.sqlite import SQLiteStore

log = logging.getLogger("auditctl.server")


@dataclass(frozen=True)
class Caller:
    """What the server knows about a request's origin, for the audit trail."""

    ip: str | None
    user_agent: str | None
    method: str
    path: str


def authenticate(state: ServerState, credentials: str | None, caller: Caller) -> TokenInfo:
    """The valid token behind ``credentials``; Unauthorized (recorded) otherwise."""
    if not credentials:
        _deny(state, caller, None, 401, "missing token", None)
    token = None
    with state.pool.acquire() as store:
        token = tokens.lookup(store, credentials or "")
    if token is None:
        _deny(state, caller, None, 401, "unknown token", None)
    assert token is not None
    status = token.status(now_text())
    if status != "active":
        _deny(state, caller, token, 401, f"{status} token", None)
    return token


def allowed_token(store: SQLiteStore, credentials: str | None, *permissions: str) -> TokenInfo | None:
    """The token behind ``credentials`` if it is active and holds any of ``permissions``;
    None otherwise. Reads only, records nothing: on None, ``authenticate`` and
    ``require`` decide again and record the refusal."""
    if not credentials:
        return None
    token = tokens.lookup(store, credentials)
    if token is None or token.status(now_text()) != "active":
        return None
    return token if any(p in token.permissions for p in permissions) else None


def require(state: ServerState, token: TokenInfo, caller: Caller, *permissions: str) -> None:
    """Pass if the token holds any of ``permissions``; PermissionDenied (recorded) otherwise."""
    if not any(p in token.permissions for p in permissions):
        _deny(state, token=token, caller=caller, status=403, reason="missing permission",
              permission=" or ".join(permissions))


def _deny(state: ServerState, caller: Caller, token: TokenInfo | None, status: int, reason: str,
          permission: str | None) -> None:
    record_denial(state, caller, token, status, reason, permission)
    if status == 401:
        raise Unauthorized(
            f"{reason}: a valid API token is required",
            hint="pass --token (or AUDITCTL_TOKEN); an admin makes one with auditctl token create",
        )
    raise PermissionDenied(
        f"token {token.id if token else ''} ({token.role if token else ''}) lacks the permission {permission}",
        hint="ask an admin for a token with a role that holds it",
    )


def record_denial(state: ServerState, caller: Caller, token: TokenInfo | None, status: int, reason: str,
                  permission: str | None) -> None:
    org = token.org if token else DEFAULT_ORG
    event = Event(
        action="sensitive_access",
        actor=Actor("api_key", token.id if token else "anonymous"),
        source="api",
        entity=Entity("api", f"{caller.method} {caller.path}"[:200]),
        context=Context(ip=caller.ip, user_agent=caller.user_agent, api_key_id=token.id if token else None,
                        reason=f"access denied: {reason}"),
        metadata={
            "outcome": "denied",
            "status": status,
            "reason": reason,
            "permission": permission,
            "method": caller.method,
            "path": caller.path[:200],
        },
    )
    try:
        with state.write_lock, state.pool.acquire() as store:
            store.for_org(org).append([event])
    except AuditError as exc:  # the refusal stands even when it cannot be written down
        log.error("could not record a denied access: %s", exc.message)
