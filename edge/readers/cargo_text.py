"""Words printed on the cargo (sacks, cartons, drums) as evidence for a commodity: UREA -> fertilizer.

Matching is accent- and case-insensitive (OCR often drops Vietnamese diacritics) and whole-word for
Latin keywords, so "SA" (ammonium sulphate) does not fire inside "SAMSUNG". A few Vietnamese words
change meaning without their tone marks (SẮN cassava vs SẢN "product", as in SẢN PHẨM): those match
only with their marks. Chinese keywords match as substrings (no word spaces in Chinese).
`TextEvidence.commodity` is a cargo class name (fertilizer, coke_coal, chemicals, agricultural, electronics),
the classifier's vocabulary, so that the two compare directly.
Evidence only supports or contradicts the classifier (edge/decision/policy.py); it never clears a truck alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cameras.imageio import reader_image
from edge.domain.types import TextEvidence
from edge.readers.ocr.engine import OcrEngine

WEAK = 0.5  # generic marks (FRAGILE, THIS SIDE UP, SA): they hint, and confirm only weakly


@dataclass(frozen=True)
class _Kw:
    keyword: str  # canonical form reported, e.g. "PHÂN BÓN"
    commodity: str
    weight: float = 1.0
    exact_accents: bool = False  # match with diacritics kept (short Vietnamese words)
    not_followed_by: str = ""  # regex: "SA" but not "SA PA" (the town in Lào Cai)


def _kws(commodity: str, words: str, weight: float = 1.0, exact: bool = False, not_followed_by: str = "") -> list[_Kw]:
    return [_Kw(w.strip(), commodity, weight, exact, not_followed_by) for w in words.split("|") if w.strip()]


KEYWORDS: list[_Kw] = [
    *_kws("fertilizer", "UREA|URÊ|NPK|DAP|KALI|POTASH|FERTILIZER|FERTILISER|PHÂN BÓN|PHÂN ĐẠM|PHÂN LÂN|"
                        "化肥|尿素|复合肥|钾肥|磷肥|氮肥"),
    *_kws("fertilizer", "MAP", WEAK),
    *_kws("fertilizer", "SA", WEAK, not_followed_by=r"\s?PA\b"),
    *_kws("coke_coal", "COKE|COAL|THAN CỐC|THAN ĐÁ|焦炭|煤炭"),
    *_kws("chemicals", "ACID|ACIDS|AXIT|CHEMICAL|CHEMICALS|HÓA CHẤT|CORROSIVE|SODIUM|CAUSTIC|硫酸|盐酸|硝酸|"
                       "化学|化工|危险品"),
    *_kws("electronics", "ELECTRONIC|ELECTRONICS|LINH KIỆN ĐIỆN TỬ|LINH KIỆN|ĐIỆN TỬ|IC|PCB|PCBA|"
                         "SEMICONDUCTOR|电子|元器件|芯片|集成电路"),
    *_kws("electronics", "FRAGILE|THIS SIDE UP|HANDLE WITH CARE|ESD|易碎|小心轻放", WEAK),
    *_kws("agricultural", "THANH LONG|DRAGON FRUIT|PITAYA|火龙果|荔枝|LYCHEE|LITCHI|VẢI THIỀU|LONGAN|NHÃN|龙眼|"
                   "BANANA|CHUỐI|香蕉|XOÀI|MANGO|芒果|西瓜|WATERMELON|DƯA HẤU|DURIAN|SẦU RIÊNG|榴莲|FRUIT|水果"),
    *_kws("agricultural", "RICE|GẠO|大米|CASSAVA|TAPIOCA|木薯|KHOAI MÌ|NÔNG SẢN|农产品"),
    *_kws("agricultural", "SẮN", exact=True),
]

_UN_RE = re.compile(r"(?<![A-Z0-9])UN\s?(\d{4})(?!\d)")


def _fold(text: str, keep_accents: bool = False) -> str:
    """Uppercase, collapse spaces; strip diacritics (Đ -> D) unless `keep_accents`."""
    text = unicodedata.normalize("NFC", text).upper()
    if not keep_accents:
        text = text.replace("Đ", "D")
        text = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", text).strip()


def _is_cjk(s: str) -> bool:
    return any(ord(ch) > 0x2E7F for ch in s)


def _pattern(kw: _Kw) -> re.Pattern[str]:
    folded = _fold(kw.keyword, kw.exact_accents)
    if _is_cjk(folded):
        return re.compile(re.escape(folded))
    # Words may be run together by OCR ("PHANBON"); digits may follow ("NPK16-16-8", "UREA46").
    body = r"\s?".join(re.escape(w) for w in folded.split(" "))
    tail = f"(?!{kw.not_followed_by})" if kw.not_followed_by else ""
    return re.compile(rf"(?<![^\W\d_]){body}(?![^\W\d_]){tail}")


_COMPILED = [(kw, _pattern(kw)) for kw in KEYWORDS]


def find_keywords(lines: Sequence[str], confidences: Sequence[float] | None = None) -> list[TextEvidence]:
    """Keywords found in OCR'd lines, each once, with the best (line confidence × keyword weight).

    `confidences`: the OCR confidence of each line (default 1.0). UN numbers ("UN 1830") are reported
    as keyword "UN1830", commodity chemicals: the policy also treats them as dangerous-goods marks.
    """
    confs = list(confidences) if confidences is not None else [1.0] * len(lines)
    best: dict[str, TextEvidence] = {}

    def add(keyword: str, commodity: str, conf: float) -> None:
        if keyword not in best or best[keyword].confidence < conf:
            best[keyword] = TextEvidence(keyword=keyword, commodity=commodity, confidence=round(conf, 3))

    for line, conf in zip(lines, confs, strict=True):
        plain, accented = _fold(line), _fold(line, keep_accents=True)
        for kw, pat in _COMPILED:
            if pat.search(accented if kw.exact_accents else plain):
                add(kw.keyword, kw.commodity, conf * kw.weight)
        for m in _UN_RE.finditer(plain):
            add(f"UN{m.group(1)}", "chemicals", conf)
    return sorted(best.values(), key=lambda e: -e.confidence)


class CargoTextReader:
    """OCR a cargo view (top or side camera) and keep the keywords."""

    def __init__(self, engine: OcrEngine, max_side: int = 960, min_confidence: float = 0.5):
        self.engine = engine
        self.max_side = max_side
        self.min_confidence = min_confidence

    def read(self, image: np.ndarray) -> list[TextEvidence]:
        bgr = reader_image(image)  # empty, odd-shaped or non-8-bit input: no read, not an exception
        if bgr is None:
            return []
        image = bgr
        lines = [t for t in self.engine.read(image, max_side=self.max_side) if t.confidence >= self.min_confidence]
        return find_keywords([t.text for t in lines], [t.confidence for t in lines])
