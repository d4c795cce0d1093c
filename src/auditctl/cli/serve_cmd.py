"""``auditctl serve``: run the HTTP API over a local store."""

from __future__ import annotations

import signal
import socket
from typing import Annotated, Any

import typer

from auditctl.cli.app import app
from auditctl.cli.common import Globals, command, get_globals, info
from auditctl.errors import UsageError
from auditctl.timeparse import parse_duration


def local_store_path(g: Globals, what: str) -> str:
    """The file behind ``--store``: serving and token management work on a local store only."""
    url = g.store_url()
    if url.startswith(("http://", "https://")):
        raise UsageError(f"{what} works on the server's own store file, not on {url}",
                         hint="run it on the server host with --store PATH")
    return url.removeprefix("sqlite://")


def _listen(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)  # clients may connect (and queue) from the moment the URL is printed
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                         hint="pick another --port, or stop what holds this one") from None
    return sock


@command(app, "serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default; put TLS in front for anything else).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free port).")] = 8750,
    purge_every: Annotated[str, typer.Option("--purge-every", help="How often to purge events past retention_days (e.g. 1h, 30m; 0 turns it off).")] = "1h",
) -> None:
    """Serve the store over HTTP for a team's CLIs and scripts.

    Example: auditctl serve --store /srv/audit/audit.db --port 8750
    """
    g = get_globals()
    path = local_store_path(g, "auditctl serve")
    interval = 0.0 if purge_every.strip() in ("0", "off", "never") else parse_duration(purge_every).total_seconds()
    try:
        import uvicorn

        from auditctl.server import create_app
    except ImportError as exc:
        raise UsageError(f"auditctl serve needs the server extra ({exc.name} is missing)",
                         hint="pip install 'auditctl[server]'") from None
    settings = g.settings
    chain_key = settings["chain_key"]
    application = create_app(
        path,
        chain_key=chain_key.encode() if chain_key else None,
        redact_patterns=settings["redact_patterns"],
        retention_days=settings["retention_days"],
        purge_interval=interval,
    )
    sock = _listen(host, port)
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, log_level="info", timeout_graceful_shutdown=30,
                                           server_header=False))
    shown_host = f"[{host}]" if ":" in host else host
    info(f"auditctl serving {path} on http://{shown_host}:{bound} (Ctrl-C or SIGTERM stops it gracefully)")
    # uvicorn drains in-flight requests on SIGTERM/SIGINT, then re-raises the signal;
    # by then the shutdown was clean, so the re-raised signal is only noted.
    stops: list[int] = []
    previous: dict[int, Any] = {}
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[stop_signal] = signal.signal(stop_signal, lambda signum, frame: stops.append(signum))
        except ValueError:  # not the main thread
            pass
    try:
        server.run(sockets=[sock])
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sock.close()
    info("auditctl serve stopped" + (f" ({signal.Signals(stops[0]).name})" if stops else ""))
