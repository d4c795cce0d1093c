"""Redaction: secrets are replaced before an event is stored (DESIGN §1).

Two rules, applied to ``changes``, ``metadata`` (recursively) and ``context``:

* a key whose name contains a sensitive pattern (case-insensitive substring) has its
  value replaced by ``"[REDACTED]"`` — for a change, both ``old`` and ``new``;
* secret-shaped text anywhere in a string value is masked in place: bearer/basic
  credentials, ``user:pass@`` in URLs, ``key=value`` pairs with a sensitive key, JWTs,
  private key blocks and auditctl's own ``actl_`` tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from auditctl import jsonio
from auditctl.model import CONTEXT_FIELDS, MISSING, Change, Context, Event
from auditctl.names import DEFAULT_PATTERNS

REDACTED = "[REDACTED]"


_VALUE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization header values.
    (re.compile(r"\b(Bearer|Basic|Token|Digest)\s+[A-Za-z0-9._~+/=\-]{4,}", re.IGNORECASE), r"\1 " + REDACTED),
    # scheme://user:password@host
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]*):[^@/\s]+@"), r"\1:" + REDACTED + "@"),
    # JSON Web Tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"), REDACTED),
    # auditctl's own API tokens.
    (re.compile(r"\bactl_[A-Za-z0-9_\-]{8,}"), REDACTED),
    # PEM private keys.
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL),
        REDACTED,
    ),
)


class Redactor:
    """Applies the redaction rules with a given list of sensitive key patterns."""

    def __init__(self, patterns: Iterable[str] = DEFAULT_PATTERNS) -> None:
        self.patterns = tuple(p.lower() for p in patterns if p)
        if self.patterns:
            # "_" in a pattern also matches "-", " ", "." or nothing: headers spell
            # api_key as X-Api-Key, forms as "api key", JSON as apiKey.
            alternatives = "|".join(re.escape(p).replace("_", "[-_ .]?") for p in self.patterns)
            self._key_re: re.Pattern[str] | None = re.compile(alternatives, re.IGNORECASE)
            # key=value / key: value pairs inside free text (query strings, log lines).
            self._pair_re: re.Pattern[str] | None = re.compile(
                r"([\w.\-]*(?:" + alternatives + r")[\w.\-]*[\"']?\s*[=:]\s*[\"']?)([^\s&\"',;]+)",
                re.IGNORECASE,
            )
        else:
            self._key_re = None
            self._pair_re = None
        # Every rule above needs one of these substrings to match at all (the value
        # rules their literal anchors, a key or key=value pair a sensitive key name).
        # Text without any of them cannot change, so most strings skip the rules. A
        # pattern's "_" may be spelled "-", " ", "." or not at all, so a pattern
        # stands for its longest "_"-free piece, which every spelling contains. A
        # trigger that contains another adds nothing and is dropped.
        pieces = dict.fromkeys([*_VALUE_TRIGGERS, *(max(p.split("_"), key=len) for p in self.patterns)])
        self._triggers = tuple(t for t in pieces if not any(o in t for o in pieces if o != t))
        # _may_redact looks for triggers in JSON text, where only these characters
        # are written differently: a trigger holding one must see the values themselves.
        self._json_safe = not any(c in '"\\' or c < " " for t in self._triggers for c in t)
        self._trigger_re = re.compile("|".join(re.escape(t) for t in self._triggers), re.IGNORECASE)
        # An IGNORECASE regex of alternatives is slow (~100 µs on an event's text);
        # for ASCII text and patterns, lower() and `in` decide the same in ~4 µs.
        self._ascii = all(p.isascii() for p in self.patterns)

    def _has_trigger(self, text: str) -> bool:
        if self._ascii and text.isascii():
            low = text.lower()
            for trigger in self._triggers:
                if trigger in low:
                    return True
            return False
        # Unicode case-insensitivity (ſ matches s, K matches k) needs the regex.
        return self._trigger_re.search(text) is not None

    def is_sensitive(self, key: str) -> bool:
        return bool(self._key_re and self._key_re.search(key))

    def mask_text(self, text: str) -> str:
        # A cheap pre-check keeps the common case (no secret anywhere) fast.
        if len(text) < 8 or not self._has_trigger(text):
            return text
        for pattern, replacement in _VALUE_RULES:
            text = pattern.sub(replacement, text)
        if self._pair_re is not None:
            text = self._pair_re.sub(lambda m: m.group(1) + REDACTED if m.group(2) != REDACTED else m.group(0), text)
        return text

    def value(self, value: Any) -> Any:
        """Mask secret-shaped strings inside any JSON value; redact sensitive keys."""
        if isinstance(value, str):
            return self.mask_text(value)
        if isinstance(value, dict):
            return {
                k: (REDACTED if self.is_sensitive(k) else self.value(v)) for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def event(self, event: Event) -> Event:
        if not self._may_redact(event):
            return event
        changes = []
        for change in event.changes:
            if self.is_sensitive(change.field):
                changes.append(
                    Change(
                        change.field,
                        REDACTED if change.old is not MISSING else MISSING,
                        REDACTED if change.new is not MISSING else MISSING,
                    )
                )
            else:
                changes.append(
                    Change(
                        change.field,
                        self.value(change.old) if change.old is not MISSING else MISSING,
                        self.value(change.new) if change.new is not MISSING else MISSING,
                    )
                )
        ctx = event.context
        # The schema's own context fields are not judged by name ("api_key_id" names
        # the token used, it is not a secret), only by the shape of their value.
        ctx_values = {
            name: (self.mask_text(v) if isinstance(v, str) else v)
            for name in CONTEXT_FIELDS
            if (v := getattr(ctx, name)) is not None
        }
        extra = {k: (REDACTED if self.is_sensitive(k) else self.value(v)) for k, v in ctx.extra.items()}
        return replace(
            event,
            changes=tuple(changes),
            context=Context(**ctx_values, extra=extra),
            metadata=self.value(event.metadata),
        )

    def _may_redact(self, event: Event) -> bool:
        """Could any rule touch this event? One scan of its redactable parts as JSON.

        JSON text escapes only quotes, backslashes and control characters, none of
        which occur in a trigger (``_json_safe``), so a trigger in any key or string value shows up
        verbatim in the text. The schema's context field names are left out: they
        are never judged by name.
        """
        if not self._json_safe:
            return True
        ctx = event.context
        parts: list[Any] = [ctx.ip, ctx.user_agent, ctx.correlation_id, ctx.reason, ctx.api_key_id,
                            ctx.impersonator, ctx.parent_id, ctx.extra, event.metadata]
        for change in event.changes:
            parts.append(change.field)
            if change.old is not MISSING:
                parts.append(change.old)
            if change.new is not MISSING:
                parts.append(change.new)
        return self._any_trigger(parts)

    def may_redact_record(self, record: dict[str, Any]) -> bool:
        """``_may_redact`` of the event whose ``to_dict()`` is ``record``: False means
        ``event`` would give back the very same event. (The changes are scanned as
        written, "field", "old" and "new" included: a pattern that matches those
        only sends the event the long way.)"""
        if not self._json_safe:
            return True
        context = record["context"]
        parts = [*context.values(), record["metadata"], record["changes"]]
        if len(context) > len(CONTEXT_FIELDS):  # keys beyond the schema's are judged by name
            parts.append([key for key in context if key not in CONTEXT_FIELDS])
        return self._any_trigger(parts)

    def _any_trigger(self, parts: list[Any]) -> bool:
        try:
            text = jsonio.dumps(parts)
        except (TypeError, ValueError):  # not plain JSON: let the full walk decide
            return True
        return self._has_trigger(text)


# Literal anchors of _VALUE_RULES (case-insensitive superset): see Redactor.__init__.
_VALUE_TRIGGERS = ("bearer", "basic", "token", "digest", "://", "eyj", "actl_", "-----begin")

DEFAULT_REDACTOR = Redactor()
