"""ADR orange panel reader: synthetic panels (DejaVu Sans Bold) on clutter, and the real eval photos."""

import csv
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from edge.readers.hazard import HazardPanelReader, find_panels, has_orange
from edge.readers.ocr.engine import OcrEngine

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "cargo"
ORANGE = (0, 110, 235)  # BGR, RAL 2003-ish

pytestmark = pytest.mark.skipif(not FONT.exists(), reason="DejaVu fonts not installed")


@pytest.fixture(scope="module")
def reader():
    return HazardPanelReader(OcrEngine(threads=1))


def render_panel(top: str, bottom: str, width: int) -> np.ndarray:
    """A 400×300 mm ADR panel scaled to `width` pixels: black border, divider, black digits."""
    w, h = width, int(width * 0.75)
    img = Image.new("RGB", (w, h), ORANGE[::-1])
    d = ImageDraw.Draw(img)
    b = max(2, h // 20)
    d.rectangle([0, 0, w - 1, h - 1], outline=(10, 10, 10), width=b)
    d.rectangle([0, h // 2 - b // 2, w, h // 2 + b // 2], fill=(10, 10, 10))
    font = ImageFont.truetype(str(FONT), int(h * 0.33))
    for text, cy in ((top, h // 4), (bottom, 3 * h // 4)):
        if text:
            d.text((w // 2, cy), text, fill=(10, 10, 10), font=font, anchor="mm")
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def clutter(rng: np.random.Generator, h: int = 720, w: int = 1280) -> np.ndarray:
    """Grey noise, coloured boxes of every hue but orange/red, and a yellow plate (hue ~24, not orange)."""
    grey = rng.integers(40, 170, (h // 8, w // 8), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    img = cv2.cvtColor(cv2.GaussianBlur(grey, (0, 0), 3), cv2.COLOR_GRAY2BGR)
    for _ in range(25):
        x, y = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 40))
        hsv = np.uint8([[[rng.integers(35, 170), rng.integers(0, 255), rng.integers(40, 255)]]])
        c = tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])
        cv2.rectangle(img, (x, y), (x + int(rng.integers(20, 200)), y + int(rng.integers(10, 120))), c, -1)
    cv2.rectangle(img, (900, 500), (1160, 555), (20, 200, 245), -1)  # yellow plate
    cv2.putText(img, "24C-123.45", (910, 545), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (20, 20, 20), 3)
    return img


def place(bg: np.ndarray, panel: np.ndarray, x: int, y: int, angle: float) -> np.ndarray:
    """Paste the panel rotated by `angle` degrees (with a dark mount around it) at (x, y)."""
    ph, pw = panel.shape[:2]
    pad = max(6, pw // 10)
    mount = cv2.copyMakeBorder(panel, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(35, 35, 35))
    m = cv2.getRotationMatrix2D((mount.shape[1] / 2, mount.shape[0] / 2), angle, 1.0)
    rot = cv2.warpAffine(mount, m, (mount.shape[1], mount.shape[0]), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    alpha = cv2.warpAffine(np.full(mount.shape[:2], 255, np.uint8), m, (mount.shape[1], mount.shape[0])) > 127
    out = bg.copy()
    region = out[y:y + rot.shape[0], x:x + rot.shape[1]]
    region[alpha] = rot[alpha]
    return out


CASES = [  # (hazard id, UN, panel width px, angle°)
    ("33", "1203", 200, 0.0),
    ("80", "1830", 140, 6.0),
    ("268", "1005", 110, -8.0),
    ("30", "1202", 90, 3.0),
    ("X423", "1428", 240, -4.0),
    ("50", "2067", 160, 12.0),
]


@pytest.mark.parametrize(("hazard_id", "un", "width", "angle"), CASES)
def test_reads_synthetic_panel_on_clutter(reader, hazard_id, un, width, angle):
    rng = np.random.default_rng(width)
    img = place(clutter(rng), render_panel(hazard_id, un, width), 300, 200, angle)
    reads = reader.read(img)
    assert len(reads) == 1, reads
    r = reads[0]
    assert (r.hazard_id, r.un_number) == (hazard_id, un)
    assert r.hazard_class == hazard_id.lstrip("X")[0]
    assert r.box is not None and 300 <= r.box.x + r.box.w / 2 <= 300 + width * 1.4
    assert 0.5 < r.confidence <= 1.0


def test_two_panels_in_one_frame(reader):
    img = clutter(np.random.default_rng(7))
    img = place(img, render_panel("33", "1203", 150), 100, 150, 0)
    img = place(img, render_panel("80", "1789", 150), 700, 150, 0)
    found = sorted((r.hazard_id, r.un_number) for r in reader.read(img))
    assert found == [("33", "1203"), ("80", "1789")]


def test_blank_panel_is_a_mark_without_numbers(reader):
    blank = np.full((120, 160, 3), ORANGE, np.uint8)
    cv2.rectangle(blank, (0, 0), (159, 119), (10, 10, 10), 6)
    img = place(clutter(np.random.default_rng(3)), blank, 400, 300, 0)
    reads = reader.read(img)
    assert len(reads) == 1 and reads[0].hazard_id is None and reads[0].un_number is None


def test_orange_things_that_are_not_panels_are_ignored(reader):
    img = clutter(np.random.default_rng(5))
    cv2.rectangle(img, (100, 600), (1200, 640), ORANGE, -1)  # a long orange stripe along a tank
    diamond = np.array([[500, 150], [600, 250], [500, 350], [400, 250]], np.int32)
    cv2.fillPoly(img, [diamond], ORANGE)  # a placard-like diamond at 45°
    cv2.putText(img, "3", (485, 270), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (10, 10, 10), 4)
    assert reader.read(img) == []


def test_no_orange_is_cheap(reader):
    img = clutter(np.random.default_rng(11))
    assert not has_orange(img)
    reader.read(img)  # warm
    times = []
    for _ in range(15):
        t = time.perf_counter()
        assert reader.read(img) == []
        times.append(time.perf_counter() - t)
    assert float(np.median(times)) < 0.005, f"median {np.median(times) * 1e3:.2f} ms"


def test_finding_is_cheap_without_ocr():
    img = place(clutter(np.random.default_rng(2)), render_panel("33", "1203", 200), 300, 200, 0)
    cands = find_panels(img)
    assert len(cands) == 1
    q = cands[0].quad
    assert abs(q[:, 0].min() - 300) < 40 and abs(q[:, 1].min() - 200) < 40


@pytest.mark.skipif(not (EVAL / "labels.csv").exists(), reason="shared eval photos not present")
def test_real_hazard_plate_photos(reader):
    """The three real ADR photos: what the reader reads is reported; all three read correctly here."""
    expected = {"cargo_001.jpg": ("30", "1202"), "cargo_002.jpg": ("239", "1010"), "cargo_003.jpg": ("80", "1789")}
    with (EVAL / "labels.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["file"] in expected]
    assert rows
    for row in rows:
        reads = reader.read(cv2.imread(str(EVAL / row["file"])))
        got = [(r.hazard_id, r.un_number) for r in reads]
        print(row["file"], got)
        assert expected[row["file"]] in got, (row["file"], got)


def test_vote_hazards_merges_frames_of_one_panel():
    from edge.decision.voting import vote_hazards
    from edge.domain.types import HazardRead

    reads = [HazardRead(hazard_id="33", un_number="1203", hazard_class="3", confidence=0.9)] * 4 + [
        HazardRead(hazard_id=None, un_number="1203", confidence=0.7),
        HazardRead(hazard_id="38", un_number="1203", hazard_class="3", confidence=0.6),
        HazardRead(hazard_id="33", un_number=None, hazard_class="3", confidence=0.8),
        HazardRead(confidence=0.5),  # a blank read on a numbered truck is ignored
    ]
    voted = vote_hazards(reads)
    assert [(v.hazard_id, v.un_number, v.hazard_class) for v in voted] == [("33", "1203", "3")]
    assert voted[0].confidence == 0.9
    assert vote_hazards([HazardRead(hazard_id="80", un_number="1830")], min_votes=2) == []
    blank = vote_hazards([HazardRead(confidence=0.6), HazardRead(confidence=0.7)])
    assert len(blank) == 1 and blank[0].un_number is None and blank[0].confidence == 0.7
