"""ISO 6346 container identification: check digit, candidate parsing, guided correction, size/type codes.

Pure functions, no OCR. The reader (`container.py`) feeds OCR text through `find_codes` and keeps only
what verifies. Policy, because a wrong identity at a gate is far worse than a no-read:

* A character that sits in the wrong *class* for its position (a digit among the owner letters, a letter
  among the serial digits) is mapped through a look-alike table (0->O, 1->I, 5->S, 8->B ...). That is
  position-guided correction and is reported as `corrected=True`.
* When the 11 characters fail the check digit, every single substitution drawn from the OCR confusion
  table is tried (including the check digit itself). Exactly one fitting substitution -> accept it
  (`corrected=True`); none or several -> refuse (no correction, `check_digit_ok=False`).
* A missing check digit is never computed from the other ten: a 10-character sighting is only completed
  when a second sighting of the same ten characters carries a verified check digit (`merge_sightings`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Letter values: A=10 upwards, skipping multiples of 11 (11, 22, 33).
LETTER_VALUES: dict[str, int] = {}
_v = 10
for _c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    if _v % 11 == 0:
        _v += 1
    LETTER_VALUES[_c] = _v
    _v += 1
del _v, _c

CATEGORIES = "UJZ"  # U freight container, J detachable equipment, Z trailer/chassis
CODE_RE = re.compile(r"[A-Z]{3}[UJZ]\d{7}")

# Look-alikes when a position demands a letter but OCR gave a digit, and vice versa. Several options
# mean the check digit picks (exactly one must verify); the first option is the usual one.
DIGIT_TO_LETTERS = {"0": "OQD", "1": "ILJT", "2": "Z", "4": "A", "5": "S", "6": "G", "7": "T", "8": "B"}
LETTER_TO_DIGITS = {
    "O": "0", "D": "0", "Q": "0", "U": "0", "C": "0",
    "I": "1", "L": "1", "J": "1", "T": "71", "Z": "27", "S": "5", "B": "83", "G": "6", "A": "4", "E": "3",
    "Y": "7",
}
# What the category letter is most often misread as.
TO_CATEGORY = {"V": "U", "O": "U", "0": "U", "W": "U", "H": "U", "I": "J", "1": "J", "2": "Z", "7": "Z"}

# Same-class confusions, tried only at the position the recogniser was least sure of (see `correct`).
_DIGIT_PAIRS = ["01", "07", "08", "06", "09", "13", "14", "17", "35", "38", "39", "56", "58", "68", "69", "89",
                "23", "27", "49", "04"]
_LETTER_PAIRS = ["OD", "OQ", "OC", "OG", "DQ", "CG", "EF", "EB", "BR", "BS", "BP", "PR", "IL", "IT", "IJ",
                 "MN", "MW", "NH", "UV", "UW", "VW", "KX", "XY", "KR", "HK", "SZ", "GQ", "FP", "AR"]


def _pairs(pairs: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a, b in pairs:
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return out


DIGIT_CONFUSIONS = _pairs(_DIGIT_PAIRS)
LETTER_CONFUSIONS = _pairs(_LETTER_PAIRS)

# Full-width and other compatibility forms are handled by NFKC; these are CJK glyphs a Chinese
# dictionary emits for a boxed character. A boxed glyph carries no digit, so it is dropped (a check
# digit read as a box counts as missing, never as "0").
_STRIP_GLYPHS = str.maketrans({c: None for c in "口回囗日目〇○□■"})

# A weak character: confidence below this makes its position eligible for a same-class substitution ...
LOW_CONF = 0.60
# ... and only when every other character is at least this confident (a single clear suspect).
SURE_CONF = 0.90


def char_value(c: str) -> int:
    if c.isdigit():
        return int(c)
    try:
        return LETTER_VALUES[c]
    except KeyError:
        raise ValueError(f"not an ISO 6346 character: {c!r}") from None


def check_digit(first10: str) -> int:
    """Check digit of owner code + category + 6-digit serial (remainder 10 is written 0)."""
    s = first10.upper()
    if not re.fullmatch(r"[A-Z]{3}[UJZ]\d{6}", s):
        raise ValueError(f"not an ISO 6346 owner+category+serial: {first10!r}")
    total = sum(char_value(c) << i for i, c in enumerate(s))
    return total % 11 % 10


def validate(code: str) -> bool:
    """True for a well-formed 11-character code whose check digit verifies."""
    s = code.upper()
    return bool(CODE_RE.fullmatch(s)) and check_digit(s[:10]) == int(s[10])


def normalize(text: str, confs: list[float] | None = None) -> tuple[str, list[float]]:
    """NFKC (full-width -> ASCII), drop boxed glyphs, uppercase, keep only A-Z0-9.

    Per-character confidences (if given, one per input character) follow their characters.
    """
    s, c, _ = tokenize(text, confs)
    return s, c


def tokenize(text: str, confs: list[float] | None = None) -> tuple[str, list[float], set[int]]:
    """`normalize`, plus the token boundaries: indices of the cleaned text where a token starts or ends
    (start, end, and wherever a separator, punctuation or dropped glyph stood)."""
    out: list[str] = []
    out_conf: list[float] = []
    bounds = {0}
    for i, ch in enumerate(text):
        conf = confs[i] if confs is not None and i < len(confs) else 1.0
        for c in unicodedata.normalize("NFKC", ch).translate(_STRIP_GLYPHS).upper():
            if "A" <= c <= "Z" or "0" <= c <= "9":
                out.append(c)
                out_conf.append(conf)
            else:
                bounds.add(len(out))
        if not unicodedata.normalize("NFKC", ch).translate(_STRIP_GLYPHS).strip():
            bounds.add(len(out))
    bounds.add(len(out))
    return "".join(out), out_conf, bounds


def clean(text: str) -> str:
    return normalize(text)[0]


@dataclass
class CodeCandidate:
    """A parsed container code. `code` has 11 characters, or 10 when the check digit is missing."""

    code: str
    check_digit_ok: bool
    corrected: bool = False
    raw: str = ""
    changes: list[tuple[int, str, str]] = field(default_factory=list)  # (position, from, to)
    confidence: float = 1.0  # lowest character confidence of the window

    @property
    def complete(self) -> bool:
        return len(self.code) == 11


def _position_options(i: int, c: str) -> str:
    """Characters of the class that position `i` demands that `c` may stand for ('' if none)."""
    if i < 3:
        return c if c.isalpha() else DIGIT_TO_LETTERS.get(c, "")
    if i == 3:
        return c if c in CATEGORIES else TO_CATEGORY.get(c, "")
    return c if c.isdigit() else LETTER_TO_DIGITS.get(c, "")


# Class coercions recognisers need all the time: the round glyphs (0 O D Q U), the strokes (1 I L J) and 2/Z.
ROUTINE_COERCIONS = frozenset("0ODQU1ILJ2Z")


def rare_pair(window: str, opts: list[str]) -> bool:
    """Two or more characters need a class coercion and one of them is not routine (6->G, 8->B, 5->S ...). Text
    that is not a code (a cab's fleet number over its weight, BV6068 / 40000 -> BVGU6840000) needs such
    coercions, and any 11 characters verify one time in ten; a real code needing two is read with routine ones
    (OOLU read 00LU)."""
    coerced = [c for c, o in zip(window, opts, strict=True) if o != c]
    return len(coerced) >= 2 and any(c not in ROUTINE_COERCIONS for c in coerced)


def rare_coercion(cand: CodeCandidate) -> bool:
    """The candidate needed a class coercion that is not routine (a G where a serial digit belongs; 0 for O is
    routine): one guess already, so the reader completes no check digit for it from the pixels."""
    return any(a not in ROUTINE_COERCIONS for _, a, _ in cand.changes)


def coerce_options(window: str) -> list[str] | None:
    """Per-position options mapping a window onto the ISO 6346 classes; None if a position cannot be mapped."""
    opts = []
    for i, c in enumerate(window):
        o = _position_options(i, c)
        if not o:
            return None
        opts.append(o)
    return opts


def _expand(opts: list[str]) -> list[str]:
    codes = [""]
    for o in opts:
        codes = [p + c for p in codes for c in o]
    return codes


def _changes(raw: str, code: str) -> list[tuple[int, str, str]]:
    return [(i, a, b) for i, (a, b) in enumerate(zip(raw, code, strict=True)) if a != b]


def single_substitutions(code: str, positions: list[int]) -> list[str]:
    """Codes one same-class look-alike substitution away from `code`, at `positions`, that verify."""
    fixes = []
    for i in positions:
        c = code[i]
        if i < 3:
            alts = LETTER_CONFUSIONS.get(c, set())
        elif i == 3:
            alts = set(CATEGORIES) - {c}
        else:
            alts = DIGIT_CONFUSIONS.get(c, set())
        for a in sorted(alts):
            cand = code[:i] + a + code[i + 1:]
            if validate(cand):
                fixes.append(cand)
    return fixes


def _chosen_where_sure(raw: str, opts: list[str], code: str, confs: list[float] | None) -> bool:
    """The check digit picked a rarer look-alike (not the usual reading of a misplaced character) at a
    character the recogniser was sure of. Any misread verifies by chance one time in ten or so (issue 18:
    NGAU4160421 for WSAU4160620), so the check digit may only choose where the character really was uncertain.
    Without confidences this cannot be told and the choice stands."""
    if confs is None or len(confs) != len(raw):
        return False
    return any(o != c and code[i] != o[0] and confs[i] >= LOW_CONF
               for i, (c, o) in enumerate(zip(raw, opts, strict=True)))


def correct(raw: str, confs: list[float] | None = None, max_coercions: int = 2) -> CodeCandidate | None:
    """Turn an 11-character window into a verified code if one guided correction makes it verify.

    1. Class coercion: characters in the wrong class for their position are mapped through the look-alike
       tables; where a look-alike has several readings (0 -> O/Q/D) the check digit must pick exactly one.
       Where the check digit has to pick a rarer reading (0 -> Q, not O), that character must have been
       uncertain (confidence below LOW_CONF) when confidences are known.
    2. Otherwise, with per-character confidences, one same-class look-alike substitution (3<->8, O<->D ...)
       at the single least-confident position, if that confidence is below LOW_CONF and all the others are
       at least SURE_CONF; the substitution must be unique.
    Returns an unverified candidate (check_digit_ok=False) when nothing or more than one reading fits,
    and None when the window cannot be a code at all.
    """
    opts = coerce_options(raw)
    if opts is None or rare_pair(raw, opts):
        return None
    n_coerced = sum(1 for c, o in zip(raw, opts, strict=True) if o != c)
    if n_coerced > max_coercions:
        return None
    conf = min(confs) if confs else 1.0
    default = "".join(o[0] for o in opts)
    if n_coerced and validate(default):
        # The primary look-alike of each misplaced character (0 -> O, 5 -> S ...) is by far the most likely
        # reading; when it verifies, rarer readings that happen to verify too (00LU -> DOLU or QDLU) do not make
        # it ambiguous. A stroke (1 I L J T) has no such primary: the recogniser reads any of them as 1, and
        # where another of them verifies too the check digit cannot tell them apart (check digit 0 stands for
        # remainders 0 and 10, J and T are equal mod 11): 1GHU2703360 is IGHU, JGHU or TGHU as far as the digit
        # knows, and TGHU was painted.
        if _another_stroke_verifies(raw, default, opts):
            return CodeCandidate(default, False, corrected=False, raw=raw, changes=_changes(raw, default),
                                 confidence=conf)
        ch = _changes(raw, default)
        return CodeCandidate(default, True, corrected=True, raw=raw, changes=ch, confidence=conf)
    readings = _expand(opts)
    verified = [r for r in readings if validate(r)]
    if len(verified) == 1 and not _chosen_where_sure(raw, opts, verified[0], confs):
        code = verified[0]
        ch = _changes(raw, code)
        return CodeCandidate(code, True, corrected=bool(ch), raw=raw, changes=ch, confidence=conf)
    if not verified and confs is not None and len(confs) == len(raw) and n_coerced == 0:
        order = sorted(range(len(raw)), key=lambda i: confs[i])
        weakest = order[0]
        # one clear suspect: weak itself, every other character confident
        if confs[weakest] < LOW_CONF and confs[order[1]] >= SURE_CONF:
            fixes = single_substitutions(default, [weakest])
            if len(fixes) == 1:
                ch = _changes(raw, fixes[0])
                return CodeCandidate(fixes[0], True, corrected=True, raw=raw, changes=ch, confidence=conf)
    return CodeCandidate(default, False, corrected=False, raw=raw, changes=_changes(raw, default), confidence=conf)


STROKES = frozenset("1ILJT")  # glyphs a recogniser confuses with no dominant reading among them


def _another_stroke_verifies(raw: str, default: str, opts: list[str]) -> bool:
    """Another look-alike of one coerced stroke character of `raw` (1 read where a letter belongs: I, L, J or T)
    verifies as well as `default` does."""
    return any(validate(default[:i] + alt + default[i + 1:])
               for i, (c, o) in enumerate(zip(raw, opts, strict=True))
               if c in STROKES and o != c for alt in o if alt != default[i])


def parse_window(window: str, confs: list[float] | None = None, max_coercions: int = 2) -> CodeCandidate | None:
    """Parse a cleaned 10- or 11-character window. A 10-character window (check digit missing) is
    returned unverified; its check digit is never computed."""
    if len(window) == 11:
        return correct(window, confs, max_coercions)
    if len(window) != 10:
        return None
    opts = coerce_options(window)
    if opts is None or rare_pair(window, opts):
        return None
    code = "".join(o[0] for o in opts)
    ch = _changes(window, code)
    if len(ch) > max_coercions:
        return None
    return CodeCandidate(code, False, corrected=bool(ch), raw=window, changes=ch,
                         confidence=min(confs) if confs else 1.0)


def parse_code(text: str, confs: list[float] | None = None, max_coercions: int = 2) -> CodeCandidate | None:
    """Parse a string that should hold exactly one code (10 or 11 characters after cleaning)."""
    s, c = normalize(text, confs)
    return parse_window(s, c if confs is not None else None, max_coercions)


def find_codes(text: str, confs: list[float] | None = None, max_coercions: int = 2,
               aligned: bool = True) -> list[CodeCandidate]:
    """All code candidates in free OCR text, best first: verified codes, then unverified 11-char ones,
    then 10-character ones (check digit missing).

    With `aligned`, a code must start and end on token boundaries (box edges, spaces, punctuation):
    a code painted on a door is its own group of characters, and sliding over arbitrary text (weights,
    phone numbers) would let one window in ten pass the check digit by chance.
    """
    found: dict[str, CodeCandidate] = {}
    _scan(text, confs, max_coercions, aligned, found)
    # a U is often split into two strokes: MRKII, MRKLI -> MRKU
    m = _SPLIT_U.search(text)
    if m:
        i = m.start(2)
        variant = text[:i] + "U" + text[i + 2:]
        vconfs = None if confs is None else [*confs[:i], min(confs[i:i + 2] or [1.0]), *confs[i + 2:]]
        extra: dict[str, CodeCandidate] = {}
        _scan(variant, vconfs, max_coercions - 1, aligned, extra)
        for k, cand in extra.items():
            cand.corrected = True
            cand.changes = [(3, m.group(2), "U"), *[ch for ch in cand.changes if ch[0] != 3]]
            found.setdefault(k, cand)
    return sorted(found.values(), key=lambda k: (not k.check_digit_ok, not k.complete, len(k.changes)))


_SPLIT_U = re.compile(r"(?<![A-Za-z0-9])([A-Z]{3})(II|IL|LI|LL|IJ|JI|IU|UI)(?=[\s\d])")


def _scan(text: str, confs: list[float] | None, max_coercions: int, aligned: bool,
          found: dict[str, CodeCandidate]) -> None:
    s, c, bounds = tokenize(text, confs)
    for n in (11, 10):
        for start in range(0, len(s) - n + 1):
            if aligned and (start not in bounds or start + n not in bounds):
                continue
            cand = parse_window(s[start:start + n], c[start:start + n] if confs is not None else None,
                                max_coercions)
            if cand is None:
                continue
            if n == 10 and any(k.startswith(cand.code) for k in found):
                continue
            old = found.get(cand.code)
            if old is None or (cand.check_digit_ok, -len(cand.changes)) > (old.check_digit_ok, -len(old.changes)):
                found[cand.code] = cand


def merge_sightings(cands: list[CodeCandidate]) -> list[CodeCandidate]:
    """Deduplicate sightings; a 10-character or unverified sighting is dropped when a verified sighting
    shares its first ten characters (that is how a dropped check digit is recovered: never computed)."""
    out: list[CodeCandidate] = []
    seen: set[str] = set()
    for c in sorted(cands, key=lambda k: (not k.check_digit_ok, not k.complete, len(k.changes))):
        if c.code[:10] in seen:
            continue
        seen.add(c.code[:10])
        out.append(c)
    return out


# --- size/type code -------------------------------------------------------------------------------------

_LENGTH = {"1": "10 ft", "2": "20 ft", "3": "30 ft", "4": "40 ft", "B": "24 ft", "C": "24 ft 6 in",
           "G": "41 ft", "H": "43 ft", "L": "45 ft", "M": "48 ft", "N": "49 ft"}
_HEIGHT = {"0": "8'", "1": "8'", "2": "8'6\"", "3": "8'6\"", "4": "9'", "5": "9'6\"", "6": "> 9'6\"",
           "8": "4'3\"", "9": "<= 4'", "C": "8'6\" (2.5 m wide)", "D": "9' (2.5 m wide)",
           "E": "9'6\" (2.5 m wide)", "F": "> 9'6\" (2.5 m wide)", "L": "8'6\" (wide)", "M": "9' (wide)",
           "N": "9'6\" (wide)", "P": "> 9'6\" (wide)"}
_TYPE_GROUP = {"G": "general purpose", "V": "ventilated", "B": "dry bulk", "S": "named cargo",
               "R": "refrigerated", "H": "insulated", "U": "open top", "P": "platform", "T": "tank",
               "A": "air/surface"}
_TYPE_DETAIL = {"G0": "general purpose, openings at end(s)", "G1": "general purpose",
                "G2": "general purpose, side openings", "G3": "general purpose, partial side openings",
                "R0": "refrigerated", "R1": "refrigerated and heated", "R2": "refrigerated, self-powered",
                "U0": "open top", "U1": "open top", "P0": "platform", "P1": "flat rack, fixed ends",
                "P3": "flat rack, folding ends", "T0": "tank, non-dangerous", "T1": "tank, non-dangerous",
                "T6": "tank, dangerous liquids"}
# Pre-1995 numeric type codes (e.g. 2210, 4510): tens digit of the last two characters.
_OLD_TYPE = {"0": "general purpose", "1": "general purpose", "2": "insulated", "3": "refrigerated",
             "4": "refrigerated", "5": "open top", "6": "platform", "7": "tank", "8": "dry bulk",
             "9": "air/surface"}
SIZE_TYPE_RE = re.compile(r"[1234BCGHLMN][0-689C-FLMNP](?:[GVBSRHUPTA]\d|\d\d)")


@dataclass(frozen=True)
class SizeType:
    code: str
    length: str
    height: str
    kind: str

    @property
    def text(self) -> str:
        return f"{self.length}, {self.height}, {self.kind}"


def decode_size_type(code: str) -> SizeType | None:
    """Decode `22G1` -> 20 ft, 8'6", general purpose; also the older numeric `2210`/`4510` form."""
    s = clean(code)
    if not SIZE_TYPE_RE.fullmatch(s):
        return None
    length, height, t = _LENGTH[s[0]], _HEIGHT[s[1]], s[2:]
    kind = _TYPE_DETAIL.get(t, _TYPE_GROUP[t[0]]) if t[0].isalpha() else _OLD_TYPE[t[0]]
    return SizeType(s, length, height, kind)


def find_size_type(text: str) -> SizeType | None:
    """Find a size/type code in OCR text. The type letter is what OCR gets wrong most (45G1 read as
    4561 or 45C1), so a 6/C/O/0 there followed by 0/1 is read as G before the old numeric form."""
    s = clean(text)
    for start in range(0, len(s) - 3):
        w = s[start:start + 4]
        if w[2] in "6CO0" and w[3] in "01" and w[2:] != "00":
            st = decode_size_type(w[:2] + "G" + w[3])
            if st:
                return st
        st = decode_size_type(w)
        if st:
            return st
    return None
