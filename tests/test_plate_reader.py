"""Plate reader end to end on rendered plates (real inference, no mocks)."""

import cv2
import numpy as np
import pytest

from edge.readers.ocr.engine import OcrEngine
from edge.readers.plate import PlateReader
from edge.readers.plate_lines import ink_split_row as _ink_split_row


@pytest.fixture(scope="module")
def reader():
    return PlateReader(OcrEngine(threads=1))


def _plate(lines: list[str], width: int = 440, line_h: int = 110) -> np.ndarray:
    img = np.full((line_h * len(lines) + 20, width, 3), 235, np.uint8)
    cv2.rectangle(img, (3, 3), (width - 4, img.shape[0] - 4), (20, 20, 20), 3)
    for i, t in enumerate(lines):
        cv2.putText(img, t, (25, 90 + i * line_h), cv2.FONT_HERSHEY_SIMPLEX, 2.6, (10, 10, 10), 6, cv2.LINE_AA)
    return img


def test_one_line_vn_plate(reader):
    r = reader.read(_plate(["51F-882.70"], width=560))
    assert r.ok and r.text == "51F88270" and r.country == "VN" and r.format == "vn_truck"
    assert r.display == "51F-882.70" and r.box is not None and r.confidence > 0.75


def test_two_line_moto_plate_is_read_as_two_lines(reader):
    r = reader.read(_plate(["59-E1", "252.97"]))
    assert r.text == "59E125297" and r.format == "vn_moto" and r.display == "59-E1 252.97"
    assert " / " in r.raw  # recognised line by line, never whole


def test_small_crop_is_upscaled(reader):
    crop = cv2.resize(_plate(["51A-554.33"], width=560), (94, 24), interpolation=cv2.INTER_AREA)
    r = reader.read(crop)
    assert r.text == "51A55433"


def test_plate_in_a_larger_scene_and_box(reader):
    scene = np.full((720, 1280, 3), 90, np.uint8)
    plate = _plate(["30A-123.45"], width=560)
    scene[400 : 400 + plate.shape[0], 300 : 300 + plate.shape[1]] = plate
    r = reader.read(scene)
    assert r.text == "30A12345"
    assert 280 <= r.box.x <= 340 and 390 <= r.box.y <= 440


def test_every_plate_of_a_scene_is_returned_with_its_box(reader):
    """Several vehicles in one photo (issue 17): every plate comes back, each with the box where it is, one-line
    and two-line alike."""
    scene = np.full((720, 1280, 3), 90, np.uint8)
    placed = {"30A12345": (_plate(["30A-123.45"], width=560), 60, 80),
              "59E125297": (_plate(["59-E1", "252.97"]), 760, 380)}
    for img, x, y in placed.values():
        scene[y : y + img.shape[0], x : x + img.shape[1]] = img
    reads = [r for r in reader.read_all(scene) if r.ok]
    assert sorted(r.text for r in reads) == sorted(placed)
    for r in reads:
        img, x, y = placed[r.text]
        assert abs(r.box.x - x) < 40 and abs(r.box.y - y) < 40
        assert r.box.x + r.box.w <= x + img.shape[1] + 40 and r.box.y + r.box.h <= y + img.shape[0] + 40


def test_blank_image_is_an_explicit_no_read(reader):
    r = reader.read(np.full((200, 400, 3), 128, np.uint8))
    assert not r.ok and r.text is None and r.reason == "no_text"


def test_words_are_not_plates(reader):
    r = reader.read(_plate(["NORTH"]))
    assert not r.ok and r.reason in ("grammar_mismatch", "low_confidence")


def test_ink_split_row_finds_the_gap_between_lines():
    img = cv2.cvtColor(_plate(["59-E1", "252.97"]), cv2.COLOR_BGR2GRAY)
    row = _ink_split_row(img)
    assert row is not None and 95 <= row <= 135


def test_cn_tail_without_province_glyph_is_a_no_read_not_a_generic_plate(reader):
    # "AB1234" fits a CN plate whose province glyph was lost: reading it as a foreign plate
    # would pass a CN truck under another identity
    r = reader.read(_plate(["AB1234"], width=520))
    assert not r.ok and r.text is None


def test_foreign_plate_with_a_confident_first_letter_still_reads(reader):
    r = reader.read(_plate(["BA-302OZ"], width=600))
    assert r.ok and r.text == "BA302OZ" and r.country == "OTHER"


def test_cn_two_line_plate_whose_serial_box_overlaps_the_top_line(reader):
    """Demo footage, yellow CN rear plate 桂A·473T7 (data_samples truth): the detector draws the serial's box
    up into the small top line. Paired as a two-line plate it reads right; split at its ink minimum the
    T loses its bar and reads as 1 (a wrong read this test guards against)."""
    from pathlib import Path

    from data_samples import load_truth

    lane = Path(__file__).resolve().parents[1] / "data_samples" / "clips" / "demo" / "in1"
    truck = load_truth(lane)["passages"][0]
    cap = cv2.VideoCapture(str(lane / "plate.mp4"))
    frames = [cap.read()[1] for _ in range(22)]
    cap.release()
    reads = [reader.read(frames[i]) for i in (15, 18, 21)]
    assert [r.text for r in reads] == [truck["plate"]] * 3
    assert all(r.country == "CN" and r.format == "cn_ordinary" for r in reads)


def test_a_read_below_its_country_floor_is_a_no_read(reader):
    """The calibration rule (issue 17): per-country confidence floors turn a read below them into an explicit
    low_confidence no-read that keeps what was read in `raw`; other countries' floors do not apply."""
    img = _plate(["51F-882.70"], width=560)
    floored = PlateReader(reader.engine, calibration={"VN": 1.01})
    r = floored.read(img)
    assert not r.ok and r.reason == "low_confidence" and r.raw == "51F88270" and r.confidence > 0.75
    other = PlateReader(reader.engine, calibration={"CN": 1.01, "OTHER": 1.01})
    assert other.read(img).text == "51F88270"


def test_the_shipped_calibration_file_loads():
    from edge.readers.plate_choice import FLOORS_FILE, load_floors

    assert FLOORS_FILE.is_file()
    floors = load_floors()
    assert all(k in ("VN", "CN", "OTHER") and 0.0 <= v <= 1.01 for k, v in floors.items())


def test_old_three_letter_three_digit_foreign_plate_reads(reader):
    # ABC 123 (Argentina, Uruguay, …): six characters, but not a CN tail shape; no province glyph beside it
    r = reader.read(_plate(["JPU 238"], width=520))
    assert r.ok and r.text == "JPU238" and r.country == "OTHER"


def test_a_plate_whose_head_was_not_read_is_a_no_read(reader):
    # one letter and five digits: a VN/CN plate without its province, never a foreign plate
    r = reader.read(_plate(["F25697"], width=520))
    assert not r.ok
