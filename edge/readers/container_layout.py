"""Container-code layout: recognised text boxes grouped into the strings a code may be written as.

ISO 6346 codes are painted in several layouts: on one row, but usually as three separate boxes (owner
code, serial, boxed check digit); on two rows (owner + serial over serial / check digit); or vertically,
one character per row, detected as a column of small boxes or as one tall strip. This module holds the
geometry of recognised boxes (`CodeLine`) and the grouping of them into candidate strings parsed by
`iso6346.find_codes` (`row_candidates`, `column_candidates`); it reads no pixels. The container reader
(`container.py`) adds what needs the image: tall strips, missed owner codes and boxed check digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.domain import iso6346
from edge.readers.ocr.engine import TextLine

MAX_CHAIN = 4  # owner | serial | check digit | (size code on the same line)


@dataclass
class CodeLine:
    """One recognised text box with its axis-aligned extent."""

    text: str
    confs: list[float]
    x0: float
    y0: float
    x1: float
    y1: float
    quad: np.ndarray | None = None

    @property
    def w(self) -> float:
        return self.x1 - self.x0

    @property
    def h(self) -> float:
        return self.y1 - self.y0

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass
class Found:
    """A code candidate with the boxes it was read from and their layout."""

    cand: iso6346.CodeCandidate
    lines: list[CodeLine]
    layout: str
    extra: list[CodeLine] = field(default_factory=list)  # lines that were read again (check digit box)

    @property
    def box(self) -> tuple[float, float, float, float]:
        ls = self.lines + self.extra
        return min(p.x0 for p in ls), min(p.y0 for p in ls), max(p.x1 for p in ls), max(p.y1 for p in ls)


def from_textline(t: TextLine) -> CodeLine:
    """The recogniser's line as a box with one confidence per character."""
    q = np.asarray(t.quad, dtype=np.float32)
    confs = list(t.char_conf) if t.char_conf and len(t.char_conf) == len(t.text) else [t.confidence] * len(t.text)
    return CodeLine(t.text, confs, float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()),
                 float(q[:, 1].max()), q)


def _v_overlap(a: CodeLine, b: CodeLine) -> float:
    """Vertical overlap as a fraction of the smaller height."""
    inter = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(0.0, inter) / max(1.0, min(a.h, b.h))


def _h_overlap(a: CodeLine, b: CodeLine) -> float:
    inter = min(a.x1, b.x1) - max(a.x0, b.x0)
    return max(0.0, inter) / max(1.0, min(a.w, b.w))


TALL_RATIO = 2.5  # a box this many times as tall as wide is a vertical strip


def is_tall(ln: CodeLine) -> bool:
    """A vertical strip (a code written one character per row, or sideways)."""
    return ln.h > TALL_RATIO * ln.w


def _right_neighbour(a: CodeLine, b: CodeLine) -> bool:
    """b continues a's row: to its right, close, vertically aligned, of comparable height."""
    if is_tall(a) or is_tall(b):
        return False
    h = max(a.h, b.h)
    if b.x0 < a.x1 - 0.3 * min(a.h, b.h) or b.x0 - a.x1 > 2.8 * h:
        return False
    if not 0.45 < b.h / max(a.h, 1.0) < 2.2:
        return False
    return _v_overlap(a, b) >= 0.5


def _below(a: CodeLine, b: CodeLine) -> bool:
    """b starts the next text row under a (two-line layout: owner+serial over serial/check digit)."""
    if is_tall(a) or is_tall(b):
        return False
    gap = b.y0 - a.y1
    if gap < -0.3 * a.h or gap > 1.2 * max(a.h, b.h):
        return False
    if not 0.5 < b.h / max(a.h, 1.0) < 2.0:
        return False
    return abs(b.x0 - a.x0) < 1.5 * a.h or _h_overlap(a, b) > 0.3


def _chains(lines: list[CodeLine]) -> list[list[CodeLine]]:
    """All left-to-right chains of up to MAX_CHAIN boxes along a row."""
    order = sorted(range(len(lines)), key=lambda i: lines[i].x0)
    nxt: dict[int, list[int]] = {i: [] for i in order}
    for ai in order:
        for bi in order:
            if ai != bi and _right_neighbour(lines[ai], lines[bi]):
                nxt[ai].append(bi)
    out: list[list[CodeLine]] = []

    def walk(path: list[int]) -> None:
        out.append([lines[i] for i in path])
        if len(path) < MAX_CHAIN:
            for b in nxt[path[-1]]:
                if b not in path:
                    walk(path + [b])

    for i in order:
        walk([i])
    return out


def _column_groups(lines: list[CodeLine]) -> list[list[CodeLine]]:
    """Columns of small stacked boxes (vertical code detected one character or a few at a time)."""
    small = [ln for ln in lines if len(iso6346.clean(ln.text)) <= 4 and not is_tall(ln)]
    small.sort(key=lambda ln: ln.y0)
    groups: list[list[CodeLine]] = []
    for ln in small:
        for g in groups:
            last = g[-1]
            if (abs(ln.cx - last.cx) < 0.8 * max(ln.w, last.w, last.h) and
                    -0.3 * last.h < ln.y0 - last.y1 < 1.5 * last.h and 0.5 < ln.h / max(last.h, 1.0) < 2.0):
                g.append(ln)
                break
        else:
            groups.append([ln])
    return [g for g in groups if sum(len(iso6346.clean(x.text)) for x in g) >= 10]


def join_lines(lines: list[CodeLine]) -> tuple[str, list[float]]:
    """Box texts joined by a space (a token boundary), with per-character confidences."""
    text = " ".join(ln.text for ln in lines)
    confs = [c for ln in lines for c in [*ln.confs, 1.0]][:-1] if lines else []
    return text, confs


def row_candidates(lines: list[CodeLine]) -> list[Found]:
    """Codes read along rows: chains of boxes on one row, and a row chain followed by one starting under it
    (two-line layout)."""
    found: list[Found] = []
    chains = _chains(lines)
    for ch in chains:
        text, confs = join_lines(ch)
        layout = "vertical" if len(ch) == 1 and is_tall(ch[0]) else "horizontal"
        for cand in iso6346.find_codes(text, confs)[:2]:
            found.append(Found(cand, ch, layout))
    # two-line: a row chain, then a row chain starting under its first box
    starts: dict[int, list[list[CodeLine]]] = {}
    for ch in chains:
        starts.setdefault(id(ch[0]), []).append(ch)
    for top in chains:
        if len(iso6346.clean(join_lines(top)[0])) > 10:
            continue
        for ln in lines:
            if ln is top[0] or not _below(top[0], ln):
                continue
            for bottom in starts.get(id(ln), []):
                text, confs = join_lines(top + bottom)
                for cand in iso6346.find_codes(text, confs)[:2]:
                    found.append(Found(cand, top + bottom, "two_line"))
    return found


def column_candidates(lines: list[CodeLine]) -> list[Found]:
    """Codes read down columns of small stacked boxes (vertical layout detected a few characters at a time)."""
    found: list[Found] = []
    for g in _column_groups(lines):
        text, confs = join_lines(g)
        for cand in iso6346.find_codes(text, confs)[:2]:
            found.append(Found(cand, g, "vertical"))
    return found
