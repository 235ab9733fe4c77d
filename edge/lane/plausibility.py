"""Plausibility before acceptance: does a plate read look like a whole licence plate?

The readers accept text that fits a grammar; on real footage that is not enough (issue 18): a sticker
("9'6\" HIGH") fits the generic grammar, an ADR panel's numbers ("33 / 1203") fit a VN two-line one, and a
plate cut by the frame edge reads as a shorter valid plate. Checked per read, on the frame it came from,
before the read can start a vehicle track or vote:

* **cut by the image edge**: a box within `EDGE_PX` of the image border is not a whole plate (no-read);
* **shape**: one-line plates are 2-7.5 times as wide as tall, two-line ones 0.9-3.2;
* **not an ADR panel**: an orange, panel-shaped box read as Latin text is a hazard panel's numbers (a yellow truck
  plate can look orange: a CN province glyph or a one-line plate's shape says it is a plate);
* **generic grammar** (no national grammar vouches for it): every character must look like a plate's —
  no lowercase letters or quote marks in what the recogniser saw, at least two digits, no run of four letters
  (a word: HIGH, MAX, GROSS), and in the passage vote it needs more agreeing reads than a VN/CN plate
  (`edge.decision.voting.GENERIC_MIN_SUPPORT`).

Pure functions; the pipeline applies them to the trigger camera's reads.
"""

from __future__ import annotations

import numpy as np

from edge.domain.plate_grammar import PROVINCE_SET, plate_like_text
from edge.domain.types import Box, PlateRead

EDGE_PX = 2  # a box this close to the image border may continue beyond it
ONE_LINE_ASPECT = (2.0, 7.5)
TWO_LINE_ASPECT = (0.9, 3.2)
TWO_LINE_FORMATS = frozenset({"vn_two_line", "vn_moto"})
ORANGE_MAX = 0.35  # fraction of ADR orange in a plate read's box above which it may be a hazard panel
# The plate gate's boxes (no text yet) are dropped as a panel only when this orange: a panel's body measured 0.56-0.73
# on the real ADR photos of ../shared/eval/cargo, while yellow truck plates (nearly every truck at a VN-CN gate) reach
# 0.37 (99th percentile of 175 real yellow CN crops) and 0.49 (a faded one, plate_cn_119): a plate the gate drops is a
# vehicle never read, a panel it lets through costs one read.
PANEL_BODY = 0.55
PANEL_MAX_ASPECT = 2.5  # a panel is 40 x 30 cm: a read box wider than this is a one-line plate, not a panel


def is_national(read: PlateRead) -> bool:
    """Read to a VN or CN grammar (the gate's own; checked by position and province)."""
    return read.country in ("VN", "CN")


def _no(read: PlateRead, reason: str) -> PlateRead:
    return PlateRead(raw=read.raw or read.text, reason=reason, confidence=read.confidence)


def touches_edge(read: PlateRead, shape: tuple[int, ...], edge_px: int = EDGE_PX) -> bool:
    b = read.box
    if b is None:
        return False
    h, w = int(shape[0]), int(shape[1])
    return b.x <= edge_px or b.y <= edge_px or b.x + b.w >= w - edge_px or b.y + b.h >= h - edge_px


def two_line(read: PlateRead) -> bool:
    """The read is of a two-line plate: a two-line format, or the reader paired two lines (its raw text holds both,
    "53-R5 / 0201"). Most VN truck and trailer rear plates are two-line, and their grammars (vn_truck, vn_trailer)
    are the one-line plates' too, so the format alone does not tell."""
    return read.format in TWO_LINE_FORMATS or " / " in (read.raw or "")


def generic_looks_like_plate(read: PlateRead) -> bool:
    """A read only the generic grammar accepts: plate characters only, and no word in it."""
    return plate_like_text(read.raw or "", read.text or "")


def orange_fraction(image: np.ndarray, b: Box | None) -> float:
    """Share of ADR-panel orange in box `b` of `image` (0 without a box or colour)."""
    from edge.readers.hazard import orange_mask  # lazy: OpenCV colour code only when a box is checked

    if b is None or image.ndim != 3:
        return 0.0
    crop = image[max(0, b.y):b.y + b.h, max(0, b.x):b.x + b.w]
    if crop.size == 0:
        return 0.0
    return float((orange_mask(crop) > 0).mean())


def hazard_panel(image: np.ndarray, b: Box | None, orange: float = PANEL_BODY) -> bool:
    """The box is mostly retro-reflective ADR orange: a hazard panel's body (33 / 1203), not a plate. The pipeline
    asks this of the plate gate's boxes, so a panel does not cost a full plate read per frame."""
    return orange_fraction(image, b) > orange


def panel_read(read: PlateRead, image: np.ndarray) -> bool:
    """A plate read that an ADR panel may have given: its box is orange (`ORANGE_MAX`), and nothing in the read
    rules a panel out. A CN province glyph does (a panel carries digits and X only), and so does a one-line plate's
    shape (a panel's number lines read as digits alone, which no national grammar takes). Yellow truck plates can
    look orange (faded, sodium light): only a panel-shaped box with Latin text is taken for one."""
    b = read.box
    if b is None or any(ch in PROVINCE_SET for ch in read.text or ""):
        return False
    return b.w / max(b.h, 1) <= PANEL_MAX_ASPECT and hazard_panel(image, b, ORANGE_MAX)


def plate_plausible(read: PlateRead, image: np.ndarray) -> PlateRead:
    """The read, or a no-read saying why it cannot be a whole plate. `image`: the image the box refers to."""
    if not read.text or read.box is None:
        return read
    if touches_edge(read, image.shape):
        return _no(read, "cut_by_image_edge")
    b = read.box
    aspect = b.w / max(b.h, 1)
    lo, hi = TWO_LINE_ASPECT if two_line(read) or (read.country == "CN" and aspect < 2.0) else ONE_LINE_ASPECT
    if not lo <= aspect <= hi:
        return _no(read, "not_plate_shaped")
    if not is_national(read) and not generic_looks_like_plate(read):
        return _no(read, "not_plate_text")
    if panel_read(read, image):
        return _no(read, "hazard_panel")
    return read
