"""API tokens for ``auditctl serve``: roles, permissions, and their persistence.

A token is ``actl_`` + 43 random URL-safe characters (256 bits), shown once when it
is made. The store keeps only its SHA-256, so a stolen database file holds no usable
credential; a 256-bit secret needs no salt or slow hash. Each token is bound to one
organization and may expire or be revoked; revoked rows are kept for the record.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from auditctl.errors import NotFound, UsageError

if TYPE_CHECKING:
    from auditctl.store.sqlite import SQLiteStore

PREFIX = "actl_"
MAX_TOKEN_LEN = 256
MAX_NAME_LEN = 128

VIEW = "audit.log.view"
WRITE = "audit.log.write"
PURGE = "audit.log.purge"
MANAGE = "token.manage"
PERMISSIONS = (VIEW, WRITE, PURGE, MANAGE)

# admin is the only role that can read by default (as in the seed).
ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "auditor": frozenset({VIEW}),
    "writer": frozenset({WRITE}),
}


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str | None
    org: str
    role: str
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None

    @property
    def permissions(self) -> frozenset[str]:
        return ROLES.get(self.role, frozenset())

    def status(self, now: str) -> str:
        """``active``, ``revoked`` or ``expired`` at ``now`` (canonical UTC text)."""
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= now:
            return "expired"
        return "active"

    def to_dict(self, now: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "org": self.org,
            "role": self.role,
            "permissions": sorted(self.permissions),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        }
        if now is not None:
            data["status"] = self.status(now)
        return data


_COLUMNS = "id, name, org, role, created_at, expires_at, revoked_at"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def check_role(role: str) -> str:
    value = (role or "").strip().lower()
    if value not in ROLES:
        raise UsageError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return value


def check_org(org: str) -> str:
    value = (org or "").strip()
    if not value or len(value) > 128 or any(ord(ch) < 33 or ord(ch) == 127 for ch in value):
        raise UsageError(f"invalid organization {org[:64]!r}", hint="an org is printable text without spaces")
    return value


def create_token(
    store: SQLiteStore, *, role: str, org: str, name: str | None, created_at: str, expires_at: str | None
) -> tuple[str, TokenInfo]:
    """Make a token; return the secret (shown once) and what is stored about it."""
    if name is not None and len(name) > MAX_NAME_LEN:
        raise UsageError(f"token name is too long (at most {MAX_NAME_LEN} characters)")
    info = TokenInfo(
        id="tok_" + secrets.token_hex(8),
        name=name,
        org=check_org(org),
        role=check_role(role),
        created_at=created_at,
        expires_at=expires_at,
    )
    secret = PREFIX + secrets.token_urlsafe(32)
    with store._errors(), store._write() as conn:
        conn.execute(
            "INSERT INTO api_tokens (id, name, org, role, secret_hash, created_at, expires_at, revoked_at)"
            " VALUES (?,?,?,?,?,?,?,NULL)",
            (info.id, info.name, info.org, info.role, hash_secret(secret), info.created_at, info.expires_at),
        )
    return secret, info


def list_tokens(store: SQLiteStore, org: str | None = None) -> list[TokenInfo]:
    sql = f"SELECT {_COLUMNS} FROM api_tokens"
    params: list[Any] = []
    if org is not None:
        sql += " WHERE org = ?"
        params.append(org)
    with store._errors():
        rows = store.conn.execute(sql + " ORDER BY created_at, id", params).fetchall()
    return [TokenInfo(*row) for row in rows]


def get_token(store: SQLiteStore, token_id: str) -> TokenInfo:
    with store._errors():
        row = store.conn.execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE id = ?", (token_id,)).fetchone()
    if row is None:
        raise NotFound(f"no token with id {token_id[:80]!r}", hint="list them with auditctl token list")
    return TokenInfo(*row)


def revoke_token(store: SQLiteStore, token_id: str, revoked_at: str) -> TokenInfo:
    """Revoke a token (idempotent: revoking twice keeps the first time)."""
    with store._errors(), store._write() as conn:
        conn.execute(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?", (revoked_at, token_id)
        )
    return get_token(store, token_id)


def lookup(store: SQLiteStore, secret: str) -> TokenInfo | None:
    """The token a presented secret belongs to, whatever its status; None if unknown."""
    if not secret.startswith(PREFIX) or len(secret) > MAX_TOKEN_LEN:
        return None
    digest = hash_secret(secret)
    with store._errors():
        row = store.conn.execute(
            f"SELECT {_COLUMNS}, secret_hash FROM api_tokens WHERE secret_hash = ?", (digest,)
        ).fetchone()
    # The index finds the row; the final say is a constant-time comparison.
    if row is None or not hmac.compare_digest(row[-1], digest):
        return None
    return TokenInfo(*row[:-1])


def list_orgs(store: SQLiteStore) -> list[str]:
    """Every organization that has events or tokens (the scheduled purge visits each)."""
    with store._errors():
        rows = store.conn.execute("SELECT org FROM chain_heads UNION SELECT org FROM api_tokens").fetchall()
    return sorted(row[0] for row in rows)
