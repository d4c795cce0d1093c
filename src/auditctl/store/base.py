"""The store interface: small, and free of any one database's habits.

Backends: ``sqlite`` (a local file, the default) and ``http`` (a remote auditctl
server). Each converts its library's exceptions into ``auditctl.errors``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: a store opened to read needs neither hashing nor the model
    from auditctl.ingest import Prepared
    from auditctl.integrity import VerifyReport
    from auditctl.model import Event
    from auditctl.query import Query


@dataclass(frozen=True)
class AppendResult:
    id: str
    seq: int
    created: bool  # False: the id existed with the same content (idempotent no-op)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "seq": self.seq, "created": self.created}


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash}

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


@dataclass(frozen=True)
class PurgeResult:
    cutoff: str
    count: int
    oldest: str | None
    newest: str | None
    dry_run: bool
    event_id: str | None = None  # the bulk_delete event the purge recorded

    def to_dict(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff,
            "count": self.count,
            "oldest": self.oldest,
            "newest": self.newest,
            "dry_run": self.dry_run,
            "event_id": self.event_id,
        }


class Store(ABC):
    """What every command needs of a place that keeps events."""

    url: str

    @abstractmethod
    def append(self, events: Iterable[Event]) -> list[AppendResult]:
        """Store a batch atomically (all or nothing), in order; assign seq and hashes."""

    def append_prepared(self, batch: list[Prepared]) -> list[AppendResult]:
        """Store a batch that ``ingest.prepare`` validated, redacted and serialised
        (an import's batches). A local backend only seals and writes them; the
        default sends their content the ordinary way."""
        from auditctl import jsonio
        from auditctl.model import Event

        return self.append([Event.from_dict(jsonio.loads(event.content, "prepared event")) for event in batch])

    @contextmanager
    def bulk_import(self) -> Iterator[None]:
        """Around an import's batches: a backend may build some structures once at the end."""
        yield

    def append_one(self, event: Event) -> tuple[AppendResult, Event]:
        result = self.append([event])[0]
        return result, self.get(result.id)

    @abstractmethod
    def get(self, id_or_seq: str) -> Event:
        """One event by id or seq; NotFound otherwise."""

    @abstractmethod
    def query(self, query: Query) -> Iterator[Event]:
        """Matching events, newest first (oldest first with ``query.reverse``), streamed."""

    def query_json(self, query: Query) -> Iterator[dict[str, Any]]:
        """Matching events as export dicts (backends may skip building objects)."""
        for event in self.query(query):
            yield event.to_dict()

    def query_lines(self, query: Query) -> Iterator[str]:
        """Matching events as JSON text, one per event (backends may hand over stored text)."""
        from auditctl import jsonio

        for data in self.query_json(query):
            yield jsonio.dumps(data)

    @abstractmethod
    def count(self, query: Query) -> int:
        """How many events match, ignoring ``query.limit``."""

    @abstractmethod
    def related(self, correlation_id: str) -> list[Event]:
        """Every event of a correlation group, oldest first."""

    @abstractmethod
    def purge(self, cutoff: str, *, dry_run: bool, actor: dict[str, Any] | None = None,
              reason: str | None = None) -> PurgeResult:
        """Delete events with ``timestamp < cutoff``, leaving the chain verifiable.

        The purge records its own ``bulk_delete`` event by ``actor`` (default: the
        system) with ``reason`` in its context.
        """

    @abstractmethod
    def verify(self) -> VerifyReport:
        """Walk the whole hash chain and the storage's own integrity check."""

    @abstractmethod
    def head(self) -> Head:
        """The newest link of the chain."""

    def close(self) -> None:  # noqa: B027 (optional: a backend without resources keeps it)
        """Release connections and files."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
