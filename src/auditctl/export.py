"""Reading and writing event files: JSONL, JSON arrays and CSV.

Writers stream (one event at a time, constant memory). CSV cells that a spreadsheet
would run as a formula are prefixed with ``'``; the reader strips it again, so an
export re-imports losslessly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from auditctl.errors import ValidationError
from auditctl.names import CONTEXT_FIELDS

# csv and the JSON codec are imported where used: JSON lines copied from the store,
# what scripts read, need neither.

CSV_COLUMNS = (
    "id",
    "seq",
    "org",
    "timestamp",
    "recorded_at",
    "action",
    "actor_type",
    "actor_id",
    "actor_email",
    "source",
    "entity_type",
    "entity_id",
    "entity_ids",
    "changes",
    *(f"context_{name}" for name in CONTEXT_FIELDS),
    "context_extra",
    "metadata",
    "schema_version",
    "prev_hash",
    "hash",
)
_JSON_COLUMNS = ("entity_ids", "changes", "context_extra", "metadata")
# A leading ' is escaped too, so that stripping one ' on import is always right.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_guard(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_unguard(value: str) -> str:
    return value.removeprefix("'")


def to_csv_row(data: dict[str, Any]) -> list[str]:
    from auditctl import jsonio

    actor = data.get("actor") or {}
    entity = data.get("entity") or {}
    context = dict(data.get("context") or {})
    extra = {k: v for k, v in context.items() if k not in CONTEXT_FIELDS}
    flat: dict[str, Any] = {
        "id": data.get("id"),
        "seq": data.get("seq"),
        "org": data.get("org"),
        "timestamp": data.get("timestamp"),
        "recorded_at": data.get("recorded_at"),
        "action": data.get("action"),
        "actor_type": actor.get("type"),
        "actor_id": actor.get("id"),
        "actor_email": actor.get("email"),
        "source": data.get("source"),
        "entity_type": entity.get("type"),
        "entity_id": entity.get("id"),
        "entity_ids": jsonio.dumps(data.get("entity_ids") or []),
        "changes": jsonio.dumps(data.get("changes") or []),
        "context_extra": jsonio.dumps(extra) if extra else "",
        "metadata": jsonio.dumps(data.get("metadata") or {}),
        "schema_version": data.get("schema_version"),
        "prev_hash": data.get("prev_hash"),
        "hash": data.get("hash"),
    }
    for name in CONTEXT_FIELDS:
        flat[f"context_{name}"] = context.get(name)
    row = []
    for column in CSV_COLUMNS:
        value = flat[column]
        row.append("" if value is None else csv_guard(str(value)))
    return row


def from_csv_row(row: dict[str, str], line: int) -> dict[str, Any]:
    def cell(name: str) -> str | None:
        value = row.get(name)
        if value is None or value == "":
            return None
        return csv_unguard(value)

    def json_cell(name: str, default: Any) -> Any:
        from auditctl import jsonio

        value = cell(name)
        if value is None:
            return default
        return jsonio.loads(value, f"line {line}, column {name}")

    unknown = [k for k in row if k not in CSV_COLUMNS and k is not None]
    if unknown or None in row:
        raise ValidationError(f"line {line}: unexpected CSV column {str(unknown[0] if unknown else 'extra cells')[:40]!r}")
    seq = cell("seq")
    version = cell("schema_version")
    context: dict[str, Any] = {name: cell(f"context_{name}") for name in CONTEXT_FIELDS}
    context.update(json_cell("context_extra", {}))
    data: dict[str, Any] = {
        "id": cell("id"),
        "seq": _whole(seq),
        "org": cell("org"),
        "timestamp": cell("timestamp"),
        "recorded_at": cell("recorded_at"),
        "action": cell("action"),
        "actor": {"type": cell("actor_type"), "id": cell("actor_id"), "email": cell("actor_email")},
        "source": cell("source"),
        "entity": {"type": cell("entity_type"), "id": cell("entity_id")},
        "entity_ids": json_cell("entity_ids", []),
        "changes": json_cell("changes", []),
        "context": context,
        "metadata": json_cell("metadata", {}),
        "schema_version": _whole(version),
        "prev_hash": cell("prev_hash"),
        "hash": cell("hash"),
    }
    return data


def _whole(value: str | None) -> int | None:
    """A store-assigned number from a CSV cell; anything else (e.g. '²', which
    str.isdigit() accepts and int() refuses) is left for the store to assign."""
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 19 else None


# --------------------------------------------------------------------------- writers


class Writer:
    """Streams events to a text file in one machine format."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.count = 0

    def write(self, data: dict[str, Any]) -> None:
        self.count += 1
        self._write(data)

    def write_line(self, line: str) -> None:
        """Write an event given as its JSON text (avoids decoding for jsonl)."""
        from auditctl import jsonio

        self.write(jsonio.loads(line, "stored event"))

    def _write(self, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.out.flush()


class JsonlWriter(Writer):
    def _write(self, data: dict[str, Any]) -> None:
        from auditctl import jsonio

        self.out.write(jsonio.dumps(data))
        self.out.write("\n")

    def write_line(self, line: str) -> None:
        self.count += 1
        self.out.write(line)
        self.out.write("\n")


class JsonArrayWriter(Writer):
    def _write(self, data: dict[str, Any]) -> None:
        from auditctl import jsonio

        self.out.write("[\n" if self.count == 1 else ",\n")
        self.out.write(jsonio.dumps(data))

    def close(self) -> None:
        self.out.write("[]\n" if self.count == 0 else "\n]\n")
        super().close()


class CsvWriter(Writer):
    def __init__(self, out: IO[str]) -> None:
        import csv

        super().__init__(out)
        # RFC 4180 line ends: with "\r\n" as the terminator the writer also quotes
        # cells holding a lone "\r", which a "\n" terminator would leave bare.
        self._csv = csv.writer(out, lineterminator="\r\n")
        self._csv.writerow(CSV_COLUMNS)

    def _write(self, data: dict[str, Any]) -> None:
        self._csv.writerow(to_csv_row(data))


WRITERS: dict[str, type[Writer]] = {"jsonl": JsonlWriter, "json": JsonArrayWriter, "csv": CsvWriter}


def writer_for(fmt: str, out: IO[str]) -> Writer:
    return WRITERS[fmt](out)


def write_query(store: Any, query: Any, fmt: str, out: IO[str],
                wrap: Callable[[Iterator[Any]], Iterator[Any]] = iter) -> int:
    """Stream a store query to ``out`` in a machine format; return how many events.

    JSON lines copy each event's JSON text as the store hands it over (no decoding);
    json and csv need the dicts. ``wrap`` sees every item (a progress bar, a flag).
    """
    writer = writer_for(fmt, out)
    if fmt == "jsonl":
        for line in wrap(store.query_lines(query)):
            writer.write_line(line)
    else:
        for data in wrap(store.query_json(query)):
            writer.write(data)
    writer.close()
    return writer.count


# --------------------------------------------------------------------------- readers


def read_events(stream: IO[str], fmt: str | None = None, name: str = "input",
                lazy: bool = False) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, event dict)`` from JSONL, a JSON array/object, or CSV.

    ``fmt`` forces a format; otherwise it is sniffed from the first characters.
    JSONL and CSV stream; a JSON array is parsed whole (use JSONL for big files).
    ``lazy``: JSON lines after the first come as their text, for the caller to
    parse with ``parse_jsonl_line`` (import does it in its worker process).
    """
    first_chunk = _peek(stream)
    stripped = first_chunk.lstrip("\ufeff \t\r\n")
    if fmt is None:
        if not stripped:
            return
        if stripped[0] == "[":
            fmt = "json"
        elif stripped[0] == "{":
            fmt = "jsonl"
        else:
            fmt = "csv"
    if fmt == "csv":
        yield from _read_csv(stream, first_chunk, name)
    elif fmt == "json":
        text = first_chunk + stream.read()
        yield from _read_json_document(text, name)
    else:
        yield from _read_jsonl(stream, first_chunk, name, lazy)


def _peek(stream: IO[str]) -> str:
    try:
        return stream.read(4096)
    except UnicodeDecodeError:
        raise ValidationError(f"{name_of(stream)}: not valid UTF-8 text") from None


def name_of(stream: IO[str]) -> str:
    return str(getattr(stream, "name", "input"))


def _lines(stream: IO[str], first_chunk: str) -> Iterator[str]:
    *complete, pending = first_chunk.split("\n")
    yield from complete
    while True:
        try:
            chunk = stream.read(1 << 16)
        except UnicodeDecodeError:
            raise ValidationError(f"{name_of(stream)}: not valid UTF-8 text") from None
        if not chunk:
            break
        pending += chunk
        *complete, pending = pending.split("\n")
        yield from complete
    if pending:
        yield pending


def _read_jsonl(stream: IO[str], first_chunk: str, name: str, lazy: bool) -> Iterator[tuple[int, Any]]:
    lines = _lines(stream, first_chunk)
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        if lazy and number > 1:
            yield number, text
            continue
        try:
            values = parse_jsonl_line(text, name, number)
        except ValidationError:
            # Not one object per line: perhaps a single pretty-printed JSON document.
            if number == 1 and text.startswith("{"):
                rest = "\n".join([line, *lines])
                yield from _read_json_document(rest, name)
                return
            raise
        for value in values:
            yield number, value


def parse_jsonl_line(text: str, name: str, number: int) -> list[dict[str, Any]]:
    """The events on one JSON line: an object, or an array of them."""
    from auditctl import jsonio

    value = jsonio.loads(text, f"{name}, line {number}")
    if isinstance(value, list):
        return [_as_object(item, name, number) for item in value]
    return [_as_object(value, name, number)]


def _read_json_document(text: str, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    from auditctl import jsonio

    value = jsonio.loads(text.lstrip("\ufeff"), name)
    items = value if isinstance(value, list) else [value]
    for index, item in enumerate(items, 1):
        yield index, _as_object(item, name, index, what="item")


def _as_object(value: Any, name: str, number: int, what: str = "line") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(f"{name}, {what} {number}: expected a JSON object, got {type(value).__name__}")
    return value


def _read_csv(stream: IO[str], first_chunk: str, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    import csv

    source = _chained(first_chunk.lstrip("\ufeff"), stream)
    reader = csv.DictReader(source)
    header = reader.fieldnames or []
    if "action" not in header:
        raise ValidationError(
            f"{name}: not JSON and not an auditctl CSV (no 'action' column in the header)",
            hint="import reads JSONL, a JSON array, or CSV as `auditctl export -f csv` writes it",
        )
    try:
        for row in reader:
            yield reader.line_num, from_csv_row(row, reader.line_num)
    except csv.Error as exc:
        raise ValidationError(f"{name}, line {reader.line_num}: bad CSV ({exc})") from None


def _chained(first: str, rest: IO[str]) -> Iterator[str]:
    """Lines of a stream whose first chunk was already peeked (csv wants lines)."""
    for line in _lines(rest, first):
        yield line + "\n"


def iter_objects(items: Iterable[tuple[int, dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    for _, data in items:
        yield data
