"""The commodity vocabulary of the smart lanes and its HS-code mapping (domain.md §1, §6).

Three vocabularies meet in the verdict and this module translates between them:
- commodities: what the gate permits per direction (config `policy.permitted`), e.g. `fertilizer`, `fruit`;
- HS codes: what a declaration line carries, e.g. `310210` (urea) -> `fertilizer`;
- cargo classes: what the camera classifier outputs, e.g. `coke_coal`, which cannot tell coke from coal,
  so it stands for every commodity it may be (`coke`, `coal`).

`fruit` is a narrower `agricultural`: a lane that permits `agricultural` permits fruit, a lane that permits
only `fruit` (Hữu Nghị exports) does not permit rice. `ecommerce` has no HS chapter: a declaration line
says so with its `ecommerce` flag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# name -> (English label, Vietnamese label)
COMMODITIES: dict[str, tuple[str, str]] = {
    "fertilizer": ("fertilizer", "phân bón"),
    "coke": ("coke", "than cốc"),
    "coal": ("coal", "than đá"),
    "chemicals": ("chemicals", "hóa chất"),
    "agricultural": ("agricultural products", "nông sản"),
    "fruit": ("fruit", "hoa quả"),
    "electronics": ("electronic components", "linh kiện điện tử"),
    "ecommerce": ("e-commerce goods", "hàng thương mại điện tử"),
}

# A narrower commodity -> the broader one it belongs to.
PARENT: dict[str, str] = {"fruit": "agricultural"}

# Chemicals are chapters 28, 29, 38; 30-36 and 39 "may apply" (domain.md §6): configurable.
CHEMICAL_CHAPTERS: tuple[int, ...] = (28, 29, 38)
# 31 is fertilizer whatever the config says (the more specific commodity wins).
OPTIONAL_CHEMICAL_CHAPTERS: tuple[int, ...] = (30, 32, 33, 34, 35, 36, 39)

# Classifier classes (item 2) -> the commodities the truck may then carry. None: the camera says nothing
# about the commodity (sealed, empty or unreadable cargo).
CARGO_CLASSES: dict[str, frozenset[str] | None] = {
    "fertilizer": frozenset({"fertilizer"}),
    "coke_coal": frozenset({"coke", "coal"}),
    "chemicals": frozenset({"chemicals"}),
    "agricultural": frozenset({"agricultural", "fruit"}),
    # The classifier sees cartons: electronic components and e-commerce parcels look alike.
    "electronics": frozenset({"electronics", "ecommerce"}),
    "closed": None,
    "empty": None,
    "unknown": None,
}

_HS_CLEAN = re.compile(r"[\s.\-]+")


def is_commodity(name: str) -> bool:
    return name in COMMODITIES


def label(name: str, lang: str = "en") -> str:
    en, vi = COMMODITIES.get(name, (name, name))
    return vi if lang == "vi" else en


def commodity_of_hs(code: str, extra_chemical_chapters: Iterable[int] = ()) -> str | None:
    """The most specific commodity of an HS code, or None when it is on no smart-lane list.

    Fertilizer (chapter 31) wins over an optional chemical chapter 31; coke is heading 2704 only
    (petroleum coke 2713 and pitch coke 2708 are not coke here); coal is heading 2701.
    """
    s = _HS_CLEAN.sub("", code or "")
    if len(s) < 2 or not s.isdigit():
        return None
    chapter = int(s[:2])
    heading = s[:4] if len(s) >= 4 else None
    if chapter == 31:
        return "fertilizer"
    if heading == "2704":
        return "coke"
    if heading == "2701":
        return "coal"
    if chapter == 8:
        return "fruit"
    if 6 <= chapter <= 14:
        return "agricultural"
    if chapter == 85:
        return "electronics"
    if chapter in CHEMICAL_CHAPTERS or chapter in set(extra_chemical_chapters):
        return "chemicals"
    return None


def commodities_of_class(cls: str) -> frozenset[str] | None:
    """Commodities a classifier class stands for; None for closed/empty/unknown (and unseen classes)."""
    return CARGO_CLASSES.get(cls)


def permits(permitted: Iterable[str], commodity: str | None) -> bool:
    """Is `commodity` on the list, itself or through its broader commodity (fruit via agricultural)?"""
    allowed = set(permitted)
    while commodity is not None:
        if commodity in allowed:
            return True
        commodity = PARENT.get(commodity)
    return False


def compatible(seen: Iterable[str], declared: str | None) -> bool:
    """Does a declared commodity fit what was seen (a set of possible commodities)?

    `seen` {agricultural, fruit} fits declared `fruit`; a seen `fruit` (keyword "DRAGON FRUIT") fits a
    declared `agricultural` line only through the parent relation, which is allowed both ways.
    """
    if declared is None:
        return False
    seen = set(seen)
    if declared in seen:
        return True
    return PARENT.get(declared) in seen or any(PARENT.get(s) == declared for s in seen)
