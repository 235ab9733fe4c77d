"""Plausibility before acceptance: does a plate read look like a whole licence plate?

The readers accept text that fits a grammar; on real footage that is not enough (issue 18): a sticker
("9'6\" HIGH") fits the generic grammar, an ADR panel's numbers ("33 / 1203") fit a VN two-line one, and a
plate cut by the frame edge reads as a shorter valid plate. Checked per read, on the frame it came from,
before the read can start a vehicle track or vote:

* **cut by the image edge**: a box within `EDGE_PX` of the image border is not a whole plate (no-read);
* **shape**: one-line plates are 2-7.5 times as wide as tall, two-line ones 0.9-3.2;
* **not an ADR panel**: a box that is mostly retro-reflective orange is a hazard panel, not a yellow plate;
* **generic grammar** (no national grammar vouches for it): every character must look like a plate's —
  no lowercase letters or quote marks in what the recogniser saw, at least two digits, no run of four letters
  (a word: HIGH, MAX, GROSS), and in the passage vote it needs more agreeing reads than a VN/CN plate
  (`edge.decision.voting.GENERIC_MIN_SUPPORT`).

Pure functions; the pipeline applies them to the trigger camera's reads.
"""

from __future__ import annotations

import numpy as np

from edge.domain.plate_grammar import plate_like_text
from edge.domain.types import Box, PlateRead

EDGE_PX = 2  # a box this close to the image border may continue beyond it
ONE_LINE_ASPECT = (2.0, 7.5)
TWO_LINE_ASPECT = (0.9, 3.2)
TWO_LINE_FORMATS = frozenset({"vn_two_line", "vn_moto"})
ORANGE_MAX = 0.35  # fraction of ADR orange in a plate box above which it is a hazard panel


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


def hazard_panel(image: np.ndarray, b: Box | None) -> bool:
    """The box is mostly retro-reflective ADR orange: a hazard panel (33 / 1203), never a plate. The pipeline also
    asks this of the plate gate's boxes, so a panel's two number lines do not cost a full plate read per frame."""
    return orange_fraction(image, b) > ORANGE_MAX


def plate_plausible(read: PlateRead, image: np.ndarray) -> PlateRead:
    """The read, or a no-read saying why it cannot be a whole plate. `image`: the image the box refers to."""
    if not read.text or read.box is None:
        return read
    if touches_edge(read, image.shape):
        return _no(read, "cut_by_image_edge")
    b = read.box
    aspect = b.w / max(b.h, 1)
    lo, hi = TWO_LINE_ASPECT if read.format in TWO_LINE_FORMATS or (read.country == "CN" and aspect < 2.0) \
        else ONE_LINE_ASPECT
    if not lo <= aspect <= hi:
        return _no(read, "not_plate_shaped")
    if not is_national(read) and not generic_looks_like_plate(read):
        return _no(read, "not_plate_text")
    if hazard_panel(image, read.box):
        return _no(read, "hazard_panel")
    return read
