"""Assemble the application: importing a command module registers its commands.

The import order is the order ``auditctl --help`` lists them in.
"""
# ruff: noqa: F401, I001

from auditctl.cli.app import app
from auditctl.cli import record_cmd
from auditctl.cli import import_cmd
from auditctl.cli import search_cmd
from auditctl.cli import show_cmd
from auditctl.cli import export_cmd
from auditctl.cli import integrity_cmd
from auditctl.cli import serve_cmd
from auditctl.cli import token_cmd
from auditctl.cli import config_cmd
from auditctl.cli import demo_cmd

__all__ = ["app"]
