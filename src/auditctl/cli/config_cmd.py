"""``auditctl config get/set/unset/list/path``: the TOML config file."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from auditctl import config, jsonio
from auditctl.cli.app import app
from auditctl.cli.common import Format, command, get_globals
from auditctl.errors import NotFound, UsageError

config_app = typer.Typer(help="Read and write the config file.", no_args_is_help=True,
                         epilog="Example: auditctl config set retention_days 90")
app.add_typer(config_app, name="config")

SECRET_SETTINGS = ("token", "chain_key")


def _known(name: str) -> None:
    if name not in config.SETTINGS:
        raise UsageError(f"unknown setting {name!r}; known: {', '.join(config.SETTINGS)}")


def _show(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


@command(config_app, "get")
def get(name: Annotated[str, typer.Argument(help="Setting name, e.g. retention_days.")]) -> None:
    """Print the value in force for one setting (flag > env > file > default).

    Example: auditctl config get retention_days
    """
    _known(name)
    value = get_globals().settings[name]
    if value is None:
        raise NotFound(f"{name} is not set")
    sys.stdout.write(_show(value) + "\n")


@command(config_app, "set")
def set_(
    name: Annotated[str, typer.Argument(help="Setting name.")],
    value: Annotated[str, typer.Argument(help="New value (lists: comma-separated).")],
) -> None:
    """Write a setting to the config file (created 0600).

    Example: auditctl config set retention_days 90
    """
    g = get_globals()
    path = config.config_path(g.config_file)
    data = config.load_file(path)
    data[name] = config.coerce(name, value)
    config.save_file(path, data)


@command(config_app, "unset")
def unset(name: Annotated[str, typer.Argument(help="Setting name.")]) -> None:
    """Remove a setting from the config file (its default applies again).

    Example: auditctl config unset retention_days
    """
    g = get_globals()
    _known(name)
    path = config.config_path(g.config_file)
    data = config.load_file(path)
    if name in data:
        del data[name]
        config.save_file(path, data)


@command(config_app, "list")
def list_() -> None:
    """List every setting with its value and where it came from.

    Example: auditctl config list
    """
    g = get_globals()
    settings = g.settings
    rows = []
    for name in config.SETTINGS:
        value = settings[name]
        if name in SECRET_SETTINGS and value:
            value = "********"
        rows.append({"name": name, "value": value, "source": settings.sources[name]})
    fmt = g.output_format()
    if fmt in (Format.json, Format.jsonl):
        if fmt == Format.json:
            sys.stdout.write(jsonio.dumps_pretty(rows) + "\n")
        else:
            for row in rows:
                sys.stdout.write(jsonio.dumps(row) + "\n")
        return
    width = max(len(n) for n in config.SETTINGS)
    for row in rows:
        shown = _show(row["value"]) or "-"
        sys.stdout.write(f"{row['name']:<{width}}  {shown}  ({row['source']})\n")


@command(config_app, "path")
def path() -> None:
    """Print where the config file is (it may not exist yet).

    Example: auditctl config path
    """
    sys.stdout.write(str(config.config_path(get_globals().config_file)) + "\n")
