"""What a CN plate's text looks like after a general recogniser has read it, damaged or not.

Pure string rules over one line's reading: whether it looks like a CN plate (whole, with its province
glyph dropped or misread, or only its serial: `cn_shape`), its 6-character tail, and whether a line reads
like the small "province · letter" top line of a CN two-line plate. They decide which lines the CN reader
(`plate_cn`) re-reads and votes on; they never produce a read themselves.
"""

from __future__ import annotations

import re
import unicodedata

from edge.readers.plate_lines import TextLine

_CN_TAIL = re.compile(r"^[A-HJ-NP-Z][A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警港澳]$")
_CN_SERIAL = re.compile(r"^[A-HJ-NP-Z0-9]{5}$")
_ROUND = frozenset("0口")  # what a Q or D authority letter is misread as


def ascii_fold(text: str) -> str:
    """Accents dropped ('Á' → 'A'): a glyph smudged into an accented letter is still that letter."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def serial_fix(serial: str) -> str:
    """I and O never occur in a CN serial: they are 1 and 0 there."""
    return serial.replace("I", "1").replace("O", "0")


def cn_shape(ln: TextLine, latin_first: bool = False) -> int | None:
    """7, 6 or 5 when the line looks like a CN plate (whole, province glyph dropped, province
    and authority letter dropped), else None. A confidently read Latin first letter on a
    7-character line is a foreign plate (Slovak BA302OZ), not a CN one, unless `latin_first` (the
    caller then decides by the province evidence the recognisers show there); a 5-character serial
    needs a letter and three digits (VN bottom lines are all digits)."""
    t = ascii_fold(ln.text)
    if len(t) >= 6:  # I and O never occur in a CN serial: they are 1 and 0 there
        t = t[: len(t) - 5] + serial_fix(t[len(t) - 5 :])
    if len(t) == 7 and _CN_TAIL.match(t[1:]):
        first_sure = t[0].isascii() and bool(ln.char_conf[:1]) and ln.char_conf[0] >= 0.9
        return None if first_sure and not latin_first else 7
    if len(t) == 6 and _CN_TAIL.match(t):
        return 6
    if len(t) == 6 and not t[0].isascii() and _CN_SERIAL.match(t[1:]):
        return 7  # glyph misread as another CJK glyph and the letter dropped (底K5358)
    # the authority letter (Q, D) read as a round non-letter: 0 or 口 (皖Q18632 as 编口18632,
    # 皖Q06417 as 006417 with the glyph outside the box); the constrained vote re-decodes it
    if len(t) == 7 and not t[0].isascii() and t[1] in _ROUND and _CN_SERIAL.match(t[2:]):
        return 7
    if len(t) == 6 and t[0] in _ROUND and _CN_SERIAL.match(t[1:]) and sum(c.isdigit() for c in t[1:]) >= 3:
        return 6
    if (len(t) == 5 and _CN_SERIAL.match(t) and sum(c.isdigit() for c in t) >= 3
            and any(c.isalpha() for c in t)):
        return 5
    return None


def cn_tail(text: str, conf: list[float]) -> tuple[str, list[float]] | None:
    """The 6 characters after the province glyph (authority letter + serial), I/O fixed to 1/0
    in the serial, from a reading with or without its province glyph."""
    t = ascii_fold(text)
    if len(t) != len(conf):
        conf = (conf + [min(conf, default=0.0)] * len(t))[: len(t)]
    skip = len(t) - 6
    if skip < 0 or skip > 2 or (skip == 2 and t[1].isascii()):
        return None
    tail = t[skip] + serial_fix(t[skip + 1 :])
    return (tail, conf[skip:]) if _CN_TAIL.match(tail) else None


def all_digit_serial(ln: TextLine) -> bool:
    """Five digits (O/I read for 0/1 allowed): a CN serial without a letter, or a VN bottom line."""
    t = serial_fix(ascii_fold(ln.text))
    return len(t) == 5 and t.isdigit()


def cn_top_like(top: TextLine) -> bool:
    """The small top line of a CN two-line plate reads as the province glyph and the authority
    letter (1–3 characters, however misread, without a digit in the first two); a VN two-line
    plate's top line starts with its 2-digit province code."""
    t = ascii_fold(top.text)
    return 1 <= len(t) <= 3 and not any(c.isdigit() for c in t[:2])
