"""The typer application, its global options, and the one place errors become exit codes."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from auditctl import __version__, errors
from auditctl.cli import _click as click
from auditctl.cli.common import (
    ConfigOpt,
    DebugOpt,
    FormatOpt,
    NoColorOpt,
    StoreOpt,
    TokenOpt,
    UtcOpt,
    get_globals,
)
from auditctl.cli.fast import report, silence_stdout


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so open transactions roll back."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated()


class AuditGroup(TyperGroup):
    """Catches every error once: one line on stderr, the documented exit code."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # in the order they were defined, not alphabetical

    def main(  # type: ignore[override]  # typer's signature varies across versions
        self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
        standalone_mode: bool = True, **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv or bool(os.environ.get("AUDITCTL_DEBUG"))
        previous = None
        try:
            previous = signal.signal(signal.SIGTERM, _on_sigterm)
        except ValueError:  # not the main thread (e.g. inside a test server)
            previous = None
        code = 0
        try:
            result = super().main(args=argv, prog_name=prog_name or "auditctl", complete_var=complete_var,
                                  standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except errors.AuditError as exc:
            if debug:
                raise
            report(exc.message, exc.hint)
            code = exc.exit_code
        except click.NoArgsIsHelpError as exc:
            # A bare `auditctl` (or `auditctl config`): the help, on stderr, exit 2.
            sys.stderr.write((exc.ctx.get_help() if exc.ctx else str(exc)) + "\n")
            code = errors.USAGE
        except click.UsageError as exc:
            report(exc.format_message().replace("\n", " "),
                   f"run '{exc.ctx.command_path if exc.ctx else 'auditctl'} --help' for usage")
            code = errors.USAGE
        except click.ClickException as exc:
            report(exc.format_message())
            code = exc.exit_code
        except (click.Abort, KeyboardInterrupt):
            sys.stderr.write("interrupted\n")
            code = errors.INTERRUPTED
        except _Terminated:
            sys.stderr.write("terminated\n")
            code = 143
        except BrokenPipeError:
            # `auditctl export | head`: the reader left; that is not an error.
            silence_stdout()
            code = 0
        except Exception as exc:  # the last line of defence: no traceback for users
            if debug:
                raise
            report(f"unexpected error: {type(exc).__name__}: {exc}", "run again with --debug for a traceback")
            code = errors.UNEXPECTED
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=AuditGroup,
    name="auditctl",
    help="Keep the audit log: who did what, when, from where, and exactly what changed.",
    epilog="Example: auditctl record update --actor user:ann@example.com --entity part:p1 --old status=draft --new status=ready",
    no_args_is_help=True,
    add_completion=False,  # static scripts in completions/ (scripts/gen_completions.py)
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"auditctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    store: StoreOpt = None,
    token: TokenOpt = None,
    config_file: ConfigOpt = None,
    format: FormatOpt = None,
    no_color: NoColorOpt = None,
    utc: UtcOpt = None,
    debug: DebugOpt = None,
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True,
                                 callback=_version),
) -> None:
    """Keep the audit log: who did what, when, from where, and exactly what changed.

    Stores: a local SQLite file (the default, in the auditctl home) or a remote
    auditctl server (--store https://…). Output: a table on a terminal, JSON lines
    when piped (so `| jq` just works).
    """
    get_globals().merge(store=store, token=token, config_file=config_file, format=format,
                        no_color=no_color, utc=utc, debug=debug)
