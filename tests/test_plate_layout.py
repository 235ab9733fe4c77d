"""Pairing the two lines of a plate when the plate is tilted (geometry only, no models)."""

import numpy as np
import pytest

from edge.readers.ocr.engine import RecResult
from edge.readers.plate_lines import TextLine as _Line
from edge.readers.plate_lines import extents_along as _extents_along
from edge.readers.plate_lines import stacked as _stacked


def _line(cx: float, cy: float, w: float, h: float, deg: float, text: str = "1111") -> _Line:
    """A text line of size w×h centred at (cx, cy), rotated by `deg` (positive: runs down to the right)."""
    a = np.radians(deg)
    u, n = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
    c = np.array([cx, cy])
    quad = np.array([c - u * w / 2 - n * h / 2, c + u * w / 2 - n * h / 2,
                     c + u * w / 2 + n * h / 2, c - u * w / 2 + n * h / 2], np.float32)
    return _Line(quad, RecResult(text, 1.0, [1.0] * len(text)), text, 1.0, [1.0] * len(text))


def _plate(deg: float, centre=(300.0, 300.0)) -> tuple[_Line, _Line]:
    """Top and bottom line of a two-line plate (180×90 px), both rotated by `deg` about the plate centre."""
    a = np.radians(deg)
    n = np.array([-np.sin(a), np.cos(a)])
    c = np.array(centre)
    top_c, bot_c = c - n * 24, c + n * 24
    return _line(*top_c, 170, 42, deg, "30X1"), _line(*bot_c, 170, 44, deg)


@pytest.mark.parametrize("deg", [0.0, -5.0, 8.0, -14.0, 15.0])
def test_tilted_two_line_plate_is_paired(deg: float) -> None:
    top, bot = _plate(deg)
    assert _stacked(top, bot)
    assert not _stacked(bot, top)


def test_upright_boxes_of_tilted_lines_overlap_but_the_tilted_frame_separates_them() -> None:
    top, bot = _plate(-14.0)
    # Upright boxes: the lower line starts well above the upper line's bottom edge...
    assert bot.y0 < top.y1 - 0.4 * min(top.h, bot.h)
    # ...while along the plate's own axes they are two stacked lines with a small gap.
    _, _, ty0, ty1 = _extents_along(top, top)
    _, _, by0, _ = _extents_along(top, bot)
    assert ty1 - 1 <= by0 <= ty1 + 10 and ty0 < by0


def test_lines_side_by_side_or_far_apart_are_not_a_plate() -> None:
    top, _ = _plate(10.0)
    beside = _line(520, 340, 170, 44, 10.0)
    far_below = _line(300, 520, 170, 44, 10.0)
    assert not _stacked(top, beside)
    assert not _stacked(top, far_below)


def test_level_lines_keep_the_upright_measure() -> None:
    top = _line(100, 100, 120, 30, 0.0)
    assert _extents_along(top, top) == pytest.approx((top.x0, top.x1, top.y0, top.y1))
