"""Entry point: ``auditctl`` and ``python -m auditctl``."""

from __future__ import annotations

import sys


def main() -> None:
    # `auditctl --version` is run by scripts and health checks: answer it before
    # importing typer, rich or anything else.
    if sys.argv[1:] == ["--version"]:
        from auditctl import __version__

        sys.stdout.write(f"auditctl {__version__}\n")
        return
    # A search with machine output (what scripts run in loops) skips typer's start-up.
    from auditctl.cli import fast

    code = fast.run(sys.argv[1:])
    if code is not None:
        sys.stdout.flush()
        sys.exit(code)
    from auditctl.cli.commands import app

    app()
