"""What every command shares: global options, the store, the output format, consoles.

Global options are accepted before the command (``auditctl --store X search``) and
after it (``auditctl search --store X``), where people type them: the ``command``
decorator adds them to each command's signature and merges them into one
``Globals`` value.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Annotated, Any, TypeVar

import typer

from auditctl import config
from auditctl.cli import _click as click
from auditctl.errors import UsageError
from auditctl.store.base import Store


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


GLOBAL_PANEL = "Global options"

StoreOpt = Annotated[
    str | None,
    typer.Option("--store", metavar="PATH|URL", help="Store: a path, sqlite:///path or http(s)://server. [env: AUDITCTL_STORE]",
                 rich_help_panel=GLOBAL_PANEL, show_default=False),
]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", metavar="TOKEN", help="API token for a remote store. [env: AUDITCTL_TOKEN]",
                 rich_help_panel=GLOBAL_PANEL, show_default=False),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", metavar="FILE", help="Config file. [env: AUDITCTL_CONFIG]", rich_help_panel=GLOBAL_PANEL,
                 show_default=False),
]
FormatOpt = Annotated[
    Format | None,
    typer.Option("--format", "-f", help="Output format (default: table on a terminal, jsonl when piped).",
                 rich_help_panel=GLOBAL_PANEL, show_default=False, case_sensitive=False),
]
NoColorOpt = Annotated[
    bool | None,
    typer.Option("--no-color", help="Plain text, no colours (NO_COLOR is honoured too).",
                 rich_help_panel=GLOBAL_PANEL, show_default=False),
]
UtcOpt = Annotated[
    bool | None,
    typer.Option("--utc", help="Show times in UTC instead of local time.", rich_help_panel=GLOBAL_PANEL,
                 show_default=False),
]
DebugOpt = Annotated[
    bool | None,
    typer.Option("--debug", help="Show tracebacks for errors.", rich_help_panel=GLOBAL_PANEL, show_default=False),
]

_GLOBAL_PARAMS = {
    "store": StoreOpt,
    "token": TokenOpt,
    "config_file": ConfigOpt,
    "format": FormatOpt,
    "no_color": NoColorOpt,
    "utc": UtcOpt,
    "debug": DebugOpt,
}


@dataclass
class Globals:
    store: str | None = None
    token: str | None = None
    config_file: str | None = None
    format: Format | None = None
    no_color: bool | None = None
    utc: bool | None = None
    debug: bool | None = None
    _settings: config.Settings | None = field(default=None, repr=False)

    def merge(self, **values: Any) -> None:
        for name, value in values.items():
            if value is not None:
                setattr(self, name, value)

    # ------------------------------------------------------------------ settings

    @property
    def settings(self) -> config.Settings:
        if self._settings is None:
            self._settings = config.resolve(
                {"store": self.store, "token": self.token}, config_flag=self.config_file
            )
        return self._settings

    def store_url(self) -> str:
        return self.settings["store"] or str(config.default_store_path())

    def open_store(self, *, create: bool = False) -> Store:
        from auditctl.cli.fast import open_configured_store

        return open_configured_store(self.settings, self.store_url(), create=create)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ output

    def output_format(self) -> Format:
        if self.format is not None:
            return self.format
        configured = self.settings["format"]
        if configured:
            return Format(configured)
        return Format.table if sys.stdout.isatty() else Format.jsonl

    @property
    def color(self) -> bool:
        return not (self.no_color or os.environ.get("NO_COLOR"))


def get_globals() -> Globals:
    ctx = click.get_current_context()
    root = ctx.find_root()
    if not isinstance(root.obj, Globals):
        root.obj = Globals()
    return root.obj


F = TypeVar("F", bound=Callable[..., Any])


def command(app: typer.Typer, name: str | None = None, **kwargs: Any) -> Callable[[F], F]:
    """Register a command that also accepts the global options after its name."""

    def decorate(func: F) -> F:
        # Resolve string annotations (``from __future__ import annotations``) in the
        # command's own module: typer reads the wrapper, whose globals are ours.
        hints = typing.get_type_hints(func, include_extras=True)
        original = inspect.signature(func)
        original = original.replace(
            parameters=[p.replace(annotation=hints.get(p.name, p.annotation)) for p in original.parameters.values()],
            return_annotation=hints.get("return", None),
        )
        extra = [
            inspect.Parameter(pname, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
            for pname, annotation in _GLOBAL_PARAMS.items()
            if pname not in original.parameters
        ]
        params = list(original.parameters.values())
        takes_filters = "filters" in original.parameters
        if takes_filters:
            from auditctl.cli.options import FILTER_PARAMS

            at = [p.name for p in params].index("filters")
            flags = [
                inspect.Parameter(fname, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation)
                for fname, (annotation, default) in FILTER_PARAMS.items()
            ]
            params[at : at + 1] = flags
            hints.pop("filters", None)
            hints.update({p.name: p.annotation for p in flags})
        # Keyword-only parameters must follow the positional ones.
        signature = original.replace(parameters=[*params, *extra])

        @functools.wraps(func)
        def wrapper(*args: Any, **kw: Any) -> Any:
            get_globals().merge(**{p: kw.pop(p) for p in list(kw) if p in _GLOBAL_PARAMS and p not in original.parameters})
            if takes_filters:
                from auditctl.cli.options import FILTER_PARAMS, Filters

                kw["filters"] = Filters(**{fname: kw.pop(fname) for fname in FILTER_PARAMS})
            return func(*args, **kw)

        wrapper.__signature__ = signature  # type: ignore[attr-defined]
        hints.update({p.name: p.annotation for p in extra})
        wrapper.__annotations__ = hints
        app.command(name, **kwargs)(wrapper)
        return func

    return decorate


def stdout_console() -> Any:
    from rich.console import Console

    g = get_globals()
    return Console(no_color=not g.color, highlight=False, soft_wrap=False, emoji=False)


def stderr_console() -> Any:
    from rich.console import Console

    g = get_globals()
    return Console(stderr=True, no_color=not g.color, highlight=False, emoji=False)


def open_text_input(path: str) -> typing.IO[str]:
    """A file (or ``-`` for stdin) as strict UTF-8 text: bad bytes are an error, never
    smuggled in as surrogates (stdin's default under a C locale)."""
    import io

    from auditctl.errors import StoreIOError

    if path == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="strict", newline="")
    try:
        return open(path, encoding="utf-8", errors="strict", newline="")
    except FileNotFoundError:
        raise StoreIOError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise StoreIOError(f"{path} is a folder, not a file") from None
    except OSError as exc:
        raise StoreIOError(f"cannot read {path}: {exc.strerror}") from None


def info(message: str) -> None:
    """A message for people, on stderr, never on stdout (stdout is for data)."""
    sys.stderr.write(message + "\n")


def require_machine_format(fmt: Format, allowed: tuple[Format, ...], what: str) -> None:
    if fmt not in allowed:
        raise UsageError(f"{what} does not support --format {fmt.value}; use {', '.join(f.value for f in allowed)}")


def global_names() -> list[str]:
    return [f.name for f in fields(Globals) if not f.name.startswith("_")]
