"""Match a passage's reads to one declaration: by plate, AI-IGV vehicle id or container code.

A wrong match is worse than none (the truck would be cleared against someone else's manifest; a
missing match only flags it for an officer), so the rules are strict:

1. Exact keys first: the read plate equals the declared plate, the vehicle id equals the declared one
   (case and separators ignored), or a read container code equals a declared one.
2. One wrong character is tolerated only where the reading itself says it may be wrong:
   * container: the read code FAILED its ISO 6346 check digit, or was `corrected` by the reader, and the
     declared code differs from it in exactly one position (a single wrong character almost always breaks
     the check digit, so a failed read one character from a verified declared code is strong evidence);
   * plate: the two plates have the same length and differ in exactly one position; the two characters
     there are a known OCR confusion (0/O/D, 1/I, 8/B, 5/S, 2/Z, 6/G); the declared plate is itself a
     valid VN/CN plate as written; and the read is weak: its confidence is below PLATE_TOLERANT_CONF or
     the plate grammar changed that very character (`raw` differs from `text` there).
   Vehicle ids are never matched approximately.
3. Candidates that fit are ranked by (any exact key, number of agreeing reads, received within the
   window). When the best two rank equally the result is NO match, with a note naming both: an
   ambiguous manifest is for an officer to resolve.

Declarations of the other direction, of another gate, or already matched to a passage are skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from edge.domain import plate_grammar
from edge.domain.declarations import Declaration, identity_key
from edge.domain.types import ContainerRead, Direction, PlateRead

log = logging.getLogger(__name__)

MatchKind = Literal["plate", "vehicle_id", "container"]
PLATE_CONFUSIONS: tuple[frozenset[str], ...] = tuple(frozenset(g) for g in ("0OD", "1I", "8B", "5S", "2Z", "6G"))
PLATE_TOLERANT_CONF = 0.90  # a plate read at or above this is trusted as read: no one-character tolerance
DEFAULT_WINDOW_H = 24.0
_STRICT_FORMATS = tuple(f.name for f in (*plate_grammar.VN_FORMATS, *plate_grammar.CN_FORMATS))
_KIND_ORDER: dict[str, int] = {"plate": 0, "vehicle_id": 1, "container": 2}


@dataclass(frozen=True)
class MatchResult:
    declaration: Declaration
    matched_by: MatchKind  # the strongest key that agreed
    exact: bool  # False when only a one-character-tolerant key agreed
    note: str  # what agreed, for the audit trail
    keys: tuple[str, ...] = ()  # every agreeing key, e.g. ("plate", "container:MSKU1234565~")


@dataclass(frozen=True)
class MatchOutcome:
    """`result` plus why: also set when there is no result (no candidate, ambiguous)."""

    result: MatchResult | None
    note: str
    ambiguous: tuple[str, ...] = ()  # ids of the declarations that tied


@dataclass
class _Fit:
    decl: Declaration
    fresh: bool
    exact: list[tuple[MatchKind, str]] = field(default_factory=list)
    tolerant: list[tuple[MatchKind, str]] = field(default_factory=list)

    @property
    def rank(self) -> tuple[int, int, int]:
        return (0 if self.exact else 1, -(len(self.exact) + len(self.tolerant)), 0 if self.fresh else 1)


def _confusable(a: str, b: str) -> bool:
    return any(a in g and b in g for g in PLATE_CONFUSIONS)


def plate_one_off(read: PlateRead, declared: str) -> str | None:
    """Why the read plate may be the declared one with one misread character, or None (see module doc)."""
    text = plate_grammar.normalise(read.text) if read.text else ""
    if not text or len(text) != len(declared):
        return None
    diff = [i for i, (a, b) in enumerate(zip(text, declared, strict=True)) if a != b]
    if len(diff) != 1:
        return None
    i = diff[0]
    if not _confusable(text[i], declared[i]):
        return None
    if not plate_grammar.match(declared, formats=_STRICT_FORMATS, max_corrections=0):
        return None
    raw = plate_grammar.normalise(read.raw) if read.raw else None
    fixed_here = raw is not None and len(raw) == len(text) and raw[i] != text[i]
    if read.confidence >= PLATE_TOLERANT_CONF and not fixed_here:
        return None
    why = "grammar changed it" if fixed_here else f"read confidence {read.confidence:.2f}"
    return f"plate {text} ~ declared {declared} ({text[i]}/{declared[i]} at position {i + 1}, {why})"


def container_one_off(read: ContainerRead, declared: str) -> str | None:
    """Why the read code may be the declared one with one misread character, or None."""
    if len(read.code) != len(declared) or (read.check_digit_ok and not read.corrected):
        return None
    diff = [i for i, (a, b) in enumerate(zip(read.code, declared, strict=True)) if a != b]
    if len(diff) != 1:
        return None
    why = "check digit failed" if not read.check_digit_ok else "reader corrected it"
    return f"container {read.code} ~ declared {declared} (position {diff[0] + 1}, {why})"


def _fit(decl: Declaration, plate: PlateRead | None, vkey: str | None, containers: list[ContainerRead],
         fresh: bool) -> _Fit:
    fit = _Fit(decl, fresh)
    if plate is not None and plate.text and decl.plate:
        if plate_grammar.normalise(plate.text) == decl.plate:
            fit.exact.append(("plate", f"plate {decl.plate}"))
        elif (why := plate_one_off(plate, decl.plate)) is not None:
            fit.tolerant.append(("plate", why))
    if vkey and decl.vehicle_key == vkey:
        fit.exact.append(("vehicle_id", f"vehicle id {decl.vehicle_id}"))
    for c in containers:
        if c.code in decl.containers:
            if c.check_digit_ok:
                fit.exact.append(("container", f"container {c.code}"))
            continue
        for code in decl.containers:
            if (why := container_one_off(c, code)) is not None:
                fit.tolerant.append(("container", why))
                break
    return fit


def explain_match(
    plate: PlateRead | None,
    vehicle_id: str | None,
    containers: list[ContainerRead],
    candidates: list[Declaration],
    direction: Direction,
    *,
    gate: str | None = None,
    now: datetime | None = None,
    window_h: float = DEFAULT_WINDOW_H,
) -> MatchOutcome:
    """The best-fitting declaration for a passage's reads, with the reason (see the module doc).

    `now` is the passage time (default: the clock); a declaration received at or after
    `now - window_h` hours is preferred over an older one that fits equally well.
    """
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    cutoff = now - timedelta(hours=window_h)
    vkey = identity_key(vehicle_id) if vehicle_id else None
    fits: list[_Fit] = []
    seen: set[str] = set()
    for d in candidates:
        if d.id in seen or d.direction != direction or d.matched_passage_id is not None:
            continue
        if gate is not None and d.gate is not None and d.gate != gate:
            continue
        seen.add(d.id)
        received = d.received_at
        if received is not None and received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        fit = _fit(d, plate, vkey, containers, fresh=received is None or received >= cutoff)
        if fit.exact or fit.tolerant:
            fits.append(fit)
    if not fits:
        what = [f"plate {plate.text}" if plate is not None and plate.text else "no plate"]
        if vkey:
            what.append(f"vehicle id {vehicle_id}")
        what += [f"container {c.code}" for c in containers]
        return MatchOutcome(None, f"no {direction} declaration fits ({', '.join(what)}; "
                                  f"{len(seen)} candidate(s) checked)")
    fits.sort(key=lambda f: f.rank)
    best = fits[0]
    ties = [f for f in fits if f.rank == best.rank]
    if len(ties) > 1:
        ids = tuple(f.decl.id for f in ties)
        return MatchOutcome(None, f"ambiguous: declarations {', '.join(ids)} fit equally "
                                  f"({'; '.join(k[1] for k in (best.exact or best.tolerant))}); not matched", ids)
    keys = best.exact or best.tolerant
    kind = min(keys, key=lambda k: _KIND_ORDER[k[0]])[0]
    notes = [k[1] for k in best.exact] + [k[1] for k in best.tolerant]
    if not best.fresh:
        notes.append(f"received more than {window_h:g} h before the passage")
    note = f"{best.decl.id}: " + "; ".join(notes)
    labels = tuple([k[0] for k in best.exact] + [f"{k[0]}~" for k in best.tolerant])
    return MatchOutcome(MatchResult(best.decl, kind, bool(best.exact), note, labels), note)


def match_declaration(
    plate: PlateRead | None,
    vehicle_id: str | None,
    containers: list[ContainerRead],
    candidates: list[Declaration],
    direction: Direction,
    *,
    gate: str | None = None,
    now: datetime | None = None,
    window_h: float = DEFAULT_WINDOW_H,
) -> MatchResult | None:
    """`explain_match(...).result`; the reason for no match is logged."""
    out = explain_match(plate, vehicle_id, containers, candidates, direction, gate=gate, now=now,
                        window_h=window_h)
    if out.result is None:
        log.info("declaration match: %s", out.note)
    return out.result
