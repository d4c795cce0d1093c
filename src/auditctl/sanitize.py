"""Make untrusted text safe to show: every control character becomes visible.

C0 and C1 controls, DEL and ESC are shown as ``\\xNN``; bidi controls
(U+202A–U+202E, U+2066–U+2069, plus LRM/RLM/ALM) as ``<U+202E>``; other invisible
format characters the same way. Rich markup needs no escaping here because the
renderers build ``Text`` objects and never parse stored strings as markup.
"""

from __future__ import annotations

import re

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Line/paragraph separators and zero-width characters can also hide or reorder text.
_INVISIBLE = "\u2028\u2029\u200b\u200c\u200d\u2060\ufeff"
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f" + _BIDI + _INVISIBLE + "]")


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    if code <= 0xFF:
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\x{code:02x}")
    return f"<U+{code:04X}>"


def visible(text: str) -> str:
    """The text with every unsafe character replaced by a visible escape."""
    if not text:
        return text
    return _UNSAFE.sub(_escape, text)


def visible_multiline(text: str) -> str:
    """Like ``visible`` but keeps newlines (for pretty-printed values inside a cell)."""
    return "\n".join(visible(line) for line in text.split("\n"))


def has_unsafe(text: str) -> bool:
    return bool(_UNSAFE.search(text))
