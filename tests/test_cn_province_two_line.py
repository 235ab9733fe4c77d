"""The province-glyph classifier's vote on CN two-line plates (yellow rear plates): the small top
line's first glyph is cut with the top line's own geometry and voted like on a one-line plate."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.domain.plate_grammar import CN_PROVINCES
from edge.readers.cn_province import TOP_ASPECT, line_squares
from edge.readers.ocr.engine import OcrEngine
from edge.readers.plate import PlateReader


class SureOf:
    """Stands in for the classifier: sure of one glyph, and records where it was asked to look."""

    def __init__(self, glyph: str):
        self.glyph = glyph
        self.calls: list[tuple[tuple[int, ...], float, float]] = []

    def line_vector(self, crop: np.ndarray, x: float, glyph_of_line: float = 0.58, aspect: float = 1.0) -> np.ndarray:
        self.calls.append((crop.shape, x, aspect))
        v = np.full(len(CN_PROVINCES), 0.05 / (len(CN_PROVINCES) - 1))
        v[CN_PROVINCES.index(self.glyph)] = 0.95
        return v


def _two_line_plate() -> np.ndarray:
    """Yellow two-line plate whose province glyph is a blot no recogniser can name (as the tiny 粤
    of a real rear plate is for all three), authority letter A, serial B2893."""
    img = np.full((260, 460, 3), (20, 190, 235), np.uint8)
    cv2.rectangle(img, (4, 4), (455, 255), (20, 20, 20), 3)
    cv2.rectangle(img, (145, 35), (195, 85), (20, 20, 20), -1)
    cv2.rectangle(img, (155, 45), (185, 75), (20, 190, 235), -1)
    cv2.putText(img, "A", (255, 85), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (20, 20, 20), 6, cv2.LINE_AA)
    cv2.putText(img, "B2893", (40, 225), cv2.FONT_HERSHEY_SIMPLEX, 3.8, (20, 20, 20), 12, cv2.LINE_AA)
    return img


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine(threads=1)


def test_two_line_plate_without_a_readable_province_is_a_no_read_without_the_classifier(engine):
    reads = PlateReader(engine, glyph_model=False).read_all(_two_line_plate())
    assert all(r.text is None for r in reads)


def test_classifier_fills_the_province_of_a_two_line_plate(engine):
    clf = SureOf("粤")
    reads = PlateReader(engine, glyph_model=clf).read_all(_two_line_plate())
    assert [r.text for r in reads] == ["粤AB2893"]
    assert reads[0].country == "CN"
    # asked once, about the top line's first glyph, with the top line's wide-glyph window
    (shape, x, aspect), = clf.calls
    assert aspect == TOP_ASPECT
    assert shape[0] < 0.6 * 260 and x < 0.35 * shape[1]  # the blot, not the letter


def test_top_line_window_squeezes_a_square_glyph_to_a_plate_glyphs_proportions():
    """A glyph as wide as tall on the top line looks, in its window, as condensed (1:2) as a
    one-line plate glyph does in a square one."""
    line = np.full((60, 200), 255, np.uint8)
    line[8:43, 20:55] = 0  # a 35×35 "glyph" at x 20–55, glyph height ≈ 0.58 of the line
    win = line_squares(line, 37.5, aspect=TOP_ASPECT, shifts=(0.0,), sizes=(1.0,))[0]
    cols = np.nonzero((win < 128).any(axis=0))[0]
    rows = np.nonzero((win < 128).any(axis=1))[0]
    width, height = cols.max() - cols.min() + 1, rows.max() - rows.min() + 1
    assert 0.4 <= width / height <= 0.6
    assert abs((cols.min() + cols.max()) / 2 - win.shape[1] / 2) <= 2  # centred


def test_shipped_classifier_reads_rendered_top_lines_through_the_wide_window():
    """Two-line plates' top lines rendered by the trainer (glyph 16–40 px, about as wide as tall)
    and cut by the runtime's crop code: the TOP_ASPECT window reads them; a square one, which
    shows the glyph twice as wide as the model learnt, does much worse."""
    from edge.readers.cn_province import ProvinceClassifier
    from smartgate_tools.train.cn_glyphs import CJK_FONTS, LATIN_FONTS, available
    from smartgate_tools.train.cn_province_lines import line_sample

    cjk, latin = available(CJK_FONTS), available(LATIN_FONTS)
    if not cjk or not latin:
        pytest.skip("no CJK/Latin fonts installed to render glyphs")
    clf = ProvinceClassifier(threads=1)
    acc = {}
    for aspect in (1.0, TOP_ASPECT):
        rng = np.random.default_rng(7)
        crops, labels = [], []
        for _ in range(3):
            for k in range(len(CN_PROVINCES)):
                crops.append(line_sample(rng, k, cjk, latin, top_line=True, min_glyph_px=16, aspect=aspect))
                labels.append(k)
        acc[aspect] = float(np.mean(clf.probs_batch(crops).argmax(axis=1) == np.array(labels)))
    assert acc[TOP_ASPECT] >= 0.75
    assert acc[TOP_ASPECT] >= acc[1.0] + 0.15
