"""ContainerReader on rendered container doors (horizontal, two-line, vertical, two containers), plus a
smoke run on the real dev photos when ../shared/eval is present."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.domain import iso6346

pytest.importorskip("onnxruntime")

FONT = cv2.FONT_HERSHEY_DUPLEX
WHITE = (235, 235, 235)
EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "container"


@pytest.fixture(scope="module")
def reader():
    from edge.readers.container import ContainerReader

    try:
        return ContainerReader(threads=2)
    except (FileNotFoundError, RuntimeError) as e:  # model files not installed
        pytest.skip(f"OCR models unavailable: {e}")


def _door(w: int = 900, h: int = 600, color=(40, 50, 130)) -> np.ndarray:
    img = np.full((h, w, 3), color, np.uint8)
    for x in range(60, w, 150):  # locking bars, as on a real door
        cv2.rectangle(img, (x, 0), (x + 10, h), (150, 150, 150), -1)
    return img


def _text(img, s, x, y, scale=1.6, thick=3):
    cv2.putText(img, s, (x, y), FONT, scale, WHITE, thick, cv2.LINE_AA)
    (tw, th), _ = cv2.getTextSize(s, FONT, scale, thick)
    return tw, th


def _boxed_digit(img, d, x, y, scale=1.6, thick=3):
    tw, th = _text(img, d, x, y, scale, thick)
    cv2.rectangle(img, (x - 8, y - th - 8), (x + tw + 8, y + 10), WHITE, 2)


def _horizontal(img, code, x, y, size_type="22G1"):
    tw, _ = _text(img, code[:4], x, y)
    sw, _ = _text(img, code[4:10], x + tw + 40, y)
    _boxed_digit(img, code[10], x + tw + 40 + sw + 30, y)
    if size_type:
        _text(img, size_type, x + tw + 40, y + 70)


def test_reads_horizontal_code_with_boxed_check_digit_and_size_type(reader):
    img = _door()
    _horizontal(img, "MSKU3704035", 330, 120)
    _text(img, "MAX.GROSS 30.480 KGS", 300, 300, 0.9, 2)
    reads = reader.read(img)
    assert [r.code for r in reads] == ["MSKU3704035"]
    r = reads[0]
    assert r.check_digit_ok and r.layout == "horizontal"
    assert r.size_type == "22G1" and r.size_type_text == "20 ft, 8'6\", general purpose"
    assert r.box is not None and 250 < r.box.x + r.box.w / 2 < 800


def test_reads_two_line_code(reader):
    img = _door()
    _text(img, "SKHU", 400, 120, 2.0, 4)
    tw, _ = _text(img, "9502 24", 400, 200, 2.0, 4)
    _boxed_digit(img, "0", 400 + tw + 35, 200, 2.0, 4)
    _text(img, "45G1", 400, 270)
    reads = reader.read(img)
    assert [r.code for r in reads] == ["SKHU9502240"]
    assert reads[0].layout == "two_line" and reads[0].check_digit_ok


def test_reads_vertical_code_one_character_per_row(reader):
    img = _door(500, 900, (40, 110, 40))
    code = "CSQU3054383"
    y = 70
    for c in code:
        _text(img, c, 230, y, 1.5, 3)
        y += 70
    reads = reader.read(img)
    assert [r.code for r in reads] == [code]
    assert reads[0].layout == "vertical"


def test_reads_two_containers_in_one_image(reader):
    img = np.hstack([_door(700, 400), _door(700, 400, (30, 80, 160))])
    _horizontal(img, "MWCU6059784", 180, 120, "22G1")
    _horizontal(img, "CSQU3054383", 880, 120, "22G1")
    reads = reader.read(img)
    assert [r.code for r in reads] == ["MWCU6059784", "CSQU3054383"]  # left to right


def test_wrong_check_digit_is_a_no_read(reader):
    img = _door()
    _horizontal(img, "MSKU3704036", 330, 120)  # 6 is not MSKU370403's check digit (5)
    assert reader.read(img) == []
    from edge.readers.container import ContainerReader

    unverified = ContainerReader(engine=reader.engine, include_unverified=True).read(img)
    assert any(r.code == "MSKU3704036" and not r.check_digit_ok for r in unverified)


def test_blank_and_text_free_images(reader):
    assert reader.read(np.zeros((0, 0, 3), np.uint8)) == []
    assert reader.read(_door()) == []


@pytest.mark.slow
@pytest.mark.skipif(not EVAL.exists(), reason="../shared/eval not present: real-photo smoke test skipped")
def test_real_photo_smoke(reader):
    rows = list(csv.DictReader((EVAL / "labels.csv").open()))[::10]
    hits = wrong = 0
    for row in rows:
        reads = reader.read(cv2.imread(str(EVAL / row["file"])))
        codes = sorted(r.code for r in reads)
        hits += codes == sorted(row["label"].split("|"))
        wrong += any(c not in row["label"].split("|") for c in codes)
        assert all(iso6346.validate(c) for c in codes)
    assert hits >= 0.8 * len(rows), f"{hits}/{len(rows)} read"
    assert wrong <= 1
