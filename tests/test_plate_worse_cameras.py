"""Worse cameras than ours (issue 17): what a plate small in a compressed scene must not turn into.

The scenes are the validation set of `smartgate_tools.experiments.plate_scenes`: real CN plate crops of
../shared/train (read in place, never copied) pasted at 59-76 px into real cargo photos, blurred and JPEG-compressed
at quality 45. Each case below read as a foreign plate before session 10 (its province glyph became a Latin letter or
vanished); the recognisers saw a province glyph there and the plate is blue, so it is a CN plate whose glyph was lost.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pytest

if TYPE_CHECKING:
    from smartgate_tools.experiments.plate_scenes import Condition

from edge.readers.plate_cn import PLATE_COLOUR_MIN, colour_share

SHARED = Path(__file__).resolve().parents[2] / "shared"

# crop, the background photo its scene drew, the plate's width in px (as plate_scenes drew them for "scene-poor" with
# its 160 backgrounds), what the reader said before the rule
CASES = [
    ("jkccpd_00091.jpg", "coke_coal/coke_coal_coalrock_0011.jpg", 73, "AKW705"),
    ("jkccpd_00043.jpg", "closed/closed_tarpcam_0004.jpg", 64, "AYE275"),
    ("jkccpd_00356.jpg", "electronics/electronics_trashnet_0084.jpg", 66, "EAR8434"),
]


def _scene(crop: str, background: str) -> tuple[np.random.Generator, Condition, list[np.ndarray]]:
    from smartgate_tools.experiments.plate_scenes import CONDITIONS

    paths = SHARED / "train" / "plate_cn" / crop, SHARED / "cargo" / "train" / background
    if not all(p.is_file() for p in paths):
        pytest.skip("../shared training photos not present")
    c = CONDITIONS["scene-poor"]
    rng = np.random.default_rng(zlib.crc32(f"{crop}#scene-poor".encode()))
    rng.integers(160), rng.integers(c.min_w, c.max_w + 1)  # the draws that picked the background and the width
    return rng, c, [cv2.imread(str(p)) for p in paths]


@pytest.fixture(scope="module")
def readers():
    from edge.readers.ocr.engine import OcrEngine
    from edge.readers.plate import PlateReader

    return PlateReader(OcrEngine(threads=2)), PlateReader(OcrEngine(threads=2), province_evidence=2.0)


@pytest.mark.parametrize("crop, background, width, before", CASES)
def test_a_cn_plate_whose_glyph_a_worse_camera_lost_is_not_read_as_a_foreign_plate(readers, crop, background,
                                                                                      width, before):
    from smartgate_tools.experiments.plate_scenes import in_scene

    rng, c, (plate, back) = _scene(crop, background)
    scene = in_scene(plate, back, width, c.quality, c.blur, rng)
    shipped, without_rule = readers
    assert [r.text for r in without_rule.read_all(scene) if r.text] == [before]  # the failure, reproduced
    reads = [r for r in shipped.read_all(scene) if r.text]
    assert all(r.country == "CN" for r in reads), reads  # a CN read or a no-read, never a foreign plate


def _plate(bg: tuple[int, int, int], ink: tuple[int, int, int], band: bool) -> tuple[np.ndarray, np.ndarray]:
    img = np.full((60, 240, 3), bg, np.uint8)
    if band:  # an EU plate's band: blue, a tenth of the plate
        img[:, :24] = (160, 60, 0)
    for i in range(7):  # seven character-sized strokes
        x = 32 + i * 29
        cv2.rectangle(img, (x, 12), (x + 18, 48), ink, 4)
    quad = np.array([[0, 0], [239, 0], [239, 59], [0, 59]], np.float32)
    return img, quad


def test_colour_share_tells_a_blue_or_yellow_plate_from_an_eu_band():
    cn, quad = _plate((200, 70, 0), (255, 255, 255), band=False)  # CN ordinary plate: blue behind white characters
    eu, _ = _plate((250, 250, 250), (20, 20, 20), band=True)  # white plate with its blue band
    blue = ("blue",)
    assert colour_share(cn, quad, blue) >= PLATE_COLOUR_MIN > colour_share(eu, quad, blue)
    yellow, _ = _plate((20, 200, 245), (20, 20, 20), band=False)
    assert colour_share(yellow, quad, blue) < PLATE_COLOUR_MIN <= colour_share(yellow, quad, ("blue", "yellow"))
    assert colour_share(eu, quad, ("blue", "yellow")) < PLATE_COLOUR_MIN  # truck plates count, an EU band does not


def test_a_scene_puts_the_plate_at_its_width_in_the_lower_half_and_is_reproducible():
    from smartgate_tools.experiments.plate_scenes import SCENE_WIDTH, in_scene

    plate = np.zeros((40, 160, 3), np.uint8)
    plate[:, :, 2] = 255  # pure red: easy to find again after compression
    back = np.full((300, 400, 3), 128, np.uint8)
    scenes = [in_scene(plate, back, 80, 90, 0.0, np.random.default_rng(7)) for _ in range(2)]
    assert np.array_equal(scenes[0], scenes[1])  # the same seed, the same scene
    scene = scenes[0]
    assert scene.shape[1] == SCENE_WIDTH and scene.shape[0] == round(300 * SCENE_WIDTH / 400)
    ys, xs = np.nonzero((scene[:, :, 2] > 200) & (scene[:, :, 1] < 80))
    assert abs((xs.max() - xs.min() + 1) - 80) <= 2 and abs((ys.max() - ys.min() + 1) - 20) <= 2
    assert ys.min() >= scene.shape[0] // 2  # where a plate is in a gate camera's frame
    other = in_scene(plate, back, 80, 90, 0.0, np.random.default_rng(8))
    assert not np.array_equal(scene, other)
