"""Make untrusted text safe to show: every control character becomes visible.

C0 and C1 controls, DEL and ESC are shown as ``\\xNN`` (``\\n``, ``\\r``, ``\\t`` for
the common three); bidi controls (U+202A–U+202E, U+2066–U+2069, LRM/RLM/ALM) and
every other invisible format character, line/paragraph separator or lone surrogate
as ``<U+202E>``. An escaped string is one line that cannot move the cursor, change
colours, open a hyperlink or reorder the text around it.

Rich markup needs no escaping here because the renderers build ``Text`` objects and
never parse stored strings as markup.
"""

from __future__ import annotations

import re
import unicodedata

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Line/paragraph separators and zero-width characters can also hide or reorder text.
_INVISIBLE = "\u2028\u2029\u200b\u200c\u200d\u2060\ufeff"
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f" + _BIDI + _INVISIBLE + "]")
# Unicode categories that are never shown as themselves: controls (Cc), format
# characters (Cf: bidi, zero-width, soft hyphen, tag characters…), line and
# paragraph separators (Zl, Zp) and surrogates (Cs).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return _NAMED.get(char) or f"\\x{code:02x}"
    return f"<U+{code:04X}>"


def is_unsafe_char(char: str) -> bool:
    return bool(_UNSAFE.match(char)) or unicodedata.category(char) in _UNSAFE_CATEGORIES


def visible(text: str) -> str:
    """The text with every unsafe character replaced by a visible escape."""
    if not text:
        return text
    # Fast path: printable text (the common case) has no Cc/Cf/Zl/Zp/Cs at all.
    if text.isprintable():
        return text
    return "".join(_escape_char(c) if is_unsafe_char(c) else c for c in text)


def visible_multiline(text: str) -> str:
    """Like ``visible`` but keeps newlines (for pretty-printed values inside a cell)."""
    return "\n".join(visible(line) for line in text.split("\n"))


def has_unsafe(text: str) -> bool:
    return any(is_unsafe_char(c) for c in text) if not text.isprintable() else False
