"""The one home for auditctl's errors and their exit codes (DESIGN §5).

Every layer raises one of these; the CLI catches them in one place and turns them
into a single ``error: …`` line plus an optional hint, and the server turns them
into HTTP answers. Backends convert their library's exceptions (sqlite3, httpx)
into these so nothing above ``store/`` ever sees them.
"""

from __future__ import annotations

OK = 0
UNEXPECTED = 1
USAGE = 2
VERIFY_FAILED = 65
NOT_FOUND = 66
UNREACHABLE = 69
CANNOT_CREATE = 73
IO_ERROR = 74
BUSY = 75
PERMISSION = 77
INTERRUPTED = 130

EXIT_CODES = {
    OK: "ok",
    UNEXPECTED: "unexpected error",
    USAGE: "usage or invalid input",
    VERIFY_FAILED: "verification failed",
    NOT_FOUND: "event not found",
    UNREACHABLE: "remote store unreachable",
    CANNOT_CREATE: "cannot create store",
    IO_ERROR: "I/O error (disk full, corrupt or read-only store)",
    BUSY: "store busy, retry",
    PERMISSION: "permission denied",
    INTERRUPTED: "interrupted",
}


class AuditError(Exception):
    """Base of every error auditctl reports to a user."""

    exit_code = UNEXPECTED
    http_status = 500

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.message, "code": type(self).__name__}
        if self.hint:
            body["hint"] = self.hint
        return body


class UsageError(AuditError):
    exit_code = USAGE
    http_status = 400


class ValidationError(UsageError):
    """Input that does not fit the event schema; ``field`` names where."""

    def __init__(self, message: str, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.field = field


class ConflictError(UsageError):
    """A supplied id already exists with different content."""

    http_status = 409


class VerifyFailed(AuditError):
    exit_code = VERIFY_FAILED
    http_status = 409

    def __init__(self, message: str, seq: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.seq = seq


class NotFound(AuditError):
    exit_code = NOT_FOUND
    http_status = 404


class Unreachable(AuditError):
    exit_code = UNREACHABLE
    http_status = 502


class CannotCreate(AuditError):
    exit_code = CANNOT_CREATE
    http_status = 500


class StoreIOError(AuditError):
    exit_code = IO_ERROR
    http_status = 507


class StoreMissing(StoreIOError):
    """A read was asked of a store that does not exist (reads never create one)."""

    exit_code = IO_ERROR
    http_status = 404


class Busy(AuditError):
    exit_code = BUSY
    http_status = 503


class PermissionDenied(AuditError):
    exit_code = PERMISSION
    http_status = 403


class Unauthorized(PermissionDenied):
    http_status = 401


class TooLarge(UsageError):
    http_status = 413


class Interrupted(AuditError):
    exit_code = INTERRUPTED
