"""Random but *valid* identifiers for the synthetic footage: VN/CN truck plates, ISO 6346 codes, ADR pairs.

The regexes are copied from ../shared/domain.md so that the generator and its tests do not depend on
the readers under test (a bug there must not be able to hide a bug here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

CN_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
VN_TRUCK_RE = re.compile(r"^[1-9]\d[A-HK-NPS-VXYZ]{1,2}\d{4,5}$")
CN_ORDINARY_RE = re.compile(rf"^[{CN_PROVINCES}][A-HJ-NP-Z][A-HJ-NP-Z0-9]{{4}}[A-HJ-NP-Z0-9挂学警港澳]$")
ISO6346_RE = re.compile(r"^[A-Z]{3}[UJZ]\d{7}$")
SIZE_TYPE_RE = re.compile(r"^[24L][25][GRUPT]1$")
ADR_HAZARD_RE = re.compile(r"^X?[2-9]\d{1,2}$")
ADR_UN_RE = re.compile(r"^\d{4}$")

# Border provinces dominate (domain.md §1); a few from further away keep the readers honest.
VN_PROVINCES = ["24"] * 5 + ["12"] * 4 + ["14"] * 2 + ["11", "23", "29", "15", "89"]
VN_TRUCK_SERIES = ["C"] * 6 + ["H", "LD", "D"]
# 云G Honghe (Hekou), 云A Kunming; 桂F Chongzuo (Pingxiang/Youyiguan), 桂P Fangchenggang, 桂A Nanning.
CN_PREFIXES = ["云G"] * 3 + ["云A", "云H"] + ["桂F"] * 2 + ["桂P", "桂A", "粤B", "川A"]
CN_SERIAL_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
OWNER_CODES = ["MSKU", "CSQU", "TGHU", "CSNU", "OOLU", "TCLU", "SEGU", "CAIU", "FCIU", "GESU", "TRHU",
               "BMOU", "TEMU", "HLXU", "EGHU", "CMAU", "DFSU", "BEAU", "MWCU", "CBHU", "TLLU", "SITU"]
SIZE_TYPE_TEXT = {
    "22G1": "20 ft, 8'6\", general purpose", "22U1": "20 ft, 8'6\", open top", "22R1": "20 ft, 8'6\", reefer",
    "42G1": "40 ft, 8'6\", general purpose", "45G1": "40 ft, 9'6\", general purpose",
    "45R1": "40 ft, 9'6\", reefer", "L5G1": "45 ft, 9'6\", general purpose",
}
ADR_PAIRS = [("33", "1203"), ("30", "1202"), ("80", "1830"), ("268", "1005"), ("50", "2067"), ("336", "1230")]

# Deliberately independent of edge/domain/iso6346.py: the ground truth must not share a bug with the
# reader it is used to test.
_LETTER_VALUES: dict[str, int] = {}
_v = 10
for _c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    if _v % 11 == 0:
        _v += 1
    _LETTER_VALUES[_c] = _v
    _v += 1


def iso6346_check_digit(first10: str) -> int:
    """ISO 6346 check digit of owner code + category + serial; remainder 10 counts as 0."""
    if len(first10) != 10:
        raise ValueError(f"need 10 characters, got {first10!r}")
    total = 0
    for i, ch in enumerate(first10.upper()):
        val = _LETTER_VALUES[ch] if ch.isalpha() else int(ch)
        total += val << i
    return total % 11 % 10


def iso6346_valid(code: str) -> bool:
    return bool(ISO6346_RE.match(code)) and iso6346_check_digit(code[:10]) == int(code[10])


@dataclass(frozen=True)
class Plate:
    text: str  # normalised: uppercase, no separators, two-line = top + bottom
    display: str
    country: str  # "VN" | "CN"
    format: str  # regex family, as edge/domain/plate_grammar.py names it: vn_truck, cn_ordinary
    lines: int  # 1 or 2
    top: str  # what is printed on each line (one-line plates: everything in `top`)
    bottom: str


def vn_display(text: str) -> str:
    m = re.match(r"^(\d{2}[A-Z]{1,2})(\d{4,5})$", text)
    if not m:
        return text
    head, num = m.groups()
    return f"{head}-{num[:3]}.{num[3:]}" if len(num) == 5 else f"{head}-{num}"


def random_vn_plate(rng: np.random.Generator, two_line: bool) -> Plate:
    prov = str(rng.choice(VN_PROVINCES))
    series = str(rng.choice(VN_TRUCK_SERIES))
    ndig = 5 if rng.random() < 0.85 else 4
    num = "".join(str(d) for d in rng.integers(0, 10, ndig))
    if num[0] == "0" and ndig == 4:
        num = "1" + num[1:]
    text = prov + series + num
    disp = vn_display(text)
    if two_line:
        bottom = disp.split("-", 1)[1]
        return Plate(text, disp, "VN", "vn_truck", 2, prov + series, bottom)
    return Plate(text, disp, "VN", "vn_truck", 1, disp, "")


def random_cn_plate(rng: np.random.Generator, two_line: bool) -> Plate:
    prefix = str(rng.choice(CN_PREFIXES))
    # Truck serials are mostly digits, sometimes one letter (I and O are never used).
    chars = [str(d) for d in rng.integers(0, 10, 5)]
    if rng.random() < 0.4:
        chars[int(rng.integers(0, 5))] = str(rng.choice(list(CN_SERIAL_LETTERS)))
    serial = "".join(chars)
    text = prefix + serial
    disp = f"{prefix}·{serial}"
    if two_line:
        return Plate(text, disp, "CN", "cn_ordinary", 2, f"{prefix[0]} {prefix[1]}", serial)
    return Plate(text, disp, "CN", "cn_ordinary", 1, f"{prefix}·{serial}", "")


def random_container_code(rng: np.random.Generator, owner: str | None = None) -> str:
    owner = owner or str(rng.choice(OWNER_CODES))
    while True:
        serial = "".join(str(d) for d in rng.integers(0, 10, 6))
        # Owners avoid serials whose remainder is 10 (it would print as an ambiguous 0).
        total = sum((_LETTER_VALUES[c] if c.isalpha() else int(c)) << i for i, c in enumerate(owner + serial))
        if total % 11 != 10:
            return owner + serial + str(iso6346_check_digit(owner + serial))


def plate_text_valid(text: str, country: str) -> bool:
    if country == "VN":
        return bool(VN_TRUCK_RE.match(text))
    if country == "CN":
        return bool(CN_ORDINARY_RE.match(text))
    return False
