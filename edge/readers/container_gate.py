"""A cheap look before a full container read: is there text on the container camera that was not there before?

The full read (text detection at `det_max_side`, recognition of every line, the vertical and check-digit passes)
costs several times a bare detection on a small copy. Many frames a container camera reads while a truck passes
show no text but the lane's own (a sign behind the lane, whose pixels do not change): the cab, a tarpaulin, a tank,
an open deck. This gate runs the text detector alone at two thirds of the reader's detector size (under half the
pixels) and reports the text lines that are new: not at the place of a line of this camera's previous gated frame with the same pixels there. The
lane pipeline reads the frame in full only when there is one (issue 18: reads per vehicle). It does not judge what
the text says, so a code's first piece already opens the full read; a code that stands still in view was read when
it arrived (the same pixels give the same read).

`read_words` (pipeline.container_gate_words) adds one cheap judgement of what the new text says: the recogniser
alone reads the new lines, and a line that reads as a word or a name (COSCO, VẬN TẢI HÀ GIANG, 中远, TALIA) does
not open the full read, because no part of a container code is a word: an owner code ends in U, J or Z after three
letters, and everything else in a code has a digit. Livery on a passing truck moves, so the detector alone
sees it as new on every frame; with this the cab and the trailer's lettering cost a detection and a short
recognition, not a full read. Tall strips (a vertical code) and lines too short to tell always open it.
"""

from __future__ import annotations

import re
import unicodedata

import cv2
import numpy as np

from edge.readers.container_layout import TALL_RATIO
from edge.readers.ocr.engine import OcrEngine, crop_quad

# the gate's detector input against the reader's: at 1/2 of 960 px one real gate photo in 105 (800×600, small
# glyphs) showed no text at all; at 2/3 every photo whose code the reader reads has a gate line over the code
GATE_SCALE = 2 / 3
PLACE_TOL = 0.5  # a line "at the same place": corners within this fraction of its height (the detector jitters)
PIXEL_TOL = 4.0  # mean grey difference (0-255) of the line's 32×8 thumbnail below which its pixels are the same
WORD_MIN = 4  # a line of fewer Latin letters than this is too short to tell from a piece of a code
WORD_THUMB = (34, 10)  # a word's look (32×8 and a cell of slack each way for the detector's jitter)
WORD_TOL = 14.0  # mean grey difference below which two looks are one word: moved 4-11, another word 18-20, a code 33+
_OWNER_CODE = re.compile(r"(?<![A-Z])[A-Z]{3}[UJZ](?![A-Z])")  # a token of its own, not THANHJ in KIM THÀNH JSC
_WEIGHT = re.compile(r"\b(?:KGS?|LBS?|CU\.?\s*M|CU\.?\s*FT)\b")  # NET 28.260 KG sits under a code, never in it


def only_words(text: str) -> bool:
    """The line reads as words or a name, never part of a container code: no owner code (three letters and
    U/J/Z as a token of its own), no digit unless it is a weight or volume (NET 28.260 KG), and either at least
    WORD_MIN Latin letters or two Chinese characters (中远 COSCO, 易燃). Accents are folded first (VẬN TẢI)."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.upper()) if not unicodedata.combining(c))
    if _OWNER_CODE.search(folded) or (any(c.isdigit() for c in folded) and not _WEIGHT.search(folded)):
        return False
    latin = re.sub(r"[^A-Z]", "", folded)
    # one Chinese character is often a logo or an emblem read as one (the CSC plate as 明): too little to tell
    return len(latin) >= WORD_MIN or sum("\u3400" <= c <= "\u9fff" for c in text) >= 2


class ContainerGate:
    """The text detector alone on a small copy of a container camera's frame; new text lines since the last look."""

    def __init__(self, engine: OcrEngine, max_side: int, read_words: bool = False,
                 word_engine: OcrEngine | None = None):
        """`word_engine`: the recogniser that reads new lines for the word cue (default `engine`; the container
        reader's fast screen recogniser where it has one: telling a word from a code piece needs no more)."""
        self.engine = engine
        self.word_engine = word_engine or engine
        self.max_side = max_side
        self.read_words = read_words  # also read the new lines; lines that are only words do not count
        self._last: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}  # camera → (quad, thumbnail) of last look
        self._words: dict[str, list[tuple[float, float, np.ndarray]]] = {}  # camera → (w, h, thumbnail) of words

    def new_text(self, image: np.ndarray, camera: str = "") -> int:
        """How many text lines of `image` are not lines of this camera's previous look: a line counts as old when
        a line of that look was at about the same place and the pixels there have not changed (the detector's
        box jitters by a few pixels; the pixels are compared inside the earlier box, so the jitter does not
        count)."""
        quads = self.engine.detect(image, max_side=self.max_side)
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        before = self._last.get(camera, [])
        self._last[camera] = [(q, _thumb(grey, q)) for q in quads]
        new = [q for q in quads if not any(_near(q, pq) and _still(grey, pq, pth) for pq, pth in before)]
        if not self.read_words or not new:
            return len(new)
        return self._not_words(image, grey, new, camera)

    def _not_words(self, image: np.ndarray, grey: np.ndarray, new: list[np.ndarray], camera: str) -> int:
        """How many of the `new` lines may be part of a code. A word moves with its truck: a line the size and
        look of a word of the last look (anywhere in the frame) is that word again and is not read again."""
        known = self._words.get(camera, [])
        words: list[tuple[float, float, np.ndarray]] = []
        todo: list[tuple[np.ndarray, tuple[float, float, np.ndarray]]] = []
        count = 0
        for q in new:
            if _tall(q):
                count += 1
                continue
            look = (float(np.ptp(q[:, 0])), float(np.ptp(q[:, 1])), _thumb(grey, q, WORD_THUMB))
            if any(_same_word(look, w) for w in known):
                words.append(look)
            else:
                todo.append((q, look))
        if todo:
            recs = self.word_engine.recognize([crop_quad(image, q, 0.08) for q, _ in todo])
            for (_, look), r in zip(todo, recs, strict=True):
                if only_words(r.text):
                    words.append(look)
                else:
                    count += 1
        self._words[camera] = words
        return count


def gate_for(reader: object, det_max_side: int | None, read_words: bool = False) -> ContainerGate | None:
    """A gate sharing the container reader's OCR engine (and its screen recogniser for the word cue) at GATE_SCALE
    of its detector size; None for a reader without one (a test's fake reader)."""
    engine = getattr(reader, "engine", None)
    if not isinstance(engine, OcrEngine):
        return None
    screen = getattr(reader, "screen", None)
    side = det_max_side or getattr(reader, "det_max_side", 960)
    return ContainerGate(engine, max(160, round(int(side) * GATE_SCALE)), read_words,
                         word_engine=screen if isinstance(screen, OcrEngine) else None)


def _same_word(a: tuple[float, float, np.ndarray], b: tuple[float, float, np.ndarray]) -> bool:
    """Two lines of about the same size (within 15 %) whose pixels look the same, allowing the detector's box a
    cell of slack each way (its corners jitter and tilt by a few pixels): one word, moved."""
    (aw, ah, at), (bw, bh, bt) = a, b
    if abs(aw - bw) > 0.15 * max(aw, bw) or abs(ah - bh) > 0.15 * max(ah, bh):
        return False
    h, w = at.shape
    core = at[1 : h - 1, 1 : w - 1]
    return min(float(np.abs(core - bt[dy : dy + h - 2, dx : dx + w - 2]).mean())
               for dy in range(3) for dx in range(3)) < WORD_TOL


def _tall(quad: np.ndarray) -> bool:
    """A vertical strip, by the reader's own rule (`container_layout.is_tall`) on a bare quad."""
    return float(np.ptp(quad[:, 1])) > TALL_RATIO * float(np.ptp(quad[:, 0]))


def _thumb(grey: np.ndarray, quad: np.ndarray, size: tuple[int, int] = (32, 8)) -> np.ndarray:
    h, w = grey.shape[:2]
    x0, y0 = (max(0, int(v)) for v in np.floor(quad.min(axis=0)))
    x1, y1 = min(w, int(np.ceil(quad[:, 0].max()))), min(h, int(np.ceil(quad[:, 1].max())))
    crop = grey[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
    return cv2.resize(crop, size, interpolation=cv2.INTER_AREA).astype(np.int16)


def _near(q: np.ndarray, pq: np.ndarray) -> bool:
    """Corners within PLACE_TOL of the line's height (at least 6 px)."""
    height = float(pq[:, 1].max() - pq[:, 1].min())
    return bool(np.abs(q - pq).max() <= max(6.0, PLACE_TOL * height))


def _still(grey: np.ndarray, pq: np.ndarray, pth: np.ndarray) -> bool:
    """The pixels inside the earlier box are the ones it held then."""
    return bool(np.abs(_thumb(grey, pq) - pth).mean() < PIXEL_TOL)
