"""Programs the reliability tests run as real processes.

``record_loop`` runs the real auditctl command line N times inside one process (the
command tree is built once, as in a long-lived shell loop, so the test measures the
store, not Python start-up) and prints every id it got back: an acknowledged event.
"""

from __future__ import annotations

import sys


def record_loop(store: str, count: int, worker: str) -> int:
    import io
    from contextlib import redirect_stderr, redirect_stdout

    import typer

    from auditctl.cli.commands import app

    command = typer.main.get_command(app)
    failures = 0
    for i in range(count):
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = command.main(["--store", store, "record", "update", "--actor", f"api_key:{worker}",
                                 "--entity", f"doc:{worker}-{i}", "--new", f"n={i}"], standalone_mode=False)
        if code == 0:
            sys.stdout.write(out.getvalue())
            sys.stdout.flush()
        else:
            failures += 1
            sys.stderr.write(err.getvalue())
    return failures


if __name__ == "__main__":
    name = sys.argv[1]
    if name == "record_loop":
        sys.exit(1 if record_loop(sys.argv[2], int(sys.argv[3]), sys.argv[4]) else 0)
    raise SystemExit(f"unknown driver {name}")
