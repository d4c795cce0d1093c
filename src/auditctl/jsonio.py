"""JSON in and out, in one place, so the codec can be chosen (and measured) once."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from auditctl.errors import ValidationError

# orjson parses and writes JSON 5-10x faster than the standard library, which is most
# of what import and export do. Whatever it declines (NaN, integers beyond 64 bits,
# lone surrogates, non-string keys) goes to the standard library, so what is accepted
# and the values read are exactly what ``json`` gives. ``canonical`` stays on the
# standard library: the hash chain is defined over its bytes.
_FAST_DECODE_ERROR = orjson.JSONDecodeError
# orjson reads an integer beyond 64 bits as a float; json keeps it exact. Text with
# a run of 19 digits (almost never seen) is left to json. Mapping every digit to "0"
# and looking for nineteen of them is several times faster than a regex.
_DIGITS_TO_ZERO = bytes(48 if 48 <= i <= 57 else 120 for i in range(256))
_LONG_DIGITS = b"0" * 19


def _has_long_digits(text: str | bytes) -> bool:
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return _LONG_DIGITS in raw.translate(_DIGITS_TO_ZERO)


def loads(text: str | bytes, where: str = "input") -> Any:
    """Parse JSON, turning every failure into a ValidationError that says where."""
    if not _has_long_digits(text):
        try:
            return orjson.loads(text)
        except _FAST_DECODE_ERROR:
            pass
    try:
        return json.loads(text)
    except RecursionError:
        raise ValidationError(f"{where}: JSON is nested too deeply") from None
    except UnicodeDecodeError:
        raise ValidationError(f"{where}: not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None


def loads_each_fast(texts: list[str]) -> list[Any] | None:
    """Each of ``texts`` parsed, exactly as ``loads`` reads it, if the fast codec takes
    every one; otherwise None, and the caller parses them one by one with ``loads``.

    What comes back holds no lone surrogate: orjson refuses ``"\\ud800"``, and a
    ``str`` from UTF-8 cannot hold one. One long-digit scan covers every text.
    """
    if _has_long_digits("\n".join(texts)):
        return None
    fast = orjson.loads
    try:
        return [fast(text) for text in texts]
    except _FAST_DECODE_ERROR:
        return None


def dumps(value: Any) -> str:
    """Compact JSON on one line; non-ASCII kept as is (output is UTF-8).

    For validated values (events never hold NaN or infinities: orjson would write
    them as null where json writes the non-JSON ``NaN``).
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError included: let json decide, and word the error
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dumps_pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def canonical(value: Any) -> bytes:
    """The byte form the hash chain is computed over: sorted keys, no spaces, UTF-8.

    Defined as ``json.dumps(sort_keys=True, ensure_ascii=False, separators=(",", ":"))``.
    For values made only of dicts, lists, strings, ints, bools, None and floats from
    1e-4 up to 1e16 (or zero), orjson writes exactly those bytes (same escapes, keys in
    code-point order, the same shortest digits for such a float) six times faster;
    anything else — a smaller float above all, whose spelling differs (1e-05 vs
    0.00001) — takes the standard library. tests/test_bench_codec.py holds the two
    to each other.
    """
    if _plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # a non-string key, an int beyond 64 bits, a lone surrogate
            pass
    return canonical_stdlib(value)


def canonical_finite(value: Any) -> bytes:
    """``canonical`` of a value holding no NaN or infinity (a validated event's
    content), with the floats checked in the bytes written rather than beforehand.

    Walking the value first (``_plain``) was half of what ``canonical`` cost an
    import's events, and most events hold no float at all: this costs a third less
    (4.6 µs an event against 6.1, benchmark events). NaN and infinities are what a
    look at the bytes cannot see (orjson writes them as null); an event never holds them.
    """
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a non-string key, an int beyond 64 bits, a lone surrogate
        return canonical_stdlib(value)
    if b"0.0000" in text or _EXPONENT.search(text):
        return canonical_stdlib(value)
    return text


# orjson and json spell a float alike from 1e-4 up to 1e16 (see ``_plain``). Below,
# orjson writes four zeros after the point or an exponent; above, an exponent: "1e16",
# "1.5e-7", always a small "e", and the number ends at a comma, a closing bracket or the end.
# A string holding such text only sends its value to json, which writes the same bytes.
_EXPONENT = re.compile(rb"e-?[0-9]+(?:[,}\]]|$)")


def canonical_stdlib(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


_PLAIN_TYPES = frozenset({str, int, bool, type(None)})


def _plain(value: Any) -> bool:
    """Only exact dict/list/tuple/str/int/bool/None inside, and floats that both
    codecs spell alike (no subclasses)?

    Both write a float's shortest round-trip digits; they differ below 1e-4, where
    Python's repr turns to an exponent (1e-05) and orjson does not yet (0.00001), then
    spells it otherwise (1e-6). From 1e-4 up to 1e16, and at zero, the bytes are the same.
    """
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            extend(item.values())
        elif kind is list or kind is tuple:
            extend(item)
        elif kind not in _PLAIN_TYPES:
            if kind is float and (1e-4 <= abs(item) < 1e16 or item == 0.0):
                continue
            return False
    return True
