"""The fast path for the hottest read: ``search``/``filter`` with machine output.

Scripts run ``auditctl search … --format jsonl`` in loops, and typer's start-up
(typer, click, and pydantic, which typer ≥ 0.29 uses to coerce every parameter) costs
several times what the search itself does. This module answers exactly that case
with a small parser over the same option names, the same ``build_query``, the same
store and the same writers, and declines everything else — help, tables, unknown or
malformed options, ``--debug``, any error before the first byte of output — by
returning ``None``, after which the full typer application runs the command and
speaks for it. Nothing here imports typer or rich.

``tests/test_bench_fast_path.py`` checks that both paths print the same bytes, and that
every option named here is an option of the real commands.
"""

from __future__ import annotations

import os
import sys
from typing import Any

COMMANDS = ("search", "filter")

# option → (destination, takes a value, repeatable). Mirrors cli/options.py and the
# global options of cli/common.py.
GLOBAL_OPTIONS: dict[str, tuple[str, bool, bool]] = {
    "--store": ("store", True, False),
    "--token": ("token", True, False),
    "--config": ("config_file", True, False),
    "--format": ("format", True, False),
    "-f": ("format", True, False),
    "--no-color": ("no_color", False, False),
    "--utc": ("utc", False, False),
}
FILTER_OPTIONS: dict[str, tuple[str, bool, bool]] = {
    "--action": ("actions", True, True),
    "-a": ("actions", True, True),
    "--entity": ("entity_type", True, False),
    "--entity-id": ("entity_id", True, False),
    "--source": ("source", True, True),
    "--actor": ("actor", True, False),
    "--actor-type": ("actor_type", True, True),
    "--correlation-id": ("correlation_id", True, False),
    "--changed": ("changed", True, False),
    "--since": ("since", True, False),
    "--until": ("until", True, False),
    "--limit": ("limit", True, False),
    "-n": ("limit", True, False),
    "--reverse": ("reverse", False, False),
    "--flat": ("flat", False, False),
}
COMMAND_OPTIONS = {**GLOBAL_OPTIONS, **FILTER_OPTIONS}
MACHINE_FORMATS = ("json", "jsonl", "csv")


def parse(argv: list[str]) -> tuple[str, dict[str, Any], list[str]] | None:
    """``(command, options, terms)``, or None for anything this path does not handle."""
    values: dict[str, Any] = {}
    index = 0
    # Global options may come before the command name.
    while index < len(argv) and argv[index].startswith("-"):
        step = _option(argv, index, GLOBAL_OPTIONS, values)
        if step is None:
            return None
        index += step
    if index >= len(argv) or argv[index] not in COMMANDS:
        return None
    command = argv[index]
    index += 1
    terms: list[str] = []
    while index < len(argv):
        token = argv[index]
        if token == "--":
            terms.extend(argv[index + 1:])
            break
        if token.startswith("-") and token != "-":
            step = _option(argv, index, COMMAND_OPTIONS, values)
            if step is None:
                return None
            index += step
            continue
        terms.append(token)
        index += 1
    if terms and command != "search":
        return None
    return command, values, terms


def _option(argv: list[str], index: int, table: dict[str, tuple[str, bool, bool]],
            values: dict[str, Any]) -> int | None:
    token = argv[index]
    name, eq, inline = token.partition("=") if token.startswith("--") else (token, "", "")
    if not token.startswith("--") and len(token) > 2:  # -adelete: a short option with its value attached
        name, eq, inline = token[:2], "=", token[2:]
    spec = table.get(name)
    if spec is None:
        return None
    dest, takes_value, repeatable = spec
    if not takes_value:
        if eq:
            return None
        values[dest] = True
        return 1
    if eq:
        value, step = inline, 1
    elif index + 1 < len(argv) and not (argv[index + 1].startswith("-") and len(argv[index + 1]) > 1):
        value, step = argv[index + 1], 2
    else:
        return None  # missing value, or one that looks like an option: let click judge
    if repeatable:
        values.setdefault(dest, []).append(value)
    else:
        values[dest] = value
    return step


def open_configured_store(settings: Any, url: str, *, create: bool = False) -> Any:
    """The store the settings name (shared with ``Globals.open_store``)."""
    from auditctl.store import open_store

    return open_store(
        url,
        create=create,
        token=settings["token"],
        org=settings["org"],
        redact_patterns=settings["redact_patterns"],
        chain_key=settings["chain_key"],
        timeout=settings["timeout"],
    )


def run(argv: list[str]) -> int | None:
    """Answer the command and return its exit code, or None to let typer run it."""
    parsed = parse(argv)
    if parsed is None:
        return None
    _, values, terms = parsed
    from auditctl import config
    from auditctl.errors import AuditError
    from auditctl.query import build_query

    started = False
    try:
        settings = config.resolve({"store": values.get("store"), "token": values.get("token")},
                                  config_flag=values.get("config_file"))
        fmt = (values.get("format") or settings["format"] or ("table" if sys.stdout.isatty() else "jsonl")).lower()
        if fmt not in MACHINE_FORMATS:
            return None
        query = build_query(
            terms=terms, actions=values.get("actions"), entity_type=values.get("entity_type"),
            entity_id=values.get("entity_id"), source=values.get("source"), actor=values.get("actor"),
            actor_type=values.get("actor_type"), correlation_id=values.get("correlation_id"),
            changed=values.get("changed"), since=values.get("since"), until=values.get("until"),
            limit=values.get("limit"), reverse=bool(values.get("reverse")),
        )
        from auditctl.export import write_query

        def mark_started(items: Any) -> Any:
            # Once output has begun, errors are ours to report (typer cannot rerun it).
            nonlocal started
            for item in items:
                started = True
                yield item
            started = True

        with open_configured_store(settings, settings["store"] or str(config.default_store_path())) as store:
            write_query(store, query, fmt, sys.stdout, mark_started)
        return 0
    except AuditError as exc:
        if not started:
            return None  # typer runs it again and reports the error in its usual words
        report(exc.message, exc.hint)
        return exc.exit_code
    except BrokenPipeError:
        # `auditctl search … | head`: the reader left; that is not an error.
        silence_stdout()
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:
        if not started:
            return None
        report(f"unexpected error: {type(exc).__name__}: {exc}", "run again with --debug for a traceback")
        return 1


def report(message: str, hint: str | None = None) -> None:
    """The one format for errors: ``error: …`` and an optional ``hint: …``, on stderr.

    It lives here, not in app.py, because the fast path must not import typer.
    """
    from auditctl.sanitize import visible

    sys.stderr.write(f"error: {visible(message)}\n")
    if hint:
        sys.stderr.write(f"hint: {visible(hint)}\n")


def silence_stdout() -> None:
    """The reader of our stdout left (``| head``): send the rest nowhere, quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
