"""Keywords printed on cargo -> commodity evidence (pure matching, and one OCR round trip)."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from edge.readers.cargo_text import CargoTextReader, find_keywords


def found(lines, confs=None):
    return {(e.keyword, e.commodity) for e in find_keywords(lines, confs)}


@pytest.mark.parametrize(("line", "keyword", "commodity"), [
    ("PHÂN BÓN NPK 16-16-8+TE", "NPK", "fertilizer"),
    ("PHÂN BÓN NPK 16-16-8+TE", "PHÂN BÓN", "fertilizer"),
    ("phan bon", "PHÂN BÓN", "fertilizer"),  # OCR without diacritics
    ("PHANBON", "PHÂN BÓN", "fertilizer"),  # OCR ran the words together
    ("Urea 46%N", "UREA", "fertilizer"),
    ("NPK16-16-8", "NPK", "fertilizer"),  # digits right after the keyword
    ("DAP 18-46-0", "DAP", "fertilizer"),
    ("中国化肥 尿素", "化肥", "fertilizer"),
    ("中国化肥 尿素", "尿素", "fertilizer"),
    ("复合肥料", "复合肥", "fertilizer"),
    ("METALLURGICAL COKE", "COKE", "coke_coal"),
    ("THAN CỐC", "THAN CỐC", "coke_coal"),
    ("冶金焦炭", "焦炭", "coke_coal"),
    ("Sulphuric Acid 98%", "ACID", "chemicals"),
    ("AXIT SUNFURIC", "AXIT", "chemicals"),
    ("工业硫酸", "硫酸", "chemicals"),
    ("UN 1830", "UN1830", "chemicals"),
    ("LINH KIỆN ĐIỆN TỬ", "LINH KIỆN ĐIỆN TỬ", "electronics"),
    ("电子元器件", "电子", "electronics"),
    ("IC CHIPS 500PCS", "IC", "electronics"),
    ("FRAGILE", "FRAGILE", "electronics"),
    ("THANH LONG BÌNH THUẬN", "THANH LONG", "agricultural"),
    ("Fresh Dragon Fruit", "DRAGON FRUIT", "agricultural"),
    ("越南火龙果", "火龙果", "agricultural"),
    ("SẦU RIÊNG", "SẦU RIÊNG", "agricultural"),
    ("GẠO ST25", "GẠO", "agricultural"),
    ("SẮN LÁT KHÔ", "SẮN", "agricultural"),
])
def test_keyword_found(line, keyword, commodity):
    assert (keyword, commodity) in found([line])


@pytest.mark.parametrize("line", [
    "SAMSUNG",  # SA inside a word
    "SA PA - LÀO CAI",  # the town, not ammonium sulphate
    "SẢN PHẨM CỦA VIỆT NAM",  # SẢN (product) is not SẮN (cassava)
    "ICE CREAM",  # IC inside a word
    "PRICE LIST",  # RICE inside a word
    "UN 18305",  # five digits: not a UN number
    "HAPPY TRUCKING CO",  # nothing
])
def test_no_false_keyword(line):
    assert find_keywords([line]) == []


def test_each_keyword_once_with_best_confidence():
    ev = find_keywords(["UREA", "urea 46%", "PHÂN URÊ"], [0.6, 0.9, 0.8])
    urea = [e for e in ev if e.keyword == "UREA"]
    assert len(urea) == 1 and urea[0].confidence == pytest.approx(0.9)
    assert {e.keyword for e in ev} == {"UREA", "URÊ"}


def test_weak_marks_count_less():
    ev = {e.keyword: e.confidence for e in find_keywords(["FRAGILE", "ELECTRONICS"])}
    assert ev["FRAGILE"] < ev["ELECTRONICS"]


FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


@pytest.mark.skipif(not FONT.exists(), reason="DejaVu fonts not installed")
def test_reader_finds_keywords_on_a_sack():
    from edge.readers.ocr.engine import OcrEngine

    img = Image.new("RGB", (640, 360), (235, 235, 225))
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(FONT), 56)
    d.text((60, 60), "PHAN BON", fill=(20, 90, 30), font=font)
    d.text((60, 180), "UREA 46%", fill=(20, 90, 30), font=font)
    bgr = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)
    ev = CargoTextReader(OcrEngine(threads=1)).read(bgr)
    kws = {e.keyword for e in ev}
    assert {"UREA", "PHÂN BÓN"} <= kws
    assert all(e.commodity == "fertilizer" and 0.5 <= e.confidence <= 1 for e in ev)
