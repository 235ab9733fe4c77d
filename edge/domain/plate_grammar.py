"""Licence-plate grammars (Vietnam, China, generic), normalisation, position-based fixes, display.

Each format is expanded into fixed-length *templates*: one set of allowed characters per
position. A recognised string is matched against every template of its length; a character
outside the position's set may be swapped for a look-alike from the other class (O→0, 8→B, …),
and each swap counts as one correction. Fixing by position is safe only where the position's
class is certain (digits vs letters), so mixed positions (CN serials, VN moto series) are fixed
only for I/O, which never occur there.

Rules from ../shared/domain.md (Circular 79/2024/TT-BCA for VN, GA 36-2018 for CN).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

CN_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

DIGITS = frozenset("0123456789")
NONZERO = frozenset("123456789")
LATIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
VN_SERIES = frozenset("ABCDEFGHKLMNPSTUVXYZ")  # no I, J, O, Q, W; R is trailers only
VN_SERIES_MOTO = VN_SERIES | {"Đ"}
VN_MOTO_SECOND = NONZERO | LATIN
CN_LETTER = LATIN - {"I", "O"}
CN_ALNUM = CN_LETTER | DIGITS
CN_LAST = CN_ALNUM | frozenset("挂学警港澳")
CN_NEV_LETTER = frozenset("DABCEFGHJK")
PROVINCE_SET = frozenset(CN_PROVINCES)
GENERIC = LATIN | DIGITS

# Look-alikes seen in PP-OCR output on plates. Used only where the position's class is certain.
TO_DIGIT = {"O": "0", "D": "0", "Q": "0", "U": "0", "I": "1", "L": "1", "J": "1", "T": "1",
            "Z": "2", "S": "5", "B": "8", "G": "6", "A": "4", "Y": "7", "E": "8"}
# Digit → letter only for shapes that really are ambiguous; 1→I and 0→O only where the grammar allows I/O
# (never on VN/CN plates). 1→T, 7→T turned dates into VN plates (2015/05/11 → 20T50511).
TO_LETTER = {"0": "OD", "8": "B", "5": "S", "2": "Z", "6": "G", "4": "A", "1": "I"}
# Inside CN serial positions I and O never occur: they can only be 1 and 0.
CN_FIX = {"I": "1", "O": "0", "Q": "0"}

SEPARATORS = re.compile(r"[\s\-\.·•・_:,'\"/\\]+")
# What a plate's text never holds: quote marks (a sticker's 9'6"), lowercase letters that only a lowercase glyph
# explains (an overlay's "Camera 03"; PP-OCR writes c o s u v w x z in either case on real plates, and even a stray
# j: "AD 460 zj"), a word of four letters (HIGH, LANE, GROSS)
_QUOTES = re.compile(r"[\"'`´‘’“”′″]")
_LOWERCASE_ONLY = re.compile(r"[abdefghijklmnpqrty]")
_WORD = re.compile(r"[A-Z]{4,}")


def normalise(text: str) -> str:
    """Uppercase, NFKC (full-width → ASCII), separators removed. `Đ` and CJK glyphs are kept.

    Superscripts and symbols are dropped *before* NFKC: a coat of arms read as "²" must not
    become a digit.
    """
    text = text.replace("|", "I")  # a vertical bar on a plate is a 1 or an I, never a separator
    text = "".join(c for c in text if unicodedata.category(c)[0] not in "PSZ" and unicodedata.category(c) != "No")
    text = unicodedata.normalize("NFKC", text).upper()
    return SEPARATORS.sub("", text)


def label_key(text: str) -> str:
    """Exact-match key used by the evaluation: uppercase, spaces, '-', '.', '·' removed, Đ folded to D.

    The labels of ../shared write the VN series letter Đ as D (their READMEs), and recognisers rarely have Đ
    in their alphabet: on an identity comparison the two are one letter."""
    return re.sub(r"[\s\-\.·]", "", text.upper()).replace("Đ", "D")


@dataclass(frozen=True)
class Format:
    name: str  # vn_truck, vn_moto, cn_ordinary, ...
    country: str  # VN, CN, OTHER
    templates: tuple[tuple[frozenset[str], ...], ...]
    groups: tuple[tuple[int, ...], ...]  # group lengths per template, for display
    strict: bool = True  # False for national/generic grammars of other countries
    tier: int = 0  # 0 VN/CN, 1 other countries' national grammars, 2 generic


def _expand(*parts: list[tuple[frozenset[str], ...]]) -> tuple[tuple[tuple[frozenset[str], ...], ...],
                                                                  tuple[tuple[int, ...], ...]]:
    """Cartesian product of part alternatives → templates and their group lengths."""
    templates, groups = [], []
    for combo in itertools.product(*parts):
        templates.append(tuple(s for part in combo for s in part))
        groups.append(tuple(len(part) for part in combo))
    return tuple(templates), tuple(groups)


def _rep(charset: frozenset[str], *counts: int) -> list[tuple[frozenset[str], ...]]:
    return [tuple([charset] * n) for n in counts]


def _lit(*words: str) -> list[tuple[frozenset[str], ...]]:
    """Literal series letters; a literal Đ (MĐ, TĐ) also takes D, which is how recognisers and labels write it."""
    return [tuple(frozenset({c, "D"}) if c == "Đ" else frozenset(c) for c in w) for w in words]


_PROV2 = [(NONZERO, DIGITS)]
# The two-digit locality codes issued on VN plates (Circular 79/2024/TT-BCA, appendix of codes: 11 Cao Bằng … 99 Bắc
# Ninh; 80 central agencies). 10, 13, 42, 44-46, 87, 91 and 96 are issued nowhere, so a read starting with one is a
# misread (on worse cameras: 30A61153 → 10A61153, 30F93591 → 13DF93591), never a plate.
VN_UNISSUED_CODES = frozenset({"10", "13", "42", "44", "45", "46", "87", "91", "96"})
_CODED = frozenset({"vn_truck", "vn_moto", "vn_trailer", "vn_special"})  # formats that start with the code


def _fmt(name: str, country: str, *parts, tier: int = 0) -> Format:
    templates, groups = _expand(*parts)
    return Format(name, country, templates, groups, tier == 0, tier)


VN_FORMATS: tuple[Format, ...] = (
    _fmt("vn_truck", "VN", _PROV2, _rep(VN_SERIES, 1, 2), _rep(DIGITS, 4, 5)),
    _fmt("vn_moto", "VN", _PROV2, [(VN_SERIES_MOTO, VN_MOTO_SECOND)], _rep(DIGITS, 4, 5)),
    _fmt("vn_trailer", "VN", _PROV2, _lit("R"), _rep(DIGITS, 4, 5)),
    _fmt("vn_foreign", "VN", _rep(DIGITS, 2, 5), _lit("NG", "QT", "NN", "CV"), _rep(DIGITS, 2, 3, 4, 5)),
    _fmt("vn_special", "VN", _rep(DIGITS, 2), _lit("LD", "DA", "KT", "MK", "MĐ", "TĐ", "HC"),
         _rep(DIGITS, 4, 5, 6)),
    _fmt("vn_temp", "VN", _lit("T"), _rep(DIGITS, 7)),
)
CN_FORMATS: tuple[Format, ...] = (
    _fmt("cn_trailer", "CN", [(PROVINCE_SET, CN_LETTER)], _rep(CN_ALNUM, 4), _lit("挂")),
    _fmt("cn_ordinary", "CN", [(PROVINCE_SET, CN_LETTER)], _rep(CN_ALNUM, 4), [(CN_LAST,)]),
    _fmt("cn_nev", "CN", [(PROVINCE_SET, CN_LETTER)],
         [(CN_NEV_LETTER, CN_ALNUM, DIGITS, DIGITS, DIGITS, DIGITS),
          (DIGITS, DIGITS, DIGITS, DIGITS, DIGITS, CN_NEV_LETTER)]),
)
# Other countries' common formats, so that letter/digit fixes work there too (O vs 0 in Slovak
# "BA302OZ", I vs 1 in "BA268IM"). Position classes only; country is reported as OTHER.
OTHER_FORMATS: tuple[Format, ...] = (
    _fmt("eu_aa999aa", "OTHER", _rep(LATIN, 2), _rep(DIGITS, 3), _rep(LATIN, 2), tier=1),  # SK, IT, FR
    _fmt("cz", "OTHER", [(DIGITS, LATIN, GENERIC)], _rep(DIGITS, 4), tier=1),
    _fmt("br", "OTHER", _rep(LATIN, 3), [(DIGITS, DIGITS, DIGITS, DIGITS), (DIGITS, LATIN, DIGITS, DIGITS)],
         tier=1),
    _fmt("es", "OTHER", _rep(DIGITS, 4), _rep(LATIN - set("AEIOQU"), 3), tier=1),
    _fmt("uk", "OTHER", _rep(LATIN, 2), _rep(DIGITS, 2), _rep(LATIN, 3), tier=1),
    # India (state, district, series of 1-3 letters, 4 digits): 9-10 characters, beyond the generic grammar
    _fmt("in", "OTHER", _rep(LATIN, 2), _rep(DIGITS, 1, 2), _rep(LATIN, 1, 2, 3), _rep(DIGITS, 4), tier=1),
)
GENERIC_FORMAT = _fmt("other", "OTHER", _rep(GENERIC, 5, 6, 7, 8), tier=2)
# Extra cost per tier: a VN/CN reading needing one fix still beats an exact generic one, while an
# exact foreign national reading beats a VN reading that needs two fixes (Czech 1B80338).
TIER_COST = (0.0, 0.3, 1.5)
DROP_FIRST_COST = 0.8  # the EU country band ("SK", flag) read as a leading character
# Emblems inside the character row that recognisers read as one extra round character: the two
# stacked inspection stickers of Czech plates after the 3rd character (1Z7 ⁸ 5233), the Slovak
# coat of arms after the district code (RK ⁰ 565AV). Position of the extra character per format.
STICKER_COST = 1.0  # above one letter/digit fix: "5lF88270" stays a VN plate
STICKER_CHARS = frozenset("80OB")
STICKER_SLOTS = {"cz": 3, "eu_aa999aa": 2}


@dataclass(frozen=True)
class GrammarMatch:
    text: str  # normalised, corrected
    format: str
    country: str
    corrections: float  # characters changed by position, weighted (see _match_template)
    groups: tuple[int, ...]
    strict: bool
    tier: int = 0
    dropped_first: bool = False
    dropped_sticker: bool = False  # a Czech inspection sticker read as a character was removed

    @property
    def cost(self) -> float:
        return (self.corrections + TIER_COST[self.tier] + (DROP_FIRST_COST if self.dropped_first else 0.0)
                + (STICKER_COST if self.dropped_sticker else 0.0))

    @property
    def display(self) -> str:
        return display(self.text, self.format, self.groups)


def _fix_char(c: str, allowed: frozenset[str], country: str) -> str | None:
    if country == "CN" and c in CN_FIX and CN_FIX[c] in allowed:
        return CN_FIX[c]
    for table in (TO_DIGIT, TO_LETTER):
        for alt in table.get(c, ""):
            if alt in allowed:
                return alt
    if c == "D" and "Đ" in allowed:
        return None  # plain D is valid wherever Đ is; never invent Đ
    return None


# Pairs that are the same glyph in many plate fonts: fixing them is cheap. Other fixes cost more,
# and more again when the recogniser was sure of the character it read.
CHEAP_PAIRS = {frozenset(p) for p in ("O0", "D0", "Q0", "I1")}


def _match_template(text: str, template: tuple[frozenset[str], ...], country: str,
                    conf: list[float] | None = None) -> tuple[str, float] | None:
    out, cost = [], 0.0
    for i, (c, allowed) in enumerate(zip(text, template, strict=True)):
        if c in allowed:
            out.append(c)
            continue
        alt = _fix_char(c, allowed, country)
        if alt is None:
            return None
        out.append(alt)
        if country in ("VN", "CN") or frozenset((c, alt)) in CHEAP_PAIRS:
            cost += 1.0
        else:
            cost += 1.0 + (1.0 if conf is not None and i < len(conf) and conf[i] >= 0.97 else 0.0)
    return "".join(out), cost


@cache
def _formats_by_len(names: tuple[str, ...]) -> dict[int, list[tuple[Format, int]]]:
    by_len: dict[int, list[tuple[Format, int]]] = {}
    for fmt in ALL_FORMATS:
        if fmt.name not in names:
            continue
        for k, t in enumerate(fmt.templates):
            by_len.setdefault(len(t), []).append((fmt, k))
    return by_len


# Among equally good matches the narrower grammar names the plate better (80NG63670 is foreign).
_SPECIFIC = {"vn_foreign": 0, "vn_special": 0, "vn_trailer": 0, "vn_temp": 0, "cn_trailer": 0, "cn_nev": 1,
             "vn_truck": 2, "vn_moto": 3, "cn_ordinary": 2}

ALL_FORMATS: tuple[Format, ...] = (*VN_FORMATS, *CN_FORMATS, *OTHER_FORMATS, GENERIC_FORMAT)
FORMAT_NAMES: tuple[str, ...] = tuple(f.name for f in ALL_FORMATS)


def match(text: str, formats: tuple[str, ...] = FORMAT_NAMES, max_corrections: int = 2,
          conf: list[float] | None = None) -> list[GrammarMatch]:
    """All grammar matches of `text` (normalised first), cheapest first (see `GrammarMatch.cost`).

    The generic grammar needs at least one letter and one digit, which keeps words and bare
    numbers out. Other countries' national grammars may also match with the first character
    dropped (the EU band read as "P", "B", "R"). `conf` (per normalised character) makes fixing a
    confidently read character dearer outside VN/CN.
    """
    norm = normalise(text)
    found: dict[tuple[str, str], GrammarMatch] = {}
    variants = [(norm, False, conf, False)]
    if len(norm) > 5:
        variants.append((norm[1:], True, conf[1:] if conf else None, False))
    for slot in sorted(set(STICKER_SLOTS.values())):
        if len(norm) == 8 and norm[slot] in STICKER_CHARS:
            variants.append((norm[:slot] + norm[slot + 1:], False,
                             conf[:slot] + conf[slot + 1:] if conf else None, slot))
    by_len = _formats_by_len(tuple(formats))
    for cand, dropped, cconf, sticker in variants:
        for fmt, k in by_len.get(len(cand), []):
            if (dropped and fmt.tier != 1) or (sticker is not False and STICKER_SLOTS.get(fmt.name) != sticker):
                continue
            m = _match_template(cand, fmt.templates[k], fmt.country, cconf)
            if m is None or m[1] > (0 if dropped or sticker is not False else max_corrections):
                continue
            fixed, subs = m
            if fmt.name in _CODED and fixed[:2] in VN_UNISSUED_CODES:
                continue
            if fmt.tier == 2 and (not any(c.isdigit() for c in fixed) or not any(c.isalpha() for c in fixed)):
                continue
            g = GrammarMatch(fixed, fmt.name, fmt.country, subs, fmt.groups[k], fmt.strict, fmt.tier, dropped,
                             sticker is not False)
            key = (fmt.name, fixed)
            if key not in found or found[key].cost > g.cost:
                found[key] = g
    return sorted(found.values(), key=lambda g: (g.cost, _SPECIFIC.get(g.format, 9)))


def plate_like_text(raw: str, text: str) -> bool:
    """Text that no national grammar vouches for still looks like a plate's: no quote marks and at most one
    lowercase-only letter in what the recogniser saw (`raw`), a digit and no run of four letters in the matched
    `text`. Measured on real plates (smartgate_tools.experiments.plate_reader_switch plate_text): lowercase
    letters, a single digit (M5 XSX) and a letter run before the recognisers' vote (OPR B17) occur on real
    plates, so the rule looks only at the chosen read and only at what overlays and signs have plenty of."""
    if _QUOTES.search(raw or "") or len(_LOWERCASE_ONLY.findall(raw or "")) >= 2:
        return False
    return any(c.isdigit() for c in text) and not _WORD.search(text)


def best_match(text: str, formats: tuple[str, ...] = FORMAT_NAMES, max_corrections: int = 2) -> GrammarMatch | None:
    """The single best match, or None when none or when two strict readings tie (ambiguous)."""
    ms = match(text, formats, max_corrections)
    if not ms:
        return None
    if len(ms) > 1 and ms[1].cost == ms[0].cost and ms[1].text != ms[0].text:
        return None
    return ms[0]


def display(text: str, fmt: str, groups: tuple[int, ...] = ()) -> str:
    """Human form: 30A-123.45, 30A-1234, 29-B1 123.45, 51R-141.39, 川A·Y116F."""
    def num(d: str) -> str:
        return f"{d[:3]}.{d[3:]}" if len(d) == 5 else d

    if fmt in ("vn_truck", "vn_two_line", "vn_trailer") and groups:
        head = sum(groups[:-1])
        return f"{text[:head]}-{num(text[head:])}"
    if fmt == "vn_moto":
        return f"{text[:2]}-{text[2:4]} {num(text[4:])}"
    if fmt.startswith("vn_") and groups:
        head = sum(groups[:-1])
        return f"{text[:head]}-{num(text[head:])}"
    if fmt.startswith("cn_"):
        return f"{text[:2]}·{text[2:]}"
    return text
