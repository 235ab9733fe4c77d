"""Plate candidates: single lines and stacked pairs of lines matched against the plate grammars.

Every text line (and every vertically stacked pair: VN motorbike and square truck plates) becomes one
candidate per grammar match, scored by its mean character confidence with a cost per letter/digit fix;
lines are also tried with their first glyph re-decoded as a CN province. The VN format is named after
the layout (one-line `vn_truck`, two-line `vn_moto` / `vn_two_line`). Candidates come out cheapest
first; `plate_choice` then picks among them. `to_read` turns the chosen one into a `PlateRead`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from edge.domain.plate_grammar import STICKER_SLOTS, GrammarMatch, display, match
from edge.domain.types import Box, PlateRead
from edge.readers.ocr.engine import OcrEngine
from edge.readers.plate_cn_province import province_fix
from edge.readers.plate_lines import TextLine, stacked

CROWDED_COST = 0.5  # foreign/generic reads inside a block of text lines (road signs) rank below isolated ones


@dataclass
class Candidate:
    lines: list[TextLine]
    grammar: GrammarMatch
    score: float
    raw: str
    conf: list[float] = field(default_factory=list)  # per character of grammar.text's source, emblems dropped


def kept_conf(g: GrammarMatch, conf: list[float]) -> list[float]:
    """Confidences of the characters the match kept: a dropped EU band or emblem (often read
    weakly) must not make the plate's own characters look unsure."""
    if g.dropped_first:
        return conf[1:]
    if g.dropped_sticker and g.format in STICKER_SLOTS:
        slot = STICKER_SLOTS[g.format]
        return conf[:slot] + conf[slot + 1 :]
    return conf


def layout_format(g: GrammarMatch, parts: list[TextLine]) -> GrammarMatch:
    """Name the format after the layout: one-line VN = vn_truck, two-line with a digit
    after the series letter = vn_moto, other two-line VN = vn_two_line."""
    name = g.format
    if g.country == "VN" and name in ("vn_truck", "vn_moto"):
        if len(parts) == 1:
            name = "vn_truck" if name == "vn_truck" or not g.text[3].isdigit() else name
        else:
            top_len = len(parts[0].text)
            name = "vn_moto" if top_len == 4 and g.text[3].isdigit() else "vn_two_line"
    if name == g.format:
        return g
    return dataclasses.replace(g, format=name)


def crowded(c: Candidate, lines: list[TextLine]) -> bool:
    """Another text line of similar height sits right above or below the candidate, overlapping it
    horizontally: a block of sign text (EXIT 79B over NORTH), not an isolated plate. Lines of a
    plate's own frame or dealer strip are much smaller and do not count."""
    own = {id(x) for x in c.lines}
    x0, x1 = min(x.x0 for x in c.lines), max(x.x1 for x in c.lines)
    y0, y1 = min(x.y0 for x in c.lines), max(x.y1 for x in c.lines)
    h = y1 - y0
    for ln in lines:
        if id(ln) in own or ln.voted or not 0.7 * h <= ln.h <= 1.6 * h:
            continue
        if min(x1, ln.x1) - max(x0, ln.x0) <= 0:
            continue
        gap = max(ln.y0 - y1, y0 - ln.y1)
        if -0.3 * h < gap < 0.6 * h:
            return True
    return False


def build_candidates(lines: list[TextLine], formats: tuple[str, ...], main_engine: OcrEngine) -> list[Candidate]:
    """Every grammar match of every line and stacked pair, cheapest first (sign text ranks lower)."""
    cands: list[Candidate] = []

    def add(parts: list[TextLine], text: str, conf: list[float], raw: str) -> None:
        if not conf:
            return
        two = len(parts) == 2
        for g in match(text, formats, conf=conf):
            if two and not g.strict:
                continue  # a generic two-line guess is too loose
            if not two and parts[0].cn_only and not parts[0].voted:
                continue  # only the voted reading speaks for a CN-looking line
            g = layout_format(g, parts)
            kept = kept_conf(g, conf)
            score = float(np.mean(kept)) * (0.93 ** g.corrections)
            cands.append(Candidate(parts, g, score, raw, kept))

    for ln in lines:
        add([ln], ln.text, ln.char_conf, ln.rec.text)
        for text, conf in province_fix(ln, main_engine):
            add([ln], text, conf, ln.rec.text)
    for top in lines:
        for bot in lines:
            if top is bot or not stacked(top, bot):
                continue
            texts = [(top.text, top.char_conf)] + province_fix(top, main_engine)
            for ttext, tconf in texts:
                add([top, bot], ttext + bot.text, tconf + bot.char_conf, f"{top.rec.text} / {bot.rec.text}")
    cands.sort(key=lambda c: (c.grammar.cost + (CROWDED_COST if c.grammar.tier and crowded(c, lines) else 0.0),
                              -c.score))
    return cands


def box_of(lines: list[TextLine], scale: float, pad: int, ox: int, oy: int) -> Box:
    """The box around `lines`, mapped back from the working image to the caller's coordinates."""
    pts = np.concatenate([ln.quad for ln in lines])
    pts = (pts - pad) / scale
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    return Box(x=x0 + ox, y=y0 + oy, w=max(int(x1) - x0, 1), h=max(int(y1) - y0, 1))


def to_read(c: Candidate, scale: float, pad: int, ox: int, oy: int) -> PlateRead:
    """The candidate as a PlateRead, its box mapped back from the working image to the caller's."""
    g = c.grammar
    return PlateRead(
        text=g.text,
        display=display(g.text, g.format, g.groups),
        country=g.country,
        format=g.format,
        confidence=round(c.score, 4),
        box=box_of(c.lines, scale, pad, ox, oy),
        raw=c.raw,
    )
