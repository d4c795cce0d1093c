"""The auditctl HTTP API (DESIGN §4): FastAPI over a local SQLite store.

Every request is scoped to the organization of its token (``store.for_org``). Store
work runs in worker threads, each with a connection from a small pool; writes are
serialised by one lock (SQLite has one writer anyway, and waiting on a lock is
cheaper than on SQLite's busy handler). A write is answered only after it
committed, so a graceful shutdown (uvicorn drains requests on SIGTERM) loses no
acknowledged event. Two exceptions, both for speed: a page of search results is
read on the event loop when it is quick (``_read_on_loop``), and WAL checkpoints
run in a thread of their own after each write (``store.checkpoint``).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.exceptions import HTTPException as StarletteHTTPException

from auditctl import __version__, jsonio
from auditctl.errors import AuditError, Busy, NotFound, Unauthorized, UsageError, ValidationError
from auditctl.ingest import Prepared
from auditctl.model import format_time
from auditctl.query import Query, query_from_params
from auditctl.redact import Redactor
from auditctl.retention import purge_cutoff
from auditctl.server import cursor as cursors
from auditctl.server.auth import Caller, allowed_token, authenticate, require
from auditctl.server.limits import Limits, decode_utf8, event_items, read_body
from auditctl.server.openapi import EVENT_BODY, FILTER_PARAMS, PAGE_PARAMS, PURGE_BODY, TOKEN_BODY
from auditctl.server.prep import CHUNK_EVENTS, FIRST_CHUNK, Item, PrepWorkers, prepare_items, request_context
from auditctl.store import tokens
from auditctl.store.budget import OverBudget, sqlite_budget
from auditctl.store.checkpoint import Checkpointer, leave_checkpoints_to_the_background
from auditctl.store.sqlite import SQLiteStore
from auditctl.store.tokens import MANAGE, PURGE, VIEW, WRITE
from auditctl.timeparse import now, now_text, parse_duration

log = logging.getLogger("auditctl.server")
T = TypeVar("T")

NDJSON = "application/x-ndjson"
QUERY_PARAMS = frozenset({
    "q", "terms", "action", "actions", "entity", "entity_type", "entity_id", "source", "actor", "actor_type",
    "correlation_id", "changed", "since", "until", "limit", "reverse", "cursor",
})
MAX_PARAM_VALUES = 64
MAX_PARAM_LEN = 1024
MAX_SMALL_TEXT = 1024  # a string in a purge or token request
SCHEDULER_ACTOR = {"type": "scheduler", "id": "auditctl-serve", "email": None}
# SQLite time a read may take on the event loop before it is moved to a worker thread
# (_read_on_loop): what it holds other requests up by at most.
INLINE_BUDGET = 0.010



class _AnyTextConvertor(PathConvertor):
    """Like ``:path``, but also across line breaks: a correlation id may hold a newline
    (it is untrusted text), and Starlette's ``.*`` would not match it, so the route
    would answer a bare 404 instead of the group."""

    regex = "(?s:.*)"


register_url_convertor("text", _AnyTextConvertor())

# auto_error=False: a missing or malformed header must reach our own 401, which is recorded.
_BEARER = HTTPBearer(auto_error=False, description="An API token (actl_…) from auditctl token create.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)]


@dataclass
class ServerSettings:
    store_path: Path
    chain_key: bytes | None = None
    redact_patterns: list[str] | None = None
    retention_days: int = 30
    purge_interval: float = 3600.0  # seconds between scheduled purges; 0 turns them off
    limits: Limits = field(default_factory=Limits)
    prep_worker: bool = True  # big POSTs prepared in a worker process (server.prep)


class StorePool:
    """SQLite connections for worker threads: one per concurrent request, reused."""

    def __init__(self, factory: Callable[[], SQLiteStore]) -> None:
        self._factory = factory
        self._idle: list[SQLiteStore] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def acquire(self) -> Iterator[SQLiteStore]:
        with self._lock:
            if self._closed:
                raise Busy("the server is shutting down", hint="retry in a moment")
            store = self._idle.pop() if self._idle else None
        if store is None:
            store = self._factory()
        try:
            yield store
        finally:
            self._give_back(store)

    @contextmanager
    def acquire_idle(self) -> Iterator[SQLiteStore | None]:
        """An idle connection, or None: never opens one (opening may run migrations or
        build indexes, which is not for the event loop)."""
        with self._lock:
            store = self._idle.pop() if self._idle and not self._closed else None
        if store is None:
            yield None
            return
        try:
            yield store
        finally:
            self._give_back(store)

    def _give_back(self, store: SQLiteStore) -> None:
        with self._lock:
            if self._closed:
                store.close()
            else:
                self._idle.append(store)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for store in idle:
            store.close()


class ServerState:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.limits = settings.limits
        redactor = Redactor(settings.redact_patterns) if settings.redact_patterns is not None else Redactor()

        def factory() -> SQLiteStore:
            return SQLiteStore(settings.store_path, create=True, redactor=redactor, chain_key=settings.chain_key)

        factory().close()  # create the file and run migrations now, not on the first request
        self.pool = StorePool(lambda: leave_checkpoints_to_the_background(factory()))
        self.checkpointer = Checkpointer(factory)
        self.prep = PrepWorkers(redactor, enabled=settings.prep_worker)
        self.write_lock = threading.Lock()
        self._purges: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._stop = threading.Event()
        self._scheduler: threading.Thread | None = None

    # ------------------------------------------------------------------ scheduled purge

    def start_scheduler(self) -> None:
        self.checkpointer.start()
        if self.settings.purge_interval <= 0:
            return
        self._scheduler = threading.Thread(target=self._schedule, name="auditctl-purge", daemon=True)
        self._scheduler.start()

    def stop_scheduler(self) -> None:
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.join(timeout=60)
        self.checkpointer.stop()

    def _schedule(self) -> None:
        while not self._stop.is_set():
            try:
                self.purge_expired()
            except Exception:  # a failed round must not end the schedule
                log.exception("scheduled purge failed")
            self._stop.wait(self.settings.purge_interval)

    def purge_expired(self) -> list[dict[str, Any]]:
        """Purge every organization's events older than the retention window."""
        cutoff = purge_cutoff(None, None, self.settings.retention_days, False)
        done = []
        with self.pool.acquire() as store:
            orgs = tokens.list_orgs(store)
        for org in orgs:
            if self._stop.is_set():
                break
            with self.write_lock, self.pool.acquire() as store:
                result = store.for_org(org).purge(
                    cutoff, dry_run=False, actor=SCHEDULER_ACTOR,
                    reason=f"scheduled retention purge ({self.settings.retention_days} days)")
            if result.count:
                log.info("scheduled purge: %s events before %s deleted in org %s", result.count, cutoff, org)
                done.append({"org": org, **result.to_dict()})
        return done

    # ------------------------------------------------------------------ purge idempotency

    def remembered_purge(self, org: str, key: str | None) -> dict[str, Any] | None:
        if not key:
            return None
        with self.write_lock:
            return self._purges.get((org, key))

    def remember_purge(self, org: str, key: str | None, result: dict[str, Any]) -> None:
        if not key:
            return
        self._purges[(org, key)] = result
        while len(self._purges) > 256:
            self._purges.popitem(last=False)

    def close(self) -> None:
        self.stop_scheduler()
        self.prep.close()
        self.pool.close()


# --------------------------------------------------------------------------- helpers


def _caller(request: Request, limits: Limits) -> Caller:
    agent = request.headers.get("user-agent")
    return Caller(
        ip=request.client.host if request.client else None,
        user_agent=agent[: limits.max_user_agent] if agent else None,
        method=request.method,
        path=request.url.path,
    )


def _secret(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials else None


def _params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if name not in QUERY_PARAMS:
            raise UsageError(f"unknown query parameter {name[:64]!r}", hint="see /openapi.json for the parameters")
        if len(value) > MAX_PARAM_LEN:
            raise UsageError(f"query parameter {name} is too long (at most {MAX_PARAM_LEN} characters)")
        values = params.setdefault(name, [])
        values.append(value)
        if len(values) > MAX_PARAM_VALUES:
            raise UsageError(f"query parameter {name} is repeated more than {MAX_PARAM_VALUES} times")
    return params


def _query(request: Request, limits: Limits) -> tuple[Query, str | None]:
    params = _params(request)
    cursor = params.pop("cursor", [None])[-1]
    query = query_from_params(params, max_limit=limits.max_page)
    if query.limit is None:
        query = replace(query, limit=limits.default_page)
    return query, cursor


def _path_key(value: str, what: str, limits: Limits) -> str:
    if not value.strip() or len(value) > limits.max_path_key or "\x00" in value:
        raise UsageError(f"invalid {what}")
    return value


def _prepared_chunks(state: ServerState, store: SQLiteStore, items: list[Item], context: dict[str, str | None],
                     horizon: str) -> Iterator[list[Prepared]]:
    """The batch's events ready to store, a chunk at a time (``store.append_prepared_chunks``).

    A big batch is chunked and prepared in the worker process (``server.prep``), but
    for a small first chunk, prepared here while the worker starts on the rest. The
    worker does not see the store, so the retries it finds are redone here with their
    stored context (``fill_context``); a chunk the worker cannot do is done here.
    """
    redactor, total = store.redactor, len(items)
    if state.prep.wanted(total):
        cuts = [0, *range(FIRST_CHUNK, total, CHUNK_EVENTS), total]
        parts = [items[low:high] for low, high in pairwise(cuts)]
    else:
        parts = [items]
    futures = [state.prep.submit(part, total, context, horizon) for part in parts[1:]]
    try:
        for part, future in zip(parts, [None, *futures], strict=True):
            prepared = state.prep.result(future)
            if prepared is None:
                prepared = prepare_items(part, total, context, None, redactor, horizon)
            stored = store.stored_records([record.id for record in prepared])
            if stored:
                prepared = [prepare_items([item], total, context, stored, redactor, horizon)[0]
                            if record.id in stored else record for item, record in zip(part, prepared, strict=True)]
            yield prepared
    finally:  # a bad event: what is still queued for the worker is not wanted
        for future in futures:
            if future is not None:
                future.cancel()


def _read_on_loop(state: ServerState, secret: str | None, action: Callable[[SQLiteStore], T]) -> T | None:
    """``action`` on the caller's org's store, right here on the event loop, if the token
    may view and the SQLite work fits in ``INLINE_BUDGET``; None otherwise, and the
    caller runs it in a worker thread the usual way (``as_viewer``), which also
    records a refusal.

    For searches: a worker thread costs more CPU than a page of results takes
    (``store.budget``), and with many clients at once CPU is what they wait for. Only
    for reads whose Python work is bounded: the budget interrupts SQLite, not Python.
    """
    with state.pool.acquire_idle() as pooled:
        if pooled is None:
            return None
        try:
            with sqlite_budget(pooled, INLINE_BUDGET):
                token = allowed_token(pooled, secret, VIEW)
                if token is None:
                    return None
                return action(pooled.for_org(token.org))
        except OverBudget:
            return None


def _error(exc: AuditError) -> JSONResponse:
    headers = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, Busy):
        headers["Retry-After"] = "1"
    return JSONResponse(exc.to_dict(), status_code=exc.http_status, headers=headers)


# --------------------------------------------------------------------------- the app


def create_app(store_path: str | Path, **options: Any) -> FastAPI:
    """The ASGI app serving the store at ``store_path`` (options: see ``ServerSettings``)."""
    settings = ServerSettings(store_path=Path(store_path), **options)
    state = ServerState(settings)
    limits = settings.limits

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start_scheduler()
        state.prep.start()
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="auditctl",
        version=__version__,
        description="The audit log over HTTP: record, search, inspect, verify and purge events.",
        lifespan=lifespan,
    )
    app.state.auditctl = state

    async def in_thread(func: Callable[[], T]) -> T:
        return await run_in_threadpool(func)

    async def as_viewer(request: Request, credentials: Any, action: Callable[[Any], T]) -> T:
        """Authenticate, require audit.log.view, then run ``action`` on the caller's
        org's store, off the event loop (SQLite calls block)."""
        caller = _caller(request, limits)

        def work() -> T:
            token = authenticate(state, _secret(credentials), caller)
            require(state, token, caller, VIEW)
            with state.pool.acquire() as store:
                return action(store.for_org(token.org))

        return await in_thread(work)

    # ------------------------------------------------------------------ errors

    @app.exception_handler(AuditError)
    async def audit_error(request: Request, exc: AuditError) -> JSONResponse:
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:3]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
        return _error(ValidationError("invalid request: " + "; ".join(problems)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "NotFound", 405: "MethodNotAllowed"}
        return JSONResponse({"error": str(exc.detail).lower(), "code": codes.get(exc.status_code, "HTTPError")},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "internal server error", "code": "InternalError"}, status_code=500)

    # ------------------------------------------------------------------ routes

    @app.get("/healthz", tags=["meta"], summary="Liveness (no token needed)")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.post("/v1/events", tags=["events"], summary="Record one event, an array, or NDJSON",
              status_code=201, openapi_extra=EVENT_BODY)
    async def post_events(request: Request,
                          credentials: Credentials) -> Response:
        caller = _caller(request, limits)
        token = await in_thread(lambda: authenticate(state, _secret(credentials), caller))
        # A reader may report its own exports (the CLI records an `export` event after
        # every export); everything else needs the write permission.
        if WRITE not in token.permissions:
            await in_thread(lambda: require(state, token, caller, WRITE, VIEW))
        body = await read_body(request.stream(), request.headers.get("content-length"), limits.max_body)

        def work() -> tuple[int, str]:
            items = event_items(decode_utf8(body), request.headers.get("content-type", ""), limits.max_batch)
            horizon = format_time(now() + limits.max_future)
            with state.pool.acquire() as pooled:
                store = pooled.for_org(token.org)
                context = request_context(caller.ip, caller.user_agent, token.id, store.redactor)
                chunks = _prepared_chunks(state, store, items, context, horizon)
                if WRITE not in token.permissions:
                    # Every event validated first, then the permission: a bad batch is a 422 either way.
                    prepared = [record for chunk in chunks for record in chunk]
                    if any(record.fields[0] != "export" for record in prepared):
                        require(state, token, caller, WRITE)
                    chunks = iter([prepared])
                with state.write_lock:
                    results = store.append_prepared_chunks(chunks)
            state.checkpointer.poke()
            created = sum(1 for r in results if r.created)
            answer = jsonio.dumps({"results": [r.to_dict() for r in results], "created": created})
            return (201 if created else 200), answer

        status, payload = await in_thread(work)
        return Response(payload, status_code=status, media_type="application/json")

    # The query string is read with query_from_params, the CLI's own parser; the
    # parameters are declared for the OpenAPI document only.
    @app.get("/v1/events", tags=["events"], summary="Search events (JSON page or NDJSON stream)",
             responses={200: {"content": {NDJSON: {"schema": {"type": "string"}}}}},
             openapi_extra={"parameters": [*FILTER_PARAMS, *PAGE_PARAMS]})
    async def list_events(request: Request,
                          credentials: Credentials) -> Response:
        ndjson = NDJSON in request.headers.get("accept", "")

        def page(store: SQLiteStore) -> tuple[list[str], str | None]:
            query, position = _query(request, limits)
            page_size = query.limit or limits.default_page
            after = cursors.decode(position, query) if position else None
            # The events as stored (JSON text): the page is spliced, not re-encoded.
            lines = list(store.query_lines(replace(query, limit=page_size + 1, after=after)))
            more = len(lines) > page_size
            lines = lines[:page_size]
            next_cursor = None
            if more:
                last = jsonio.loads(lines[-1], "stored event")
                next_cursor = cursors.encode(query, last["timestamp"], last["seq"])
            return lines, next_cursor

        # A page is at most max_page rows: bounded work, tried on the loop first.
        found = _read_on_loop(state, _secret(credentials), page)
        lines, next_cursor = found if found is not None else await as_viewer(request, credentials, page)
        headers = {"X-Next-Cursor": next_cursor} if next_cursor else {}
        if ndjson:
            return Response("".join(line + "\n" for line in lines), media_type=NDJSON, headers=headers)
        body = '{"events":[' + ",".join(lines) + '],"next_cursor":' + jsonio.dumps(next_cursor) + "}"
        return Response(body, media_type="application/json", headers=headers)

    @app.get("/v1/count", tags=["events"], summary="How many events match (same filters as /v1/events)",
             openapi_extra={"parameters": FILTER_PARAMS})
    async def count_events(request: Request,
                           credentials: Credentials) -> dict[str, int]:
        return {"count": await as_viewer(request, credentials, lambda store: store.count(_query(request, limits)[0]))}

    @app.get("/v1/events/{id_or_seq:text}", tags=["events"], summary="One event by id or seq")
    async def get_event(request: Request, id_or_seq: str,
                        credentials: Credentials) -> dict[str, Any]:
        return await as_viewer(
            request, credentials, lambda store: store.get(_path_key(id_or_seq, "event id or seq", limits)).to_dict()
        )

    @app.get("/v1/correlations/{cid:text}", tags=["events"], summary="Every event of a correlation group, oldest first")
    async def correlation(request: Request, cid: str,
                          credentials: Credentials) -> dict[str, Any]:
        return await as_viewer(
            request, credentials,
            lambda store: {"events": [e.to_dict() for e in store.related(_path_key(cid, "correlation id", limits))]},
        )

    @app.post("/v1/purge", tags=["integrity"], summary="Delete events older than a cut-off (or count them)",
              openapi_extra=PURGE_BODY)
    async def purge(request: Request,
                    credentials: Credentials) -> dict[str, Any]:
        caller = _caller(request, limits)
        token = await in_thread(lambda: authenticate(state, _secret(credentials), caller))
        body = await read_body(request.stream(), request.headers.get("content-length"), limits.max_small_body)
        key = request.headers.get("idempotency-key")

        def work() -> dict[str, Any]:
            options = _json_object(body, {"older_than": str, "before": str, "dry_run": bool, "force": bool,
                                          "reason": str})
            dry_run = bool(options.get("dry_run", False))
            require(state, token, caller, *((PURGE, VIEW) if dry_run else (PURGE,)))
            cutoff = purge_cutoff(options.get("older_than"), options.get("before"),
                                  state.settings.retention_days, bool(options.get("force", False)))
            if not dry_run and (earlier := state.remembered_purge(token.org, key)) is not None:
                return earlier
            with state.pool.acquire() as pooled:
                store = pooled.for_org(token.org)
                if dry_run:
                    return store.purge(cutoff, dry_run=True).to_dict()
                with state.write_lock:
                    result = store.purge(cutoff, dry_run=False,
                                         actor={"type": "api_key", "id": token.id, "email": None},
                                         reason=options.get("reason") or "retention purge over the API").to_dict()
                    state.remember_purge(token.org, key, result)
            return result

        return await in_thread(work)

    @app.get("/v1/verify", tags=["integrity"], summary="Check the organization's hash chain")
    async def verify(request: Request,
                     credentials: Credentials) -> dict[str, Any]:
        return await as_viewer(request, credentials, lambda store: store.verify().to_dict())

    @app.get("/v1/head", tags=["integrity"], summary="The newest link of the organization's chain")
    async def head(request: Request,
                   credentials: Credentials) -> dict[str, Any]:
        return await as_viewer(request, credentials, lambda store: store.head().to_dict())

    # ------------------------------------------------------------------ tokens (token.manage)

    @app.get("/v1/tokens", tags=["tokens"], summary="The organization's API tokens (never their secrets)")
    async def list_tokens(request: Request,
                          credentials: Credentials) -> dict[str, Any]:
        caller = _caller(request, limits)

        def work() -> dict[str, Any]:
            token = authenticate(state, _secret(credentials), caller)
            require(state, token, caller, MANAGE)
            current = now_text()
            with state.pool.acquire() as store:
                return {"tokens": [t.to_dict(current) for t in tokens.list_tokens(store, token.org)]}

        return await in_thread(work)

    @app.post("/v1/tokens", tags=["tokens"], summary="Make a token in the caller's organization",
              status_code=201, openapi_extra=TOKEN_BODY)
    async def create_token(request: Request,
                           credentials: Credentials) -> dict[str, Any]:
        caller = _caller(request, limits)
        token = await in_thread(lambda: authenticate(state, _secret(credentials), caller))
        body = await read_body(request.stream(), request.headers.get("content-length"), limits.max_small_body)

        def work() -> dict[str, Any]:
            require(state, token, caller, MANAGE)
            options = _json_object(body, {"role": str, "name": str, "expires": str})
            if "role" not in options:
                raise ValidationError("role is required (admin, auditor or writer)", "role")
            expires = options.get("expires")
            expires_at = format_time(now() + parse_duration(expires)) if expires else None
            with state.write_lock, state.pool.acquire() as store:
                secret, info = tokens.create_token(store, role=options["role"], org=token.org,
                                                   name=options.get("name"), created_at=now_text(),
                                                   expires_at=expires_at)
            return {"token": secret, **info.to_dict(now_text())}

        return await in_thread(work)

    @app.delete("/v1/tokens/{token_id:text}", tags=["tokens"], summary="Revoke a token of the caller's organization")
    async def revoke_token(request: Request, token_id: str,
                           credentials: Credentials) -> dict[str, Any]:
        caller = _caller(request, limits)

        def work() -> dict[str, Any]:
            token = authenticate(state, _secret(credentials), caller)
            require(state, token, caller, MANAGE)
            key = _path_key(token_id, "token id", limits)
            with state.write_lock, state.pool.acquire() as store:
                target = tokens.get_token(store, key)
                if target.org != token.org:  # another org's token does not exist for this caller
                    raise NotFound(f"no token with id {key[:80]!r}")
                return tokens.revoke_token(store, key, now_text()).to_dict(now_text())

        return await in_thread(work)

    return app


def _json_object(body: bytes, allowed: dict[str, type]) -> dict[str, Any]:
    """A small JSON object body with only ``allowed`` keys of the given types (null = absent)."""
    text = decode_utf8(body).strip() or "{}"
    data = jsonio.loads(text, "request body")
    if not isinstance(data, dict):
        raise ValidationError("request body must be a JSON object")
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name not in allowed:
            raise ValidationError(f"unknown field {str(name)[:64]!r}; allowed: {', '.join(allowed)}", str(name)[:64])
        if value is None:
            continue
        kind = allowed[name]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ValidationError(f"{name} must be a {'boolean' if kind is bool else 'string'}", name)
        if isinstance(value, str) and (len(value) > MAX_SMALL_TEXT or "\x00" in value):
            raise ValidationError(f"{name} is not a valid value", name)
        out[name] = value
    return out
