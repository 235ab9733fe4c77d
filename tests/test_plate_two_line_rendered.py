"""Two-line plates rendered like the sample footage's (data_samples.render_plate), read whole by the
plate reader: CN yellow rear plates with and without a letter in the serial, VN two-line plates."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from data_samples.codes import Plate, random_cn_plate, random_vn_plate
from data_samples.render_plate import render_plate
from edge.readers.plate import PlateReader
from edge.readers.slant import shear


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


def _scene(plate: Plate, rng: np.random.Generator, lean: float = 0.0) -> np.ndarray:
    img = render_plate(plate, rng, px_per_m=500, dirt=0.1)
    return shear(cv2.copyMakeBorder(img, 60, 60, 150, 150, cv2.BORDER_CONSTANT, value=(90, 90, 90)), lean)


def _cn_two_line(rng: np.random.Generator, all_digits: bool) -> Plate:
    while True:
        p = random_cn_plate(rng, two_line=True)
        if p.bottom.isdigit() == all_digits:
            return p


@pytest.mark.parametrize("all_digits", [True, False])
def test_cn_rear_plates_are_read_whole(reader, all_digits):
    """The small "province · letter" line is paired with the serial below it even when the serial
    has no letter (truck serials are mostly digits; such a line alone looks like a VN bottom line
    and was left unread) and when the plate leans."""
    rng = np.random.default_rng(11 if all_digits else 12)
    plates = [_cn_two_line(rng, all_digits) for _ in range(4)]
    for lean in (0.0, 0.3):
        reads = [reader.read(_scene(p, rng, lean)) for p in plates]
        assert [r.text for r in reads] == [p.text for p in plates], lean
        assert all(r.country == "CN" for r in reads)


def test_vn_two_line_plates_stay_vietnamese(reader):
    """A VN two-line plate's all-digit bottom line is not taken for a CN serial: its top line starts
    with the 2-digit province code."""
    rng = np.random.default_rng(13)
    for _ in range(4):
        p = random_vn_plate(rng, two_line=True)
        r = reader.read(_scene(p, rng))
        assert (r.text, r.country) == (p.text, "VN")


def _without_top_line(reader: PlateReader, scene: np.ndarray):
    """The working image and the detected serial line alone (as when the detector misses the small
    top line of a distant plate)."""
    work, _, _ = reader._prepare(scene)
    lines = [ln for ln in reader._lines(work) if not ln.voted]
    bottom = max(lines, key=lambda ln: ln.h)
    return work, bottom


@pytest.mark.parametrize("all_digits", [True, False])
def test_missed_cn_top_line_is_found_again_above_the_serial(reader, all_digits):
    rng = np.random.default_rng(21 if all_digits else 22)
    for _ in range(3):
        p = _cn_two_line(rng, all_digits)
        work, bottom = _without_top_line(reader, _scene(p, rng))
        assert bottom.text == p.bottom
        voted = reader.cn.two_line(work, [bottom])
        assert [v.text for v in voted] == [p.text]


def test_no_cn_top_line_is_made_up_over_a_vn_bottom_line(reader):
    """Over a VN two-line plate's bottom line the guessed place holds the VN top line ("59-Y1"):
    it has digits, so no CN plate is made of it."""
    rng = np.random.default_rng(23)
    for _ in range(3):
        p = random_vn_plate(rng, two_line=True)
        work, bottom = _without_top_line(reader, _scene(p, rng))
        assert reader.cn.two_line(work, [bottom]) == []
