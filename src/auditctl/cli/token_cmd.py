"""``auditctl token create/list/revoke``: the server's API tokens, on its store file."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from auditctl import jsonio
from auditctl.cli.app import app
from auditctl.cli.common import Format, command, get_globals, stdout_console
from auditctl.cli.record_cmd import self_actor
from auditctl.cli.serve_cmd import local_store_path
from auditctl.model import Actor, Change, Context, Entity, Event, format_time
from auditctl.timeparse import now, now_text, parse_duration

token_app = typer.Typer(
    name="token",
    help="Manage the server's API tokens and their roles (admin, auditor, writer).",
    epilog="Example: auditctl token create --role auditor --name quarterly-review --expires 30d",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")


def _open_local(org: str | None = None) -> Any:
    g = get_globals()
    local_store_path(g, "auditctl token")
    store: Any = g.open_store(create=True)  # a SQLiteStore: the URL was checked above
    return store.for_org(org) if org else store


def _record(store: Any, action: str, token_id: str, changes: list[Change], reason: str) -> None:
    """Token changes are audit events too, in the token's organization."""
    store.append([Event(action=action, actor=Actor(**self_actor()), source="cli",
                        entity=Entity("api_token", token_id), changes=tuple(changes),
                        context=Context(reason=reason))])


@command(token_app, "create")
def create(
    role: Annotated[str, typer.Option("--role", help="admin (everything), auditor (read) or writer (record).", show_default=False)],
    org: Annotated[str | None, typer.Option("--org", help="Organization the token is bound to (default: the org setting).", show_default=False)] = None,
    name: Annotated[str | None, typer.Option("--name", help="A label, e.g. who or what uses it.", show_default=False)] = None,
    expires: Annotated[str | None, typer.Option("--expires", help="Lifetime, e.g. 90d (default: never).", show_default=False)] = None,
) -> None:
    """Create a token and print it once (only its hash is kept).

    Example: export AUDITCTL_TOKEN=$(auditctl token create --role writer --name ci --expires 90d)
    """
    from auditctl.store import tokens

    g = get_globals()
    org = org or g.settings["org"]
    expires_at = format_time(now() + parse_duration(expires)) if expires else None
    with _open_local() as store:
        secret, token = tokens.create_token(store, role=role, org=org, name=name, created_at=now_text(),
                                            expires_at=expires_at)
        _record(store.for_org(token.org), "create", token.id,
                [Change("role", new=token.role), Change("name", new=token.name),
                 Change("expires_at", new=token.expires_at)], "auditctl api_token create")
    if g.format in (Format.json, Format.jsonl):
        data = {"token": secret, **token.to_dict(now_text())}
        sys.stdout.write((jsonio.dumps_pretty(data) if g.format == Format.json else jsonio.dumps(data)) + "\n")
        return
    sys.stdout.write(secret + "\n")
    sys.stderr.write(
        f"created {token.id} (role {token.role}, org {token.org}, expires {token.expires_at or 'never'});"
        " this is the only time the token is shown\n"
    )


@command(token_app, "list")
def list_() -> None:
    """List tokens (never their secrets), with their status.

    Example: auditctl token list --format json
    """
    from auditctl.store import tokens

    g = get_globals()
    with _open_local() as store:
        found = tokens.list_tokens(store)
    current = now_text()
    fmt = g.output_format()
    rows = [t.to_dict(current) for t in found]
    if fmt in (Format.json, Format.jsonl, Format.csv):
        from auditctl.cli.output import write_machine

        write_machine(fmt, rows)
        return
    from rich.table import Table
    from rich.text import Text

    from auditctl.sanitize import visible

    table = Table(title=f"{len(rows)} token{'s' if len(rows) != 1 else ''}", title_justify="left")
    for column in ("id", "name", "org", "role", "status", "created", "expires"):
        table.add_column(column)
    for row in rows:
        # Text cells: a token name is never parsed as Rich markup.
        cells = (row["id"], row["name"] or "", row["org"], row["role"], row["status"], row["created_at"],
                 row["expires_at"] or "never")
        table.add_row(*(Text(visible(str(c))) for c in cells), style="dim" if row["status"] != "active" else None)
    stdout_console().print(table)


@command(token_app, "revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (tok_…), from auditctl token list.")],
) -> None:
    """Revoke a token: the server refuses it from now on.

    Example: auditctl token revoke tok_3f9a0c1d2e4b5a69
    """
    from auditctl.store import tokens

    with _open_local() as store:
        before = tokens.get_token(store, token_id)
        token = tokens.revoke_token(store, token_id, now_text())
        if before.revoked_at is None:
            _record(store.for_org(token.org), "update", token.id,
                    [Change("revoked_at", old=None, new=token.revoked_at)], "auditctl api_token revoke")
    sys.stdout.write(f"revoked {token.id} (since {token.revoked_at})\n")
