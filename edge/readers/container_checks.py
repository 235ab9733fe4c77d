"""What a container read must pass besides its check digit, and which text lines are pieces of a code: the rules
the reader (`container.py`) applies to recognised lines and to the codes it read. Pure functions, no pixels."""

from __future__ import annotations

import re

from edge.domain.types import ContainerRead
from edge.readers.container_layout import CodeLine, is_tall

_FRAGMENT_RE = re.compile(r"[A-Z]{3}[UJZ]|\d{4}")  # an owner code or four serial digits


def alnum(text: str) -> str:
    """Uppercase letters and digits of a recognised line, separators and other glyphs dropped."""
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def code_fragment(ln: CodeLine) -> bool:
    """The line may be part of a container code: an owner code, a run of serial digits, or a tall strip (a
    vertical code the recogniser could not read as text)."""
    return is_tall(ln) or bool(_FRAGMENT_RE.search(alnum(ln.text)))


MEASURE_RE = re.compile(r"\d[.,]\d|KGS?\b|LBS?\b|CU\.?\s*M|CU\.?\s*FT", re.IGNORECASE)


_PIECE_RE = re.compile(r"[A-Z]{3}[UJZ]|\d{5,}")  # an owner code or most of a serial


def another_code_piece(ln: CodeLine, verified: list[ContainerRead]) -> bool:
    """With codes read in the photo, a line that may be a piece of another container's code: an owner code or
    five serial digits that no verified code explains, lettered about as tall as a verified code (weights and
    volumes, in smaller type, and tall strips of logos do not count: they would make most photos pay twice)."""
    if is_tall(ln) or MEASURE_RE.search(ln.text) or explained(ln, verified):
        return False
    if not _PIECE_RE.search(alnum(ln.text)):
        return False
    return any(r.box is not None and 0.6 * r.box.h <= ln.h <= 1.6 * r.box.h for r in verified)


def drop_echoes(reads: list[ContainerRead]) -> list[ContainerRead]:
    """Without the codes that verified only through a correction and are within two characters of a code of the
    same owner that verified as read: the same container read twice (doors and side, a roof), once misread and
    "corrected" into another valid code (TEMU6037029 -> TEMU6037023 beside TEMU5037029 on a compressed photo)."""
    sure = [r.code for r in reads if r.check_digit_ok and not r.corrected]

    def echo(r: ContainerRead) -> bool:
        return r.corrected and any(c != r.code and c[:4] == r.code[:4]
                                   and sum(a != b for a, b in zip(c, r.code, strict=True)) <= 2 for c in sure)

    return [r for r in reads if not (r.check_digit_ok and echo(r))]


def explained(ln: CodeLine, reads: list[ContainerRead]) -> bool:
    """The line is part of a code already read: its centre lies in (or just around) the box of one of `reads`,
    or every owner code and run of serial digits in it belongs to one of their codes (the same code painted on
    the roof and on the doors)."""
    pieces = _FRAGMENT_RE.findall(alnum(ln.text))
    if pieces and all(any(p in r.code for r in reads) for p in pieces):
        return True
    for r in reads:
        b = r.box
        if b is not None and b.x - 0.2 * b.h <= ln.cx <= b.x + b.w + 0.2 * b.h and \
                b.y - 0.2 * b.h <= ln.cy <= b.y + 1.2 * b.h:
            return True
    return False
