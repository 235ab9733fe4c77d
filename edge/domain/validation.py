"""Input rules shared by the HTTP API, the review routes and declarations (API and MQTT alike).

* Query times (`since`, `until`) must be real instants the database can compare: converted to UTC they lie
  between years 1900 and 9999 (`0001-01-01T00:00:00+14:00` is not a time Python or SQLite can hold).
* Paging offsets stop at MAX_OFFSET (SQLite integers are 64-bit; 10**30 used to be a 500).
* Free text that people read later (review comments, corrections, declaration texts) must not carry
  Unicode bidi controls (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C: "Trojan source" text that
  displays in another order than it is stored) nor other C0/C1 control characters. Refused, never silently
  stripped, so the sender learns which field was wrong. Multi-line fields may contain tab and line breaks.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

MAX_OFFSET = 1_000_000_000
MIN_YEAR, MAX_YEAR = 1900, 9999

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_LINE_BREAKS = frozenset("\t\n\r")


def _utc_instant(v: datetime) -> datetime:
    try:
        t = v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"time out of range (UTC years {MIN_YEAR}-{MAX_YEAR})") from None
    if not MIN_YEAR <= t.year <= MAX_YEAR:
        raise ValueError(f"time out of range (UTC years {MIN_YEAR}-{MAX_YEAR})")
    return t


# A query-string time: ISO-8601, UTC if no zone, returned as an aware UTC datetime.
QueryTime = Annotated[datetime, AfterValidator(_utc_instant)]


def unsafe_char(text: str, multiline: bool = False) -> str | None:
    """The first bidi control or control character in `text` (as 'U+202E'), or None when it is clean.
    `multiline`: tab, CR and LF are allowed."""
    for ch in text:
        if ch in BIDI_CONTROLS or (unicodedata.category(ch) == "Cc" and not (multiline and ch in _LINE_BREAKS)):
            return f"U+{ord(ch):04X}"
    return None


def check_text(text: str, multiline: bool = False) -> str:
    """`text` unchanged, or ValueError naming the character (pydantic adds the field's name)."""
    bad = unsafe_char(text, multiline)
    if bad is not None:
        kind = "a bidi control character" if chr(int(bad[2:], 16)) in BIDI_CONTROLS else "a control character"
        raise ValueError(f"contains {kind} ({bad}), which is not allowed")
    return text


def single_line(text: str) -> str:
    return check_text(text)


def multi_line(text: str) -> str:
    return check_text(text, multiline=True)


# Annotated str types for pydantic models.
SafeLine = Annotated[str, AfterValidator(single_line)]
SafeText = Annotated[str, AfterValidator(multi_line)]
