"""Plausibility before acceptance (issue 18): no false plates, codes or hazard panels.

Plates and stickers go through the real plate reader (rendered with the sample generator's plate renderer and
DejaVu), then through the pipeline's plausibility check; container codes through the ISO 6346 parser and the
passage vote; orange areas through the real ADR panel reader."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from cameras.frame import Frame
from data_samples.codes import random_vn_plate
from data_samples.render_plate import render_adr, render_plate
from edge.decision.voting import vote_containers, vote_plate
from edge.domain import iso6346
from edge.domain.plate_grammar import plate_like_text
from edge.domain.types import Box, ContainerRead, HazardRead, PlateRead
from edge.lane.plausibility import plate_plausible

REPO = Path(__file__).resolve().parents[1]

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


@pytest.fixture(scope="module")
def engine():
    from edge.readers.ocr.engine import OcrEngine

    return OcrEngine(threads=2)


@pytest.fixture(scope="module")
def plate_reader(engine):
    from edge.readers.plate import PlateReader

    return PlateReader(engine)


def scene(w: int = 800, h: int = 450) -> np.ndarray:
    rng = np.random.default_rng(3)
    img = np.full((h, w, 3), 110, np.uint8)
    img += rng.integers(0, 10, img.shape, dtype=np.uint8)
    return img


def paste(img: np.ndarray, part: np.ndarray, x: int, y: int) -> np.ndarray:
    """Paste `part` (BGR or BGRA) with its top-left at (x, y); whatever falls outside the image is cut off."""
    out = img.copy()
    ph, pw = part.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(out.shape[1], x + pw), min(out.shape[0], y + ph)
    sub = part[y0 - y:y1 - y, x0 - x:x1 - x]
    if sub.shape[2] == 4:
        a = sub[..., 3:4].astype(np.float32) / 255.0
        out[y0:y1, x0:x1] = (sub[..., :3] * a + out[y0:y1, x0:x1] * (1 - a)).astype(np.uint8)
    else:
        out[y0:y1, x0:x1] = sub
    return out


def read_plausible(reader, img: np.ndarray) -> list[PlateRead]:
    return [plate_plausible(r, img) for r in reader.read_all(img)]


# -- plates -----------------------------------------------------------------------------------------------------


def test_a_plate_cut_by_the_frame_edge_is_not_a_whole_plate(plate_reader) -> None:
    rng = np.random.default_rng(11)
    plate = random_vn_plate(rng, two_line=False)
    sprite = render_plate(plate, rng, px_per_m=500.0, dirt=0.05)
    whole = read_plausible(plate_reader, paste(scene(), sprite, 300, 200))
    assert [r.text for r in whole] == [plate.text]
    # the same plate slid off the right edge, a tenth of it cut: the reader finds a valid but shorter VN plate
    cut_img = paste(scene(), sprite, 800 - int(sprite.shape[1] * 0.9), 200)
    raw = plate_reader.read_all(cut_img)
    assert raw[0].text is not None and raw[0].text != plate.text and plate.text.startswith(raw[0].text)
    got = [plate_plausible(r, cut_img) for r in raw]
    assert [(r.text, r.reason) for r in got] == [(None, "cut_by_image_edge")]


def sticker(text: str, size: int = 40) -> np.ndarray:
    img = Image.fromarray(cv2.cvtColor(scene(), cv2.COLOR_BGR2RGB))
    d = ImageDraw.Draw(img)
    f = ImageFont.truetype(str(FONT), size)
    bb = d.textbbox((250, 200), text, font=f)
    d.rectangle([bb[0] - 12, bb[1] - 12, bb[2] + 12, bb[3] + 12], fill=(245, 245, 240))
    d.text((250, 200), text, font=f, fill=(20, 20, 20))
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


@pytest.mark.skipif(not FONT.exists(), reason="DejaVu fonts not installed")
@pytest.mark.parametrize("text", ["9'6\" HIGH", "29M9HIGH", "2.9m 9'6\" HIGH", "MAX GROSS 30480"])
def test_container_sticker_text_is_not_a_plate(plate_reader, text: str) -> None:
    img = sticker(text)
    raw = plate_reader.read_all(img)
    got = [plate_plausible(r, img) for r in raw]
    assert all(r.text is None for r in got), (text, [(r.text, r.raw) for r in raw])
    # and even a generic read that looked like a plate would need three agreeing frames to become the plate
    one = PlateRead(text="29M9H1GH", country="OTHER", format="other", confidence=0.98)
    assert vote_plate([one, one]) is None
    assert vote_plate([one, one, one]) is not None


def test_generic_text_rules_and_national_plates_first() -> None:
    img = scene()
    box = Box(x=200, y=200, w=200, h=50)
    gen = PlateRead(text="96HIGH", country="OTHER", format="other", confidence=0.99, box=box, raw="9'6\" HIGH")
    assert plate_plausible(gen, img).reason == "not_plate_text"
    word = gen.model_copy(update={"text": "29M9HIGH", "raw": "29M9HIGH"})
    assert plate_plausible(word, img).reason == "not_plate_text"  # a four-letter word
    lower = gen.model_copy(update={"text": "AB123CD", "raw": "ab123cd"})
    assert plate_plausible(lower, img).reason == "not_plate_text"
    eu = gen.model_copy(update={"text": "AB123CD", "raw": "AB 123 CD"})
    assert plate_plausible(eu, img) is eu  # a foreign plate can still be read ...
    vn = PlateRead(text="29C12345", country="VN", format="vn_truck", confidence=0.9, box=box)
    assert vote_plate([eu, eu, eu, vn, vn]).read.text == "29C12345"  # ... but VN/CN reads win unless far outvoted
    assert vote_plate([eu] * 6 + [vn]).read.text == "AB123CD"
    thin = vn.model_copy(update={"box": Box(x=10, y=10, w=400, h=20)})
    assert plate_plausible(thin, img).reason == "not_plate_shaped"


@pytest.mark.parametrize(("raw", "text", "plate"), [
    ("Camera 03", "CAMERA03", False),  # an overlay: lowercase letters and a word
    ("Cam 4 B12", "CAM4B12", False),  # lowercase a, m: an overlay, not a plate's glyphs
    ("9'6\" HIGH", "96HIGH", False),
    ("LANE 2 IN", "LANE2IN", False),
    ("AD 460 zj", "AD460ZJ", True),  # PP-OCR wrote a real Argentine plate's ZJ in lowercase
    ("M5-XSX", "M5XSX", True),  # a UK personal plate has one digit
    ("OPR 817", "OPR817", True),
    ("RKO99AN", "RK099AN", True),
])
def test_plate_like_text(raw: str, text: str, plate: bool) -> None:
    assert plate_like_text(raw, text) is plate


def overlay(img: np.ndarray, text: str) -> np.ndarray:
    """A camera's white, outlined caption in the top-left corner."""
    pil = Image.fromarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    ImageDraw.Draw(pil).text((12, 12), text, font=ImageFont.truetype(str(FONT), 24), fill=(255, 255, 255),
                             stroke_width=2, stroke_fill=(0, 0, 0))
    return cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR)


@pytest.mark.skipif(not FONT.exists(), reason="DejaVu fonts not installed")
def test_a_camera_overlay_is_not_a_plate(engine, plate_reader) -> None:
    from edge.readers.plate import PlateReader

    alone = overlay(scene(), "Camera 03")
    got = plate_reader.read_all(alone)
    assert [(r.text, r.reason) for r in got] == [(None, "not_plate_text")]
    unchecked = PlateReader(engine, plate_text=False).read_all(alone)
    assert [r.text for r in unchecked] == ["CAMERA03"]  # what the rule stops: the generic grammar takes it
    rng = np.random.default_rng(5)
    plate = random_vn_plate(rng, two_line=False)
    both = paste(alone, render_plate(plate, rng, px_per_m=500.0, dirt=0.05), 300, 220)
    assert [r.text for r in plate_reader.read_all(both)] == [plate.text]


def test_an_adr_panel_is_not_a_plate(plate_reader) -> None:
    rng = np.random.default_rng(5)
    panel = render_adr("33", "1203", rng, px_per_m=450.0)
    img = paste(scene(), panel, 420, 150)
    got = read_plausible(plate_reader, img)
    assert all(r.text is None for r in got), got
    orange = np.zeros((60, 120, 3), np.uint8)
    orange[:] = (0, 110, 235)
    box_img = paste(scene(), orange, 100, 100)
    fake = PlateRead(text="12D31203", country="VN", format="vn_two_line", confidence=0.9,
                     box=Box(x=100, y=100, w=120, h=60))
    assert plate_plausible(fake, box_img).reason == "hazard_panel"


def test_a_two_line_truck_or_trailer_plate_is_plate_shaped() -> None:
    """VN truck and trailer rear plates are two-line (33 x 16.5 cm) but read to the one-line grammars (vn_truck,
    vn_trailer): the reader's pairing of two lines, not the format, says which shape to expect (a real trailer plate,
    53R-502.01, was dropped as not plate-shaped on the queues of real photos)."""
    img = scene()
    box = Box(x=300, y=200, w=137, h=100)
    trailer = PlateRead(text="53R50201", country="VN", format="vn_trailer", confidence=0.99, box=box,
                        raw="53-R5 / 0201")
    assert plate_plausible(trailer, img).text == "53R50201"
    truck = trailer.model_copy(update={"text": "24C12345", "format": "vn_truck", "raw": "24C / 123.45"})
    assert plate_plausible(truck, img).text == "24C12345"
    one_line = truck.model_copy(update={"raw": "24C-123.45"})  # one line read in a square box: not a plate's
    assert plate_plausible(one_line, img).reason == "not_plate_shaped"


def test_a_yellow_truck_plate_that_looks_orange_is_still_a_plate() -> None:
    """Nearly every truck at the gate carries a yellow plate, and a faded one or one under sodium light measures
    as much ADR orange as a panel's number line (0.49 on a real CN truck plate, plate_cn_119). Only a panel-shaped
    box read as Latin text is taken for a panel; the gate drops only boxes as orange as a panel's body."""
    from edge.lane.plausibility import PANEL_BODY, hazard_panel, orange_fraction

    img = scene()
    img[100:145, 100:300] = (0, 110, 235)  # orange over 45 % of a 200 x 100 box: like a faded yellow plate
    box = Box(x=100, y=70, w=200, h=100)
    assert 0.4 < orange_fraction(img, box) < PANEL_BODY
    assert not hazard_panel(img, box)  # the gate reads it
    cn = PlateRead(text="浙A12903", country="CN", format="cn_ordinary", confidence=0.99, box=box)
    assert plate_plausible(cn, img).text == "浙A12903"  # a province glyph: never a panel's numbers
    wide = Box(x=100, y=100, w=200, h=45)  # one-line VN truck plate, all orange-looking
    vn = PlateRead(text="24C12345", country="VN", format="vn_truck", confidence=0.99, box=wide)
    assert plate_plausible(vn, img).text == "24C12345"
    square = Box(x=120, y=100, w=80, h=45)  # panel-shaped and Latin: the ADR panel's numbers read as a VN plate
    two_line = PlateRead(text="12D31203", country="VN", format="vn_two_line", confidence=0.9, box=square)
    assert plate_plausible(two_line, img).reason == "hazard_panel"


@pytest.mark.skipif(not (REPO.parent / "shared" / "eval" / "plate_cn" / "plate_cn_119.jpg").is_file(),
                    reason="needs ../shared/eval")
def test_a_real_faded_yellow_truck_plate_passes_the_gate_and_the_plausibility_check(plate_reader) -> None:
    from edge.lane.plausibility import hazard_panel

    img = cv2.imread(str(REPO.parent / "shared" / "eval" / "plate_cn" / "plate_cn_119.jpg"))
    reads = [plate_plausible(r, img) for r in plate_reader.read_all(img)]
    assert [r.text for r in reads] == ["浙A12903"]
    assert any(not hazard_panel(img, b) and b.iou(reads[0].box) > 0.3 for b in plate_reader.find_plates(img))


# -- container codes --------------------------------------------------------------------------------------------


def test_the_check_digit_may_choose_only_where_the_recogniser_was_unsure() -> None:
    # '0' in the owner code could be O, Q or D: when only the rarer D verifies, the 0 must have been uncertain
    good = "DOLU1234567"
    good = good[:10] + str(iso6346.check_digit(good[:10]))
    raw = "0OLU" + good[4:]
    sure = iso6346.parse_code(raw, [0.97] * 11)
    assert not sure.check_digit_ok  # a confident '0' made into a D only because D verifies: no read
    unsure = iso6346.parse_code(raw, [0.4] + [0.97] * 10)
    assert unsure.check_digit_ok and unsure.code == good and unsure.corrected


def code(c: str, corrected: bool = False, ok: bool = True) -> ContainerRead:
    return ContainerRead(code=c, check_digit_ok=ok, corrected=corrected, confidence=0.9)


def test_codes_the_check_digit_manufactured_are_dropped_at_the_vote() -> None:
    # the truck's code read on six frames, two misreads that happen to verify (issue 18's real case)
    reads = [code("WSAU4160620")] * 6 + [code("NGAU4160421", corrected=True), code("IGAU4160621")]
    assert [c.code for c in vote_containers(reads)] == ["WSAU4160620"]
    # a corrected misread seen on as many frames as it takes to be "a third": still outvoted when only corrected
    reads = [code("WSAU4160620")] * 3 + [code("WSAU4160628", corrected=True)] * 2
    assert [c.code for c in vote_containers(reads)] == ["WSAU4160620"]


def test_two_real_boxes_with_near_codes_are_both_kept() -> None:
    a, b = "MSKU1234565", "MSKU1234570"
    assert iso6346.validate(a) and iso6346.validate(b)
    reads = [code(a)] * 5 + [code(b)] * 4
    assert sorted(c.code for c in vote_containers(reads)) == [a, b]
    # a single uncorrected read with no confident neighbour is kept (MWCU0044299 is read on one frame only)
    assert [c.code for c in vote_containers([code("MWCU0044299")])] == ["MWCU0044299"]


# -- ADR panels -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hazard_reader(engine):
    from edge.readers.hazard import HazardPanelReader

    return HazardPanelReader(engine)


def orange_area(w: int, h: int, border: bool) -> np.ndarray:
    a = np.zeros((h, w, 3), np.uint8)
    a[:] = (0, 110, 235)
    if border:
        cv2.rectangle(a, (0, 0), (w - 1, h - 1), (10, 10, 10), max(3, h // 20))
    return a


def test_a_blank_orange_area_at_the_frame_edge_is_not_a_panel(hazard_reader) -> None:
    img = scene(1280, 720)
    # a bordered blank panel well inside the frame is a mark (packaged dangerous goods) ...
    inside = paste(img, orange_area(160, 120, border=True), 500, 300)
    assert len(hazard_reader.read(inside)) == 1
    # ... but the same orange at the frame edge may be anything (a tarpaulin, a door) cut by the frame
    for x, y in ((1280 - 150, 300), (-10, 300), (500, 720 - 110)):
        at_edge = paste(img, orange_area(160, 120, border=True), x, y)
        assert hazard_reader.read(at_edge) == [], (x, y)
    # and an orange area without the panel's black border is nothing, wherever it is
    assert hazard_reader.read(paste(img, orange_area(160, 120, border=False), 500, 300)) == []


def test_a_panel_needs_both_numbers(hazard_reader) -> None:
    rng = np.random.default_rng(9)
    img = scene(1280, 720)
    full = paste(img, render_adr("33", "1203", rng, px_per_m=500.0), 500, 250)
    assert [(r.hazard_id, r.un_number) for r in hazard_reader.read(full)] == [("33", "1203")]
    top_only = paste(img, render_adr("33", "", rng, px_per_m=500.0), 500, 250)
    assert hazard_reader.read(top_only) == []


def test_a_passage_needs_a_blank_panel_on_several_frames() -> None:
    from edge.decision.finalize import vote_draft
    from edge.lane.passage import PassageDraft

    t = datetime(2026, 1, 1, tzinfo=UTC)
    d = PassageDraft(lane="in1", started_at=t, ended_at=t)
    d.hazards = [HazardRead(confidence=0.8)] * 2
    assert vote_draft(d).hazards == []  # two frames of a blank orange area: not enough
    d.hazards = [HazardRead(confidence=0.8)] * 3
    assert len(vote_draft(d).hazards) == 1


def test_the_plate_gate_does_not_send_a_hazard_panel_to_the_plate_reader(plate_reader) -> None:
    """The cheap plate look finds a panel's two number lines plate-shaped (33 / 1203): they are not read as a plate
    on every frame the tanker is in view (each such read was a full read ending in a no-read)."""
    from edge.config import parse_config
    from edge.lane.pipeline import LaneProcessor
    from edge.lane.plausibility import hazard_panel
    from edge.readers.interfaces import Readers

    rng = np.random.default_rng(5)
    img = paste(scene(), render_adr("33", "1203", rng, px_per_m=450.0), 480, 60)
    img = paste(img, render_plate(random_vn_plate(rng, False), rng, px_per_m=420.0), 120, 260)
    found = plate_reader.find_plates(img)
    assert any(hazard_panel(img, b) for b in found) and any(not hazard_panel(img, b) for b in found)
    cfg = parse_config({"gate": {"id": "g"}, "lanes": [{"id": "in1", "direction": "import"}],
                        "cameras": [{"name": "p", "source": "x", "role": "plate", "lane": "in1"}]})
    proc = LaneProcessor("in1", cfg.cameras, Readers(plate=plate_reader), cfg.pipeline)
    frame = Frame(camera="p", role="plate", lane="in1", index=0, timestamp=datetime.now(UTC), pts_s=0.0, image=img)
    boxes = proc._plate_in_sight(cfg.cameras[0], frame, [])
    assert boxes and all(b.y >= 200 for b in boxes)  # only the plate's box, none of the panel's lines
