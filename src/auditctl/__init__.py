"""auditctl — keep an organization's audit log: who did what, when, from where, what changed."""

__version__ = "0.1.0"
