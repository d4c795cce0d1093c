"""JSON in and out, in one place, so the codec can be chosen (and measured) once."""

from __future__ import annotations

import json
from typing import Any

from auditctl.errors import ValidationError


def loads(text: str | bytes, where: str = "input") -> Any:
    """Parse JSON, turning every failure into a ValidationError that says where."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValidationError(f"{where}: JSON is nested too deeply") from None
    except UnicodeDecodeError:
        raise ValidationError(f"{where}: not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None


def dumps(value: Any) -> str:
    """Compact JSON on one line; non-ASCII kept as is (output is UTF-8)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dumps_pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def canonical(value: Any) -> bytes:
    """The byte form the hash chain is computed over: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
