"""Slant correction of text-line crops, and the CN plate reader's deskewed re-read of leaning plates."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.readers.slant import deskew, shear


def _bars(h: int = 60, w: int = 240) -> np.ndarray:
    img = np.full((h, w, 3), 200, np.uint8)
    for x in range(30, 220, 30):
        img[8 : h - 8, x : x + 8] = 20  # vertical strokes
    return img


@pytest.mark.parametrize("k", [-0.5, -0.25, 0.3, 0.6])
def test_deskew_undoes_a_shear(k):
    upright, found = deskew(shear(_bars(), k))
    assert found == pytest.approx(-k, abs=0.06)
    # strokes are vertical again: each column is mostly ink or mostly background over the middle rows
    grey = cv2.cvtColor(upright, cv2.COLOR_BGR2GRAY)[15:45, 20:225].astype(float)
    dark = (grey < 110).mean(axis=0)
    assert float(np.mean((dark > 0.85) | (dark < 0.15))) > 0.85


def test_deskew_keeps_the_middle_row_and_leaves_upright_text_alone():
    img = _bars()
    upright, found = deskew(img)
    assert found == 0.0 and upright is img
    # shearing about mid-height: a stroke's position on the middle row does not move
    restored, _ = deskew(shear(img, 0.4))
    mid = cv2.cvtColor(restored, cv2.COLOR_BGR2GRAY)[30]
    assert np.array_equal(np.flatnonzero(mid < 110), np.flatnonzero(img[30, :, 0] < 110))


@pytest.mark.parametrize("shape", [(1, 1, 3), (50, 2, 3), (12, 40), (30, 90, 3)])
def test_deskew_leaves_tiny_and_flat_crops_alone(shape):
    flat = np.full(shape, 128, np.uint8)
    out, found = deskew(flat)
    assert found == 0.0 and out is flat


def test_leaning_cn_plates_are_read_through_the_deskewed_crop(monkeypatch):
    """Synthetic CN plates sheared by 0.6 (≈ 31°): more are read with the deskewed re-read than
    without it, and it adds no wrong read."""
    from edge.domain.plate_grammar import CN_PROVINCES
    from edge.readers import plate as plate_mod
    from edge.readers import plate_cn
    from smartgate_tools.train.cn_glyphs import CJK_FONTS, LATIN_FONTS, available
    from smartgate_tools.train.cn_province_lines import render_line

    cjk, latin = available(CJK_FONTS), available(LATIN_FONTS)
    if not cjk or not latin:
        pytest.skip("no CJK/Latin fonts installed to render plates")
    reader = plate_mod.PlateReader()
    rng = np.random.default_rng(3)
    plates = []
    for _ in range(8):
        k = int(rng.integers(31))
        tail = "A" + "".join(rng.choice(list("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"), 5))
        canvas, _, _ = render_line(rng, k, cjk, latin, tail=tail)
        scene = cv2.copyMakeBorder(np.clip(canvas, 0, 255).astype(np.uint8), 40, 40, 120, 120, cv2.BORDER_REPLICATE)
        plates.append((shear(scene, 0.6), CN_PROVINCES[k] + tail))

    def count(min_slant: float) -> tuple[int, int]:
        monkeypatch.setattr(plate_cn, "MIN_SLANT", min_slant)
        texts = [(reader.read(img).text, label) for img, label in plates]
        return sum(t == label for t, label in texts), sum(t is not None and t != label for t, label in texts)

    default = plate_cn.MIN_SLANT
    right_without, wrong_without = count(10.0)  # never deskew
    right_with, wrong_with = count(default)
    assert right_with >= right_without + 2
    assert wrong_with <= wrong_without  # (one 藏 read as 皖 either way: a province glyph, not the slant)
