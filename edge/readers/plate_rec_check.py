"""The plate-trained recogniser's veto on the plate reader's chosen reads (issue 17).

PP-OCR's three recognisers are one family and share many of their mistakes (W read as N on Argentine plates by all
three; a CN province glyph read as the letter P, after which the line passes as a foreign plate), so their votes
cannot catch those. The small CTC recogniser (`edge.readers.plate_rec`) was trained on plate crops only and errs
elsewhere. It reads the chosen plate's crop; the read becomes a `recogniser_disagrees` no-read when the two texts
differ even after the plate grammar's position fixes (O/0, I/1 by slot) and *every character where the recogniser
differs* is one it is sure of (≥ `SURE_CHAR`). Only the differing characters count: the recogniser's whole-text
confidence is dragged down by characters both readers agree on. A text that only *lacks* characters the read has
does not veto (a dropped character carries no confidence). The recogniser is a veto, never a second guess that
could replace a read.
"""

from __future__ import annotations

import difflib
import logging

import numpy as np

from edge.domain.plate_grammar import label_key, match
from edge.domain.types import Box, PlateRead
from edge.readers.plate_rec import PlateRecError, PlateRecogniser, PlateRecRead

log = logging.getLogger(__name__)

MARGIN_X, MARGIN_Y = 0.08, 0.18  # a text box grown to about a plate's own margin (the training crops have one)
SURE_CHAR = 0.995  # lowest probability of each differing recogniser character for a veto (docs/accuracy.md)


def plate_crop(image: np.ndarray, box: Box, fx: float = MARGIN_X, fy: float = MARGIN_Y) -> np.ndarray:
    """`image` cut to `box` grown by `fx` of its width and `fy` of its height (+2 px) on each side, clipped."""
    H, W = image.shape[:2]
    dx, dy = int(box.w * fx + 2), int(box.h * fy + 2)
    return image[max(0, box.y - dy):min(H, box.y + box.h + dy), max(0, box.x - dx):min(W, box.x + box.w + dx)]


class RecogniserCheck:
    """Vetoes plate reads that the plate recogniser confidently reads otherwise."""

    def __init__(self, recogniser: PlateRecogniser, sure_char: float = SURE_CHAR) -> None:
        self.recogniser = recogniser
        self.sure_char = sure_char

    @classmethod
    def shipped(cls, threads: int = 1, directory: str | None = None) -> RecogniserCheck | None:
        """The check with the shipped model (or the one in `directory`); None (logged) when it is missing or fails
        its sha256: the reader then runs on without the veto rather than stopping the gate."""
        try:
            return cls(PlateRecogniser(directory, threads=threads))
        except (PlateRecError, OSError, KeyError) as e:
            log.error("plate recogniser unavailable (%s): plate reads go without its check", e)
            return None

    @staticmethod
    def crop(image: np.ndarray, box: Box | None, origin: tuple[int, int] = (0, 0)) -> np.ndarray | None:
        """The plate crop of `box` (`plate_crop`); `origin` is where `image` sits in the box's coordinates (a read
        zone cut from the frame). None without a box or pixels."""
        if box is None or box.w < 2 or box.h < 2:
            return None
        crop = plate_crop(image, box.model_copy(update={"x": box.x - origin[0], "y": box.y - origin[1]}))
        return crop if crop.size else None

    def reading(self, image: np.ndarray, read: PlateRead, origin: tuple[int, int] = (0, 0)) -> PlateRecRead | None:
        """The recogniser's reading of the crop of `read.box` (see `crop`). None without a box."""
        crop = self.crop(image, read.box, origin)
        return None if crop is None else self.recogniser.read(crop)

    def disagrees(self, image: np.ndarray, read: PlateRead, origin: tuple[int, int] = (0, 0)) -> PlateRecRead | None:
        """The recogniser's reading when it vetoes `read` (see the module docstring), else None."""
        if not read.text:
            return None
        other = self.reading(image, read, origin)
        if other is None or not vetoes(label_key(read.text), other, self.sure_char):
            return None
        return other


def differing_probs(text: str, other: PlateRecRead) -> list[float]:
    """The recogniser's probabilities of its characters that are not aligned with equal ones of `text`."""
    ops = difflib.SequenceMatcher(None, text, other.text, autojunk=False).get_opcodes()
    return [other.char_probs[j] for tag, _, _, j0, j1 in ops if tag != "equal" for j in range(j0, j1)]


def vetoes(text: str, other: PlateRecRead, sure_char: float = SURE_CHAR) -> bool:
    """`other` (the recogniser's reading) contradicts the read `text` with every differing character sure."""
    if not other.text or other.text == text:
        return False
    diff = differing_probs(text, other)
    if not diff or min(diff) < sure_char:
        return False
    # the grammar's slot fixes last: they are the dearest test and rarely needed
    return not any(m.text == text for m in match(other.text))
