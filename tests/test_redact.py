"""Redaction before storage: key patterns (recursive), both old and new, secret-shaped values."""

from __future__ import annotations

from auditctl.model import Event
from auditctl.redact import REDACTED, Redactor


def event(**extra):
    data = {"action": "update", "actor": {"type": "user", "id": "u"}, "source": "api", "entity": {"type": "user", "id": "u"}}
    data.update(extra)
    return Event.from_dict(data)


def test_sensitive_change_fields_lose_both_old_and_new():
    out = Redactor().event(event(changes=[{"field": "Password", "old": "hunter2", "new": "hunter3"},
                                          {"field": "status", "old": "a", "new": "b"}]))
    assert out.changes[0].old == REDACTED and out.changes[0].new == REDACTED
    assert out.changes[1].new == "b"


def test_metadata_is_redacted_recursively_and_context_by_key():
    out = Redactor().event(event(
        metadata={"outer": {"api_key": "k1", "list": [{"session_id": "s"}, "fine"]}, "ok": 1},
        context={"ip": "1.2.3.4", "cookie": "c=1", "api_key_id": "tok_1"},
    ))
    assert out.metadata == {"outer": {"api_key": REDACTED, "list": [{"session_id": REDACTED}, "fine"]}, "ok": 1}
    assert out.context.extra == {"cookie": REDACTED}
    # api_key_id is the schema's own field naming a token, not a secret.
    assert out.context.api_key_id == "tok_1" and out.context.ip == "1.2.3.4"


def test_secret_shaped_values_are_masked_wherever_they_are():
    out = Redactor().event(event(
        changes=[{"field": "webhook", "old": "https://bob:s3cret@hooks.example.com/x", "new": "Bearer abc.def.ghi123"}],
        context={"reason": "rotated after leak of actl_abcdefghijklmnop", "user_agent": "x"},
        metadata={"note": "curl -H 'Authorization: Bearer abcdefgh1234'", "url": "https://x.test/?token=zzz999&a=1"},
    ))
    assert out.changes[0].old == f"https://bob:{REDACTED}@hooks.example.com/x"
    assert "abc.def" not in out.changes[0].new
    assert "actl_abcdefghijklmnop" not in (out.context.reason or "")
    assert "abcdefgh1234" not in out.metadata["note"]
    assert "zzz999" not in out.metadata["url"] and "a=1" in out.metadata["url"]


def test_separators_in_key_names_do_not_hide_a_secret():
    out = Redactor().event(event(metadata={"headers": {"X-Api-Key": "k1", "apiKey": "k2", "Private-Key": "k3",
                                                       "x-auth-token": "k4", "Set-Cookie": "k5"}}))
    assert set(out.metadata["headers"].values()) == {REDACTED}


def test_patterns_are_configurable():
    out = Redactor(["ssn"]).event(event(changes=[{"field": "customer_SSN", "old": "1", "new": "2"},
                                                 {"field": "password", "old": "p", "new": "q"}]))
    assert out.changes[0].new == REDACTED
    assert out.changes[1].new == "q"
