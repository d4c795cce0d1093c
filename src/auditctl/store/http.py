"""The remote store: the store interface over an auditctl server's HTTP API (DESIGN §4).

httpx is imported only when this store is opened. Every httpx exception and every
error answer becomes an ``auditctl.errors`` error here, so the CLI never sees httpx.

Reliability: connect timeout 5 s and 30 s for a whole call (retries included);
retries with exponential backoff only when the connection failed or the server said
429/503. Retrying a write is safe: before sending, the client gives each event its
id (and, when it made the id, its timestamp), and the server treats a known id with
the same content as a no-op, so a lost answer never turns into a duplicate event.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

from auditctl import __version__, errors, jsonio
from auditctl.integrity import VerifyReport
from auditctl.model import Event, new_id
from auditctl.query import Query
from auditctl.store.base import AppendResult, Head, PurgeResult, Store
from auditctl.timeparse import now_text

NDJSON = "application/x-ndjson"
PAGE_SIZE = 1000  # the server's largest page
CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 30.0
RETRIES = 3
BACKOFF = 0.25  # seconds before the first retry; doubles each time
MAX_RETRY_AFTER = 5.0

_BY_STATUS: dict[int, type[errors.AuditError]] = {
    400: errors.UsageError,
    401: errors.Unauthorized,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    409: errors.ConflictError,
    413: errors.TooLarge,
    422: errors.UsageError,
    429: errors.Busy,
    503: errors.Busy,
    507: errors.StoreIOError,
}


class HttpStore(Store):
    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        timeout: float = TOTAL_TIMEOUT,
        retries: int = RETRIES,
        backoff: float = BACKOFF,
        transport: Any = None,
    ) -> None:
        import httpx

        self._httpx = httpx
        self.url = url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        headers = {"User-Agent": f"auditctl/{__version__}", "Accept": "application/json"}
        if token:
            if not token.isascii() or not token.isprintable() or " " in token:
                raise errors.UsageError("the API token is not valid (tokens are printable ASCII, like actl_…)")
            headers["Authorization"] = f"Bearer {token}"
        if transport is None:
            # Small requests in two writes (headers, body) would otherwise wait on
            # delayed ACKs: ~40 ms per call on a keep-alive connection.
            # Plain http needs no TLS context (loading the CA bundle costs ~100 ms).
            transport = httpx.HTTPTransport(
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
                verify=not self.url.lower().startswith("http://"),
            )
        try:
            self._client = httpx.Client(
                base_url=self.url,
                headers=headers,
                timeout=httpx.Timeout(timeout, connect=connect_timeout),
                transport=transport,
                follow_redirects=False,
            )
        except (httpx.InvalidURL, ValueError) as exc:
            raise errors.UsageError(f"invalid store URL {url!r}: {exc}") from None

    # ------------------------------------------------------------------ transport

    def _unreachable(self, why: str) -> errors.Unreachable:
        return errors.Unreachable(
            f"cannot reach the auditctl server at {self.url}: {why}",
            hint="check that auditctl serve is running there and that the URL is right",
        )

    def _send(self, method: str, path: str, *, stream: bool = False, **kwargs: Any) -> Any:
        """One call with timeouts and retries; returns the response (2xx) or raises."""
        httpx = self._httpx
        deadline = time.monotonic() + self.timeout
        attempt = 0
        while True:
            remaining = max(deadline - time.monotonic(), 0.05)
            timeout = httpx.Timeout(min(self.timeout, remaining), connect=min(self.connect_timeout, remaining))
            delay = self.backoff * (2**attempt)
            try:
                request = self._client.build_request(method, path, timeout=timeout, **kwargs)
                response = self._client.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError,
                    httpx.WriteError) as exc:
                # The connection failed or broke before an answer: safe to retry (writes carry ids).
                if attempt >= self.retries or time.monotonic() + delay > deadline:
                    raise self._unreachable(_reason(exc)) from None
            except httpx.TimeoutException:
                raise self._unreachable(f"no answer within {self.timeout:g} s") from None
            except httpx.InvalidURL as exc:
                raise errors.UsageError(f"invalid store URL {self.url!r}: {exc}") from None
            except httpx.HTTPError as exc:
                raise self._unreachable(_reason(exc)) from None
            else:
                if response.status_code not in (429, 503) or attempt >= self.retries:
                    return self._checked(response)
                wait = _retry_after(response.headers.get("retry-after"), delay)
                if time.monotonic() + wait > deadline:
                    return self._checked(response)
                response.close()
                delay = wait
            time.sleep(delay)
            attempt += 1

    def _checked(self, response: Any) -> Any:
        """The response if it is a success; the server's error, as auditctl's, otherwise."""
        if response.status_code < 400:
            return response
        try:
            response.read()
            body = response.json()
        except (ValueError, self._httpx.HTTPError):  # not JSON: a proxy's page, not an auditctl server's
            body = None
        finally:
            response.close()
        status = response.status_code
        message = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else None
        hint = body.get("hint") if isinstance(body, dict) and isinstance(body.get("hint"), str) else None
        code = body.get("code") if isinstance(body, dict) else None
        cls = getattr(errors, code, None) if isinstance(code, str) else None
        if not (isinstance(cls, type) and issubclass(cls, errors.AuditError)):
            cls = _BY_STATUS.get(status, errors.AuditError)
        if message is None:
            message = f"the server at {self.url} answered HTTP {status}"
        elif status >= 500 and cls is errors.AuditError:
            message = f"the server at {self.url} failed: {message}"
        raise cls(message, hint=hint)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise self._unreachable("the answer is not JSON (is this an auditctl server?)") from None

    # ------------------------------------------------------------------ writing

    def append(self, events: Iterable[Event]) -> list[AppendResult]:
        batch = []
        for event in events:
            if event.id is None:
                # Made here, once: a retried request then names the same event.
                event = event.with_store_fields(id=new_id(), timestamp=event.timestamp or now_text())
            batch.append(event.to_dict())
        if not batch:
            return []
        body = jsonio.dumps(batch).encode("utf-8", "surrogatepass")
        data = self._json("POST", "/v1/events", content=body, headers={"Content-Type": "application/json"})
        return [AppendResult(str(r["id"]), int(r["seq"]), bool(r["created"])) for r in data["results"]]

    def purge(self, cutoff: str, *, dry_run: bool, actor: dict[str, Any] | None = None,
              reason: str | None = None) -> PurgeResult:
        # The caller already applied the cut-off rules (and any --force); the server
        # records the token as the actor. The key makes a retried purge report the
        # first one's result instead of "0 deleted".
        body: dict[str, Any] = {"before": cutoff, "dry_run": dry_run, "force": True}
        if reason:
            body["reason"] = reason
        data = self._json(
            "POST", "/v1/purge",
            json=body,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        return PurgeResult(
            cutoff=data["cutoff"], count=int(data["count"]), oldest=data.get("oldest"), newest=data.get("newest"),
            dry_run=bool(data["dry_run"]), event_id=data.get("event_id"),
        )

    # ------------------------------------------------------------------ reading

    def get(self, id_or_seq: str) -> Event:
        key = str(id_or_seq).strip()
        if not key:
            raise errors.NotFound("no event with an empty id")
        return Event.from_dict(self._json("GET", f"/v1/events/{quote(key, safe='')}"))

    @staticmethod
    def _params(query: Query) -> dict[str, Any]:
        if query.after is not None:
            raise errors.UsageError("paging by position is not available over HTTP; the server pages with cursors")
        params = query.to_params()
        params.pop("org", None)  # the token decides the organization
        params.pop("limit", None)
        if "reverse" in params:
            params["reverse"] = "true"
        return params

    def query_lines(self, query: Query) -> Iterator[str]:
        """Matching events as JSON lines, page after page (NDJSON, following cursors)."""
        params = self._params(query)
        remaining = query.limit
        cursor: str | None = None
        while remaining is None or remaining > 0:
            page = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            response = self._send("GET", "/v1/events", stream=True,
                                  params={**params, "limit": page, **({"cursor": cursor} if cursor else {})},
                                  headers={"Accept": NDJSON})
            sent = 0
            try:
                for line in response.iter_lines():
                    if line.strip():
                        sent += 1
                        yield line
            except self._httpx.HTTPError as exc:
                raise self._unreachable(f"the answer broke off: {_reason(exc)}") from None
            finally:
                response.close()
            cursor = response.headers.get("x-next-cursor")
            if remaining is not None:
                remaining -= sent
            if not cursor or sent == 0:
                return

    def query_json(self, query: Query) -> Iterator[dict[str, Any]]:
        for line in self.query_lines(query):
            yield jsonio.loads(line, f"answer from {self.url}")

    def query(self, query: Query) -> Iterator[Event]:
        for data in self.query_json(query):
            yield Event.from_dict(data)

    def count(self, query: Query) -> int:
        return int(self._json("GET", "/v1/count", params=self._params(query))["count"])

    def related(self, correlation_id: str) -> list[Event]:
        data = self._json("GET", f"/v1/correlations/{quote(correlation_id, safe='')}")
        return [Event.from_dict(item) for item in data["events"]]

    # ------------------------------------------------------------------ chain

    def verify(self) -> VerifyReport:
        return VerifyReport.from_dict(self._json("GET", "/v1/verify"))

    def head(self) -> Head:
        data = self._json("GET", "/v1/head")
        return Head(int(data["seq"]), str(data["hash"]))

    def close(self) -> None:
        self._client.close()


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return text[:200]


def _retry_after(value: str | None, default: float) -> float:
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER) if value else default
    except ValueError:
        return default
