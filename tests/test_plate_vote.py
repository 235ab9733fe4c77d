"""CN plate voting helpers: line shape, tail extraction, province choice across recognisers."""

import numpy as np

from edge.domain.plate_grammar import CN_PROVINCES, match
from edge.readers.ocr.engine import RecResult
from edge.readers.plate_candidates import Candidate as _Candidate
from edge.readers.plate_candidates import crowded as _crowded
from edge.readers.plate_cn_province import province_choice as _province_choice
from edge.readers.plate_cn_text import cn_shape as _cn_shape
from edge.readers.plate_cn_text import cn_tail as _cn_tail
from edge.readers.plate_lines import TextLine as _Line
from edge.readers.plate_lines import small_top as _small_top


def _line(text: str, first_conf: float = 0.5) -> _Line:
    conf = [first_conf] + [0.95] * (len(text) - 1)
    quad = np.array([[0, 0], [100, 0], [100, 30], [0, 30]], np.float32)
    return _Line(quad, RecResult(text, 0.9, conf), text, 0.9, conf)


def _probs(**glyphs: float) -> np.ndarray:
    v = np.zeros(len(CN_PROVINCES))
    for g, p in glyphs.items():
        v[CN_PROVINCES.index(g)] = p
    return v


def test_cn_shape_recognises_damaged_cn_plates_but_not_foreign_or_vn_lines():
    assert _cn_shape(_line("川AY116F")) == 7
    assert _cn_shape(_line("MR35779", 0.7)) == 7  # 川 misread as M
    assert _cn_shape(_line("BA302OZ", 0.99)) is None  # confident Latin letter: Slovak plate
    # ... unless the caller weighs the province evidence there (皖AN5674 read as MAN5674 on a worse camera)
    assert _cn_shape(_line("MAN5674", 0.99), latin_first=True) == 7
    assert _cn_shape(_line("R35779")) == 6  # province glyph dropped
    assert _cn_shape(_line("底K5358")) == 7  # glyph misread and authority letter dropped
    assert _cn_shape(_line("A2825")) == 5  # province and letter outside the detected box
    assert _cn_shape(_line("25297")) is None  # VN bottom line: all digits
    assert _cn_shape(_line("FWE50")) is None  # letters-heavy vanity text
    assert _cn_shape(_line("编口18632")) == 7  # authority letter Q read as 口
    assert _cn_shape(_line("006417")) == 6  # Q read as 0, province glyph outside the box
    assert _cn_shape(_line("0ABCD1")) is None  # needs a serial with digits


def test_cn_tail_strips_the_province_glyph_and_fixes_serial_i_o():
    assert _cn_tail("川AY116F", [0.9] * 7) == ("AY116F", [0.9] * 6)
    assert _cn_tail("MAMI186", [0.9] * 7)[0] == "AM1186"
    assert _cn_tail("R35779", [0.9] * 6)[0] == "R35779"
    assert _cn_tail("A2825", [0.9] * 5) is None
    assert _cn_tail("ÁA85Z95", [0.9] * 7)[0] == "A85Z95"  # accent folded


def test_province_majority_wins_even_when_each_recogniser_is_weak():
    k, p = _province_choice([_probs(陕=0.17, 京=0.02), _probs(陕=0.28), _probs(陕=0.38, 粤=0.1)])
    assert CN_PROVINCES[k] == "陕" and p > 0.6  # noisy-OR of three agreeing readings


def test_province_contest_without_margin_is_a_no_read():
    assert _province_choice([_probs(鄂=0.8, 粤=0.6), _probs(粤=0.78, 鄂=0.5)]) is None


def test_province_single_recogniser_needs_enough_probability():
    k, p = _province_choice([_probs(川=0.9)])
    assert CN_PROVINCES[k] == "川" and p == 0.9
    assert _province_choice([_probs(川=0.2)]) is None


def _boxed(text: str, x0: float, y0: float, x1: float, y1: float) -> _Line:
    quad = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
    return _Line(quad, RecResult(text, 1.0, [1.0] * len(text)), text, 1.0, [1.0] * len(text))


def test_sign_text_in_a_block_of_lines_is_crowded_an_isolated_plate_is_not():
    exit_, north = _boxed("EXIT79B", 624, 152, 718, 174), _boxed("NORTH", 577, 177, 647, 202)
    plate, dealer = _boxed("WA56660", 271, 347, 354, 373), _boxed("AUTOHAUS", 280, 376, 345, 384)
    lines = [exit_, north, plate, dealer]
    def cand(ln: _Line) -> _Candidate:
        return _Candidate([ln], match(ln.text)[0], 1.0, ln.text)
    assert _crowded(cand(exit_), lines)
    assert not _crowded(cand(plate), lines)  # the small dealer strip under a plate does not count


def test_small_top_line_of_a_cn_two_line_plate_pairs_with_the_serial_below():
    serial = _boxed("B2893", 644, 452, 735, 485)
    assert _small_top(_boxed("AY", 644, 436, 735, 452), serial)  # half as tall, right above
    assert not _small_top(_boxed("AY", 644, 380, 735, 396), serial)  # too far above
    assert not _small_top(_boxed("29B1", 644, 420, 735, 452), serial)  # as tall: a VN two-line top
    assert not _small_top(_boxed("AY", 760, 436, 840, 452), serial)  # beside, not over it
