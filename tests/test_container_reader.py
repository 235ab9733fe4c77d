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


# -- vertical codes down a door edge: the column reader (edge/readers/container_column.py) ---------------------

def _stacked_column(img, code, x, y, ch_h=38, pitch=44, color=WHITE):
    """Upright characters stacked one per row as on a door edge: owner code, a wider gap, the serial, a wider
    gap and the check digit in a frame. Returns the column's box (x0, y0, x1, y1)."""
    from data_samples.draw import put_text

    face = "DejaVuSansCondensed-Bold.ttf"
    y0 = y
    for i, c in enumerate(code):
        if i in (4, 10):
            y += pitch // 2
        put_text(img, c, face, (x, y, int(0.62 * ch_h), ch_h), color, keep_aspect=True)
        if i == 10:
            cv2.rectangle(img, (x - 6, y - 6), (x + int(0.62 * ch_h) + 6, y + ch_h + 6), color, 2)
        y += pitch
    return x - 8, y0, x + int(0.62 * ch_h) + 8, y


def _edge_door(h=720, w=520, color=(35, 40, 120)):
    """A door edge lit from above (a brightness gradient along the column) with a rail beside the code."""
    img = np.full((h, w, 3), color, np.uint8).astype(np.float32)
    img *= np.linspace(1.9, 0.8, h, dtype=np.float32)[:, None, None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    cv2.rectangle(img, (300, 0), (306, h), (170, 170, 170), -1)
    return img


def _line(text, x0, y0, x1, y1):
    from edge.readers.container_layout import CodeLine

    quad = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
    return CodeLine(text, [0.9] * len(text), x0, y0, x1, y1, quad)


def test_column_groups_joins_detector_pieces_of_one_column():
    from edge.readers.container_column import column_groups

    # as a gate camera's detector returns a vertical code: owner code, part of the serial, the boxed digit
    pieces = [_line("BEAU", 380, 100, 402, 270), _line("687", 378, 400, 400, 530), _line("8", 374, 560, 398, 600)]
    other = [_line("22G1", 470, 100, 494, 270), _line("CAUTION", 100, 300, 260, 340)]
    cols = column_groups(pieces + other)
    col = next(c for c in cols if pieces[0] in c.lines)
    assert col.lines == pieces
    assert 35 < col.pitch < 50
    assert all(other[0] not in c.lines or len(c.lines) == 1 for c in cols)


def test_stack_cells_splits_touching_characters():
    from edge.readers.container_column import stack_cells

    img = _edge_door(h=520, w=80)
    _stacked_column(img, "TGHU2703360", 25, 10, ch_h=34, pitch=36)  # rows 2 px apart
    cells = stack_cells(img[:, 10:70], pitch=36)
    sizes = [b - a for a, b in cells]
    assert len(cells) == 11 and max(sizes) < 50


def test_read_column_reads_stacked_code_with_boxed_check_digit(reader):
    from edge.readers.container_column import read_column

    img = _edge_door()
    x0, y0, x1, y1 = _stacked_column(img, "BEAU2576878", 240, 60)
    found = read_column([reader.engine, reader.vertical_engine], img, (x0 - 10, max(0, y0 - 40), x1 + 10, y1 + 10))
    assert [c.code for c in found] == ["BEAU2576878"] and found[0].check_digit_ok


def test_reads_vertical_door_edge_code(reader):
    img = _edge_door()
    _stacked_column(img, "TEMU7202478", 240, 60)
    _stacked_column(img, "45G1", 360, 60)
    reads = reader.read(img)
    assert [r.code for r in reads] == ["TEMU7202478"]
    assert reads[0].layout == "vertical" and reads[0].check_digit_ok


def test_stacked_column_with_wrong_check_digit_is_not_verified(reader):
    from edge.readers.container_column import read_column

    img = _edge_door()
    x0, y0, x1, y1 = _stacked_column(img, "BEAU2576873", 240, 60)  # BEAU257687's check digit is 8
    assert read_column([reader.engine, reader.vertical_engine], img, (x0 - 10, max(0, y0 - 40), x1 + 10, y1 + 10)) == []
    assert reader.read(img) == []


def test_two_vertical_codes_side_by_side_are_both_returned(reader):
    img = np.hstack([_edge_door(), _edge_door(color=(110, 60, 30))])
    _stacked_column(img, "BEAU2576878", 240, 60)
    _stacked_column(img, "TEMU7202478", 520 + 240, 60)
    reads = reader.read(img)
    assert [r.code for r in reads] == ["BEAU2576878", "TEMU7202478"]  # left to right


def test_validation_split_is_by_container_id():
    from smartgate_tools.container_validation import outcome, split_of

    assert split_of(["BEAU2576878"]) == split_of(["BEAU2576878"])
    # a photo with two IDs goes where its smallest ID goes, whatever the label order
    assert split_of(["PSSU3581297", "PSSU3567508"]) == split_of(["PSSU3567508"])
    assert {split_of([f"TEMU{n:06d}0"]) for n in range(40)} == {"tune", "holdout"}
    assert outcome(["A"], ["A"]) == "ok" and outcome(["A", "B"], ["A"]) == "noread"
    assert outcome(["A"], ["A", "C"]) == "wrong" and outcome(["A"], []) == "noread"


# -- real gate photos of ../shared/train/container (training data, read in place, never copied) -----------------

TRAIN = Path(__file__).resolve().parents[2] / "shared" / "train" / "container"


def _train_photo(name: str) -> np.ndarray:
    path = TRAIN / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return cv2.imread(str(path))


def test_a_code_seen_twice_gets_its_check_digit_where_it_is_legible(reader):
    """BEAU265693 is on the roof (its boxed digit unreadable there) and on the doors (boxed 1 legible). The check
    digit is looked for at each place, not once per code: the roof's failure must not hide the doors' digit."""
    assert [r.code for r in reader.read(_train_photo("marsa_00001.jpg"))] == ["BEAU2656931"]


def test_a_second_container_beside_a_verified_one_gets_the_larger_detection(reader):
    """Two containers side by side; at 960 px the left one's serial loses its last digit (35812). A piece of a
    code that no verified read explains earns the second, larger detection, and what it verifies is added."""
    from edge.readers.container import ContainerReader

    img = _train_photo("macarize_00002.jpg")
    assert sorted(r.code for r in reader.read(img)) == ["PSSU3567508", "PSSU3581297"]
    once = ContainerReader(engine=reader.engine, retry_max_side=None).read(img)
    assert [r.code for r in once] == ["PSSU3567508"]  # what the first pass alone finds


def test_a_tall_strip_is_also_read_with_the_check_digit_box_under_it(reader):
    """XINU 157721 is one tall detector box at 1280 px, its boxed 4 a box of its own below: the strip read
    extended downwards verifies (the 960-px pass saw only XINU, a piece of a code, so the larger pass runs)."""
    assert [r.code for r in reader.read(_train_photo("marsa_00013.jpg"))] == ["XINU1577214"]


def test_a_photo_where_nothing_was_seen_gets_the_larger_detection(reader):
    """At 960 px the detector finds no piece of TEMU 072376 7 at all; a single photo has no next frame, so the
    larger pass runs anyway (retry_blind); the lane's reader, which has the next frame, does not."""
    from edge.readers.container import ContainerReader

    img = _train_photo("marsa_00099.jpg")
    assert [r.code for r in reader.read(img)] == ["TEMU0723767"]
    assert ContainerReader(engine=reader.engine, retry_blind=False).read(img) == []


def test_a_small_photo_is_enlarged_for_the_larger_detection(reader):
    """The same photo at 1024 px (the size of most published photos): the detector never enlarges a frame, so
    the second pass enlarges the photo itself, and the box comes back in the photo's own pixels."""
    img = _train_photo("marsa_00013.jpg")
    small = cv2.resize(img, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
    reads = reader.read(small)
    assert [r.code for r in reads] == ["XINU1577214"]
    b = reads[0].box
    assert b is not None and 0 <= b.x < b.x + b.w <= small.shape[1] and 0 <= b.y < b.y + b.h <= small.shape[0]


def test_ten_characters_needing_a_rare_coercion_are_not_completed_from_the_box(reader):
    """A G where a serial digit belongs (coerced to 6) is one guess; the boxed digit those ten characters then
    demand, read from pixels, would be a second (a bar or the box's own edge reads as 1): no code. The same door
    with the 6 painted is read."""
    code = "MSKU376403"
    digit = str(iso6346.check_digit(code))
    painted = _door()
    _horizontal(painted, code + digit, 330, 120)
    assert [r.code for r in reader.read(painted)] == [code + digit]
    misread = _door()
    _horizontal(misread, "MSKU37G403" + digit, 330, 120)
    assert iso6346.rare_coercion(iso6346.parse_code("MSKU37G403"))
    assert [r.code for r in reader.read(misread) if r.check_digit_ok] == []


def test_a_yard_of_boxes_is_read_again_in_slices_and_only_codes_verified_as_read_are_added(reader, monkeypatch):
    """Four real photos in one picture (a yard proxy, smartgate_tools.experiments.container_mosaics): two horizontal
    codes verify at once, the vertical TRHU 307437 2 of the fourth box is found only when the picture is read again
    in slices. Every code returned is one of the four boxes'."""
    from edge.readers import container as mod
    from smartgate_tools.experiments.container_mosaics import mosaic

    names = ["marsa_00015.jpg", "marsa_00065.jpg", "marsa_00051.jpg", "marsa_00008.jpg"]
    photos = [_train_photo(n) for n in names]
    tiles = [cv2.resize(p, None, fx=640 / max(p.shape[:2]), fy=640 / max(p.shape[:2]), interpolation=cv2.INTER_AREA)
             for p in photos]
    yard = mosaic(tiles, 640)
    boxes = {"PCIU2743129", "MRKU3543983", "MRKU2386679", "TRHU3074372"}
    codes = [r.code for r in reader.read(yard)]
    assert "TRHU3074372" in codes and set(codes) <= boxes
    found = next(r for r in reader.read(yard) if r.code == "TRHU3074372")
    assert found.box is not None and found.box.x >= 640 and found.box.y >= 640  # mapped back: the bottom-right box
    monkeypatch.setattr(mod, "SLICE_WHEN_CODES", 99)  # no slices: what the whole picture alone gives
    assert "TRHU3074372" not in [r.code for r in reader.read(yard)]


def test_a_large_photo_where_no_code_was_found_is_read_again_in_slices(reader, monkeypatch):
    """A 4K picture with the box in one part of it (a phone photo of a yard): the second pass reads the whole at
    1280 px, where the vertical TRHU 307437 2 is too small; its slice, read like a photo of its own, finds it."""
    from edge.readers import container as mod

    photo = _train_photo("marsa_00008.jpg")
    big = np.full((2880, 3840, 3), 100, np.uint8)
    big[200:200 + photo.shape[0], 2400:2400 + min(photo.shape[1], 1280)] = photo[:, :1280]
    reads = reader.read(big)
    assert [r.code for r in reads] == ["TRHU3074372"]
    assert reads[0].box is not None and reads[0].box.x >= 2400  # mapped back from its slice
    monkeypatch.setattr(mod, "SLICE_LARGE", 99.0)  # no slices: what the whole photo gives
    assert reader.read(big) == []


def test_a_code_a_large_photo_gave_only_through_a_correction_must_be_read_again_in_its_slice(reader, monkeypatch):
    """marsa_00004's vertical BEAU 265693 1 in a 2560 px picture: at the second pass's 1280 px it reads as AAIU
    276691 with a digit "corrected" into a valid code (0.98), another container's identity. Read again in its
    slice (larger) it does not read so: the corrected code is dropped, a no-read instead of a wrong read."""
    from edge.readers import container as mod

    photo = _train_photo("marsa_00004.jpg")
    big = np.random.RandomState(2).randint(80, 120, (2560, 2560, 3)).astype(np.uint8)  # legacy stream: stable
    big[191:191 + photo.shape[0], 816:816 + photo.shape[1]] = photo
    assert reader.read(big) == []
    monkeypatch.setattr(mod, "SLICE_LARGE", 99.0)  # no slices: the whole picture's read stands
    assert [(r.code, r.corrected) for r in reader.read(big)] == [("AAIU2766910", True)]
