"""Every command documents itself: an imperative first line, a real example, help on every option.

In the spirit of sqlite-utils' tests/test_docs.py: a new command or option without help
fails here rather than in a user's terminal.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
import typer
from typer import _click as click
from typer.testing import CliRunner

from auditctl.cli.commands import app

ROOT = typer.main.get_command(app)


def _walk() -> list[tuple[tuple[str, ...], Any]]:
    found: list[tuple[tuple[str, ...], Any]] = []

    def walk(command: Any, ctx: Any, path: tuple[str, ...]) -> None:
        found.append((path, command))
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    walk(sub, click.Context(sub, parent=ctx, info_name=name), (*path, name))

    walk(ROOT, click.Context(ROOT, info_name="auditctl"), ())
    return found


COMMANDS = _walk()
IDS = [" ".join(("auditctl", *path)) for path, _ in COMMANDS]

# Words that open a description rather than an instruction ("The …", "This command …").
NOT_VERBS = frozenset(
    {
        "a",
        "an",
        "the",
        "this",
        "these",
        "that",
        "it",
        "its",
        "command",
        "commands",
        "auditctl",
        "used",
        "when",
        "if",
        "for",
        "to",
        "helper",
        "utility",
        "tool",
    }
)


def full_help(command: Any) -> str:
    return "\n".join(part for part in (command.help, command.epilog) if part)


def first_line(command: Any) -> str:
    return (command.help or "").strip().splitlines()[0].strip() if (command.help or "").strip() else ""


def is_imperative(line: str) -> bool:
    """'Record one event' yes; 'Records one event', 'The record command…', 'record…' no."""
    match = re.match(r"([A-Za-z][a-z]*)\b", line)
    if not match or not line[0].isupper():
        return False
    word = match.group(1).lower()
    if word in NOT_VERBS:
        return False
    # A third-person verb ("Records", "Shows") describes; "Process", "Access" still command.
    return not (word.endswith("s") and not word.endswith(("ss", "us")))


def example_lines(command: Any) -> list[str]:
    return [line.split("Example:", 1)[1].strip() for line in full_help(command).splitlines() if "Example:" in line]


def example_argv(example: str, path: tuple[str, ...]) -> list[str] | None:
    """The argv of this command's invocation in an example line, or None if it has none.

    Shell around the invocation is allowed (``… | auditctl filter …``, ``X=$(auditctl …)``,
    ``> file``); so is a trailing remark set off by two spaces and a parenthesis.
    """
    example = re.split(r"\s{2,}\(", example, maxsplit=1)[0]
    lexer = shlex.shlex(example, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    segment: list[str] = []
    segments = [segment]
    for token in lexer:
        if token and all(ch in "();<>|&" for ch in token):
            segment = []
            segments.append(segment)
        else:
            segment.append(token)
    want = ["auditctl", *path]
    for tokens in segments:
        # `export AUDITCTL_TOKEN=$(auditctl …)` lexes its "$" onto the word before "(".
        if tokens[: len(want)] == want:
            return tokens[1:]
    return None


def parse(argv: list[str]) -> Any:
    """Parse argv down to the leaf command the way auditctl would, without running anything."""
    ctx = ROOT.make_context("auditctl", list(argv))
    command = ROOT
    while hasattr(command, "resolve_command"):
        rest = [*getattr(ctx, "_protected_args", getattr(ctx, "protected_args", [])), *ctx.args]
        if not rest:
            break
        name, command, remaining = command.resolve_command(ctx, rest)
        ctx = command.make_context(name, remaining, parent=ctx)
    return ctx


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_command_has_help(path: tuple[str, ...], command: Any) -> None:
    assert first_line(command), f"auditctl {' '.join(path)} has no help text: add a docstring"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_help_starts_with_an_imperative(path: tuple[str, ...], command: Any) -> None:
    line = first_line(command)
    assert is_imperative(line), (
        f"auditctl {' '.join(path)}: the help's first line should tell the user what the command does, "
        f"starting with a capitalised verb ('Record one event'), got {line!r}"
    )


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_help_has_a_real_example(path: tuple[str, ...], command: Any) -> None:
    invocation = " ".join(("auditctl", *path))
    examples = example_lines(command)
    assert examples, f"{invocation}: add a line 'Example: {invocation} …' to its help"
    argvs = [argv for argv in (example_argv(e, path) for e in examples) if argv is not None]
    assert argvs, f"{invocation}: no example invokes it; got {examples}"
    for argv in argvs:
        try:
            parse(argv)
        except click.exceptions.ClickException as exc:  # an option that no longer exists, a bad value…
            pytest.fail(f"{invocation}: example 'auditctl {shlex.join(argv)}' does not parse: {exc.format_message()}")


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_parameter_has_help(path: tuple[str, ...], command: Any) -> None:
    ctx = click.Context(command, info_name=path[-1] if path else "auditctl")
    lacking = [
        "/".join(param.opts)
        for param in command.get_params(ctx)
        if not getattr(param, "hidden", False) and not (getattr(param, "help", None) or "").strip()
    ]
    assert not lacking, f"auditctl {' '.join(path)}: add help= to {', '.join(lacking)}"


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=IDS)
def test_help_exits_zero(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_the_checks_catch_what_they_should() -> None:
    assert is_imperative("Record one event.")
    assert is_imperative("Process a batch")
    assert not is_imperative("Records one event.")
    assert not is_imperative("The record command")
    assert not is_imperative("record one event")
    assert not is_imperative("")
    assert example_argv("auditctl export --since 30d | auditctl filter --input - --action delete", ("filter",)) == [
        "filter",
        "--input",
        "-",
        "--action",
        "delete",
    ]
    assert example_argv("export AUDITCTL_TOKEN=$(auditctl token create --role writer)", ("token", "create")) == [
        "token",
        "create",
        "--role",
        "writer",
    ]
    assert example_argv("auditctl head >> anchors.txt", ("head",)) == ["head"]
    assert example_argv("auditctl show 1042      (or an id: auditctl show X)", ("show",)) == ["show", "1042"]
    assert example_argv("auditctl search x", ("show",)) is None
    with pytest.raises(click.exceptions.ClickException):
        parse(["search", "--no-such-option"])
