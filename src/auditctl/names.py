"""Names every layer shares, in a module that imports nothing (start-up pays nothing for it)."""

# The organization of a store used without one (single-tenant, the CLI's default).
DEFAULT_ORG = "default"

# The schema's seven context fields (model.Context); export's CSV columns name them.
CONTEXT_FIELDS = (
    "ip",
    "user_agent",
    "correlation_id",
    "reason",
    "api_key_id",
    "impersonator",
    "parent_id",
)

# Key-name substrings whose values are redacted before storage (the redact_patterns
# setting's default; redact.py holds the rules). Here so reading the configuration
# does not load the redaction engine.
DEFAULT_PATTERNS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "private_key",
    "credential",
    "session",
)
