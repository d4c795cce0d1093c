"""The hash chain: pure functions over events, shared by every store and ``verify --file``.

Each event's ``hash`` is SHA-256 (or HMAC-SHA-256 with a chain key) over the previous
event's hash and a canonical serialisation of the event's content, including its
``seq``, ``org`` and ``recorded_at``. Changing, inserting, deleting or reordering a row
breaks a link that ``verify`` finds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from auditctl import jsonio

if TYPE_CHECKING:
    from auditctl.model import Event

# hashlib and hmac load OpenSSL (a few ms) and are imported where a hash is made:
# opening a store loads this module, and a search never hashes.

GENESIS = "0" * 64


def _hashed_fields(data: dict[str, Any]) -> dict[str, Any]:
    body = dict(data)
    body.pop("hash", None)
    body.pop("prev_hash", None)
    return body


def event_hash(data: dict[str, Any], prev_hash: str, key: bytes | None = None) -> str:
    """Hash of one event (as ``to_dict`` gives it) chained to ``prev_hash``."""
    return chain_hash(prev_hash, jsonio.canonical(_hashed_fields(data)), key)


def chain_hash(prev_hash: str, canonical: bytes, key: bytes | None = None) -> str:
    """The link: over the previous hash and the event's canonical bytes (``event_hash``)."""
    return chain_hasher(key)(prev_hash, canonical)


@lru_cache(maxsize=8)
def chain_hasher(key: bytes | None = None) -> Callable[[str, bytes], str]:
    """``chain_hash`` with ``key`` bound and its imports done, once per key."""
    import hashlib

    sha256 = hashlib.sha256
    if key:
        import hmac

        new = hmac.new

        def keyed(prev_hash: str, canonical: bytes) -> str:
            return new(key, prev_hash.encode() + b"\n" + canonical, sha256).hexdigest()

        return keyed

    def plain(prev_hash: str, canonical: bytes) -> str:
        return sha256(prev_hash.encode() + b"\n" + canonical).hexdigest()

    return plain


def seal(event: Event, prev_hash: str, key: bytes | None = None) -> Event:
    """Return the event with ``prev_hash`` and ``hash`` filled in."""
    with_prev = event.with_store_fields(prev_hash=prev_hash, hash=None)
    return with_prev.with_store_fields(hash=event_hash(with_prev.to_dict(), prev_hash, key))


def sign(text: str, key: bytes | None = None) -> str:
    """Signature of a checkpoint or tombstone record."""
    import hashlib

    if key:
        import hmac

        return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Break:
    seq: int | None
    problem: str

    def message(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "the chain"
        return f"chain broken at {where}: {self.problem}"


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    head_seq: int
    head_hash: str
    first_seq: int | None
    breaks: tuple[Break, ...] = ()
    purged_through: int = 0

    @property
    def ok(self) -> bool:
        return not self.breaks

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_seq": self.first_seq,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "purged_through": self.purged_through,
            "breaks": [{"seq": b.seq, "problem": b.problem} for b in self.breaks],
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> VerifyReport:
        head = data.get("head") or {}
        return VerifyReport(
            checked=int(data.get("checked", 0)),
            head_seq=int(head.get("seq", 0)),
            head_hash=str(head.get("hash", GENESIS)),
            first_seq=data.get("first_seq"),
            breaks=tuple(Break(b.get("seq"), str(b.get("problem"))) for b in data.get("breaks", [])),
            purged_through=int(data.get("purged_through", 0)),
        )


def compare_head(report: VerifyReport, expected: str) -> Break | None:
    """``--expect-head SEQ:HASH`` (or just HASH): is the anchored head still in the chain?"""
    seq_text, _, hash_text = expected.rpartition(":")
    if not seq_text:
        if hash_text != report.head_hash:
            return Break(report.head_seq, "head hash differs from the expected head")
        return None
    try:
        seq = int(seq_text)
    except ValueError:
        return Break(None, f"--expect-head must be SEQ:HASH, got {expected!r}")
    if report.head_seq < seq:
        return Break(
            report.head_seq + 1,
            f"the chain ends at seq {report.head_seq} but the expected head is seq {seq}: rows were removed from the tail or an old backup was restored",
        )
    if report.head_seq == seq and report.head_hash != hash_text:
        return Break(seq, "head hash differs from the expected head")
    return None


class ChainWalker:
    """Walk events in either seq order and check every link (used for files and stores).

    ``known`` maps seq → (prev_hash, hash) for rows a purge removed (tombstones), so a
    purged gap is explained; anything else missing is a deleted row.
    """

    def __init__(self, key: bytes | None = None, start_seq: int = 1, start_hash: str = GENESIS,
                 tombstones: dict[int, tuple[str, str]] | None = None) -> None:
        self.key = key
        self.expected_seq = start_seq
        self.expected_prev = start_hash
        self.start_seq = start_seq
        self.tombstones = tombstones or {}
        self.breaks: list[Break] = []
        self.checked = 0
        self.first_seq: int | None = None

    def _skip_tombstones(self, until_seq: int) -> None:
        while self.expected_seq < until_seq and self.expected_seq in self.tombstones:
            prev, hash_ = self.tombstones[self.expected_seq]
            if prev != self.expected_prev:
                self.breaks.append(Break(self.expected_seq, "purged row does not link to the row before it"))
            self.expected_prev = hash_
            self.expected_seq += 1

    def feed(self, data: dict[str, Any]) -> None:
        if self.breaks:
            return
        seq = data.get("seq")
        if not isinstance(seq, int):
            self.breaks.append(Break(None, "an event has no seq"))
            return
        if self.first_seq is None:
            self.first_seq = seq
        self._skip_tombstones(seq)
        if seq < self.expected_seq:
            self.breaks.append(Break(seq, f"seq {seq} is out of order or duplicated (expected {self.expected_seq})"))
            return
        if seq > self.expected_seq:
            self.breaks.append(
                Break(self.expected_seq, f"row missing: seq {self.expected_seq} to {seq - 1} deleted without a purge")
            )
            return
        stored_hash = data.get("hash")
        prev = data.get("prev_hash")
        recomputed = event_hash(data, str(prev or ""), self.key)
        if recomputed != stored_hash:
            self.breaks.append(Break(seq, "content does not match its hash (edited, inserted or hash recomputed without the chain key)"))
            return
        if prev != self.expected_prev:
            self.breaks.append(Break(seq, "prev_hash does not link to the previous event (row inserted, removed or reordered)"))
            return
        self.checked += 1
        self.expected_prev = str(stored_hash)
        self.expected_seq += 1

    def report(self) -> VerifyReport:
        return VerifyReport(
            checked=self.checked,
            head_seq=self.expected_seq - 1,
            head_hash=self.expected_prev,
            first_seq=self.first_seq,
            breaks=tuple(self.breaks),
            purged_through=self.start_seq - 1,
        )


def verify_stream(events: Iterable[dict[str, Any]], key: bytes | None = None) -> VerifyReport:
    """Check an exported file offline: events in either direction, starting anywhere.

    An export of a window starts at its first event's ``prev_hash``; that is taken on
    trust (anchor it with ``--expect-head`` or an earlier export).
    """
    items = iter(events)
    first = next(items, None)
    if first is None:
        return VerifyReport(checked=0, head_seq=0, head_hash=GENESIS, first_seq=None)
    second = next(items, None)
    descending = second is not None and isinstance(first.get("seq"), int) and isinstance(second.get("seq"), int) and second["seq"] < first["seq"]
    if not descending:
        walker = ChainWalker(key, start_seq=int(first.get("seq") or 1), start_hash=str(first.get("prev_hash") or GENESIS))
        walker.feed(first)
        if second is not None:
            walker.feed(second)
        for data in items:
            walker.feed(data)
        return walker.report()
    return _verify_descending(first, second, items, key)


def _verify_descending(first: dict[str, Any], second: dict[str, Any] | None, rest: Iterable[dict[str, Any]], key: bytes | None) -> VerifyReport:
    """Newest-first files (the default export order) are checked walking down."""
    head_seq = first["seq"]
    head_hash = first.get("hash") or ""
    checked = 0
    expected_seq = head_seq
    expected_hash = head_hash
    last_seq = head_seq
    breaks: list[Break] = []

    def feed(data: dict[str, Any]) -> None:
        nonlocal checked, expected_seq, expected_hash, last_seq
        seq = data.get("seq")
        if not isinstance(seq, int):
            breaks.append(Break(None, "an event has no seq"))
            return
        if seq != expected_seq:
            problem = (f"row missing: seq {seq + 1} to {expected_seq} deleted" if seq < expected_seq
                       else f"seq {seq} is out of order or duplicated")
            breaks.append(Break(min(seq + 1, expected_seq) if seq < expected_seq else seq, problem))
            return
        if data.get("hash") != expected_hash:
            breaks.append(Break(seq, "hash does not match the next event's prev_hash (row edited, inserted or reordered)"))
            return
        if event_hash(data, str(data.get("prev_hash") or ""), key) != data.get("hash"):
            breaks.append(Break(seq, "content does not match its hash (edited, or hash recomputed without the chain key)"))
            return
        checked += 1
        expected_seq = seq - 1
        expected_hash = str(data.get("prev_hash") or "")
        last_seq = seq

    for data in [first] + ([second] if second is not None else []):
        if not breaks:
            feed(data)
    for data in rest:
        if breaks:
            break
        feed(data)
    return VerifyReport(checked=checked, head_seq=head_seq, head_hash=head_hash, first_seq=last_seq,
                        breaks=tuple(breaks), purged_through=last_seq - 1)
