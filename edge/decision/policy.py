"""The gate's decision for one passage: clear, or flag with every reason (docs/policy.md).

`clear` needs positive evidence for each thing the lane can check; anything missing or doubtful is a
flag, because a flag costs an inspector a look while a wrong clear lets a truck through unchecked.
A truck is cleared only when
- its identity was read (plate, or an autonomous vehicle's id);
- every container code was read with a verified ISO 6346 check digit (and is on the declaration);
- a declaration for the lane's direction was matched (unless the config waives it);
- the goods are on the lane's permitted list and what the cameras saw fits the declared HS codes;
- no dangerous-goods mark (orange panel, UN number) was seen that the declaration lacks.
Printed keywords (UREA, 焦炭, ...) support or contradict the classifier but never clear a truck alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from edge.decision.config import PolicyConfig
from edge.domain import commodities as cm
from edge.domain.declarations import identity_key
from edge.domain.reasons import reason
from edge.domain.types import (
    CargoRead,
    ContainerRead,
    Direction,
    HazardRead,
    Passage,
    PlateRead,
    Reason,
    TextEvidence,
    Verdict,
)

# -- inputs ----------------------------------------------------------------------------------------


class DeclarationLineLike(Protocol):
    """The fields of a declaration line the policy reads (edge/domain/declarations.py DeclarationLine)."""

    @property
    def hs_code(self) -> str: ...

    @property
    def dangerous_goods_un(self) -> str | None: ...

    @property
    def ecommerce(self) -> bool: ...


class DeclarationLike(Protocol):
    """The fields of a declaration the policy reads (edge/domain/declarations.py Declaration).

    No lines means the truck is declared empty. Optional, read when present: `vehicle_id` (AI-IGV),
    `channel` (green/yellow/red) and `released_at` (customs release time).
    """

    @property
    def direction(self) -> str: ...

    @property
    def lines(self) -> Sequence[DeclarationLineLike]: ...

    @property
    def containers(self) -> Sequence[str]: ...

    @property
    def plate(self) -> str | None: ...


@dataclass(frozen=True)
class LaneExpectations:
    """What the lane's cameras can check: no container camera, no container reasons."""

    containers: bool
    cargo: bool


@dataclass(frozen=True)
class PassageFacts:
    """What the cameras established about one passage (voted reads)."""

    direction: Direction
    expect: LaneExpectations
    plate: PlateRead | None = None
    vehicle_id: str | None = None
    containers: Sequence[ContainerRead] = ()
    cargo: CargoRead | None = None
    hazards: Sequence[HazardRead] = ()
    cargo_text: Sequence[TextEvidence] = ()
    at: datetime | None = None  # when the vehicle passed (customs release is compared with it); None: now

    @classmethod
    def from_passage(cls, p: Passage, expect: LaneExpectations) -> PassageFacts:
        return cls(direction=p.direction, expect=expect, plate=p.plate, vehicle_id=p.vehicle_id,
                   containers=p.containers, cargo=p.cargo, hazards=p.hazards, cargo_text=p.cargo_text,
                   at=p.started_at)


@dataclass(frozen=True)
class PolicyRules:
    """The `policy` config section in the form `decide` uses."""

    permitted_import: frozenset[str]
    permitted_export: frozenset[str]
    min_confidence: float = 0.5
    closed_cargo: Literal["declaration", "flag"] = "declaration"
    require_declaration: bool = True
    extra_chemical_chapters: tuple[int, ...] = field(default=())
    require_release: bool = False

    @classmethod
    def from_config(cls, cfg: PolicyConfig | None = None) -> PolicyRules:
        cfg = cfg or PolicyConfig()
        return cls(
            permitted_import=frozenset(cfg.permitted.for_direction("import")),
            permitted_export=frozenset(cfg.permitted.for_direction("export")),
            min_confidence=cfg.min_confidence,
            closed_cargo=cfg.closed_cargo,
            require_declaration=cfg.require_declaration,
            extra_chemical_chapters=tuple(cfg.extra_chemical_chapters),
            require_release=cfg.require_release,
        )

    def permitted(self, direction: str) -> frozenset[str]:
        return self.permitted_import if direction == "import" else self.permitted_export

    def commodity_of_line(self, line: DeclarationLineLike) -> str | None:
        if line.ecommerce:
            return "ecommerce"
        return cm.commodity_of_hs(line.hs_code, self.extra_chemical_chapters)


# -- decision --------------------------------------------------------------------------------------


def decide(facts: PassageFacts, declaration: DeclarationLike | None = None,
           rules: PolicyRules | None = None) -> Verdict:
    rules = rules or PolicyRules.from_config()
    reasons: list[Reason] = []
    reasons += _identity(facts, rules)
    reasons += _containers(facts, declaration)
    reasons += _declaration(facts, declaration, rules)
    reasons += _customs(facts, declaration, rules)
    reasons += _cargo(facts, declaration, rules)
    reasons += _dangerous_goods(facts, declaration)
    return Verdict(status="flag" if reasons else "clear", reasons=reasons)


def _identity(facts: PassageFacts, rules: PolicyRules) -> list[Reason]:
    plate = facts.plate
    if facts.vehicle_id:
        return []
    if plate is None or not plate.ok:
        return [reason("plate_unread", plate.reason if plate is not None else None)]
    if plate.confidence < rules.min_confidence:
        return [reason("low_confidence", (f"plate {plate.text}, {plate.confidence:.2f}",
                                          f"biển số {plate.text}, {plate.confidence:.2f}"))]
    return []


def _containers(facts: PassageFacts, declaration: DeclarationLike | None) -> list[Reason]:
    if not facts.expect.containers:
        return []
    out: list[Reason] = []
    read_ok = [c.code for c in facts.containers if c.check_digit_ok]
    declared = list(getattr(declaration, "containers", None) or [])
    missing = [d for d in declared if d not in read_ok]
    if not facts.containers:
        # Flatbeds, tippers and tankers carry no container: silence on the container camera is only
        # suspicious when containers were declared, or when undeclared cargo looks boxed in (closed).
        boxed = facts.cargo is not None and facts.cargo.cls == "closed"
        if missing or (declaration is None and boxed):
            out.append(reason("container_unread", ", ".join(missing) or None))
    elif missing and len(read_ok) < len(declared):
        out.append(reason("container_unread", ", ".join(missing)))
    for c in facts.containers:
        if not c.check_digit_ok:
            out.append(reason("container_check_digit_failed", c.code))
        elif declared and c.code not in declared:
            out.append(reason("container_not_declared", c.code))
    return out


def _declaration(facts: PassageFacts, declaration: DeclarationLike | None, rules: PolicyRules) -> list[Reason]:
    if declaration is None:
        return [reason("no_declaration")] if rules.require_declaration else []
    out: list[Reason] = []
    if declaration.direction != facts.direction:
        out.append(reason("direction_mismatch", (f"declared {declaration.direction}, lane {facts.direction}",
                                                 f"khai {_VI_DIR[declaration.direction]}, làn "
                                                 f"{_VI_DIR[facts.direction]}")))
    # Matched by a container (or tolerantly) while the plate says another truck: the identity is in doubt.
    declared_plate = declaration.plate
    plate = facts.plate
    if declared_plate and plate is not None and plate.ok and plate.text != declared_plate:
        out.append(reason("plate_mismatch_declaration", (f"read {plate.text}, declared {declared_plate}",
                                                         f"đọc {plate.text}, khai {declared_plate}")))
    out += _vehicle_vs_declaration(facts, declaration)
    return out


def _vehicle_vs_declaration(facts: PassageFacts, declaration: DeclarationLike) -> list[Reason]:
    """AI-IGV identity: an announced vehicle id must be the declared one. A vehicle id the declaration does
    not name (or a declared id no vehicle announced) is vouched for only by a read plate equal to the
    declared plate; a match by container code alone never vouches for the vehicle."""
    declared_id = getattr(declaration, "vehicle_id", None)
    seen_id = facts.vehicle_id
    if not declared_id and not seen_id:
        return []
    if declared_id and seen_id:
        if identity_key(declared_id) == identity_key(seen_id):
            return []
        return [reason("vehicle_mismatch_declaration", (f"vehicle id {seen_id}, declared {declared_id}",
                                                        f"mã phương tiện {seen_id}, khai {declared_id}"))]
    plate = facts.plate
    if declaration.plate and plate is not None and plate.ok and plate.text == declaration.plate:
        return []  # the declared plate was read: same vehicle
    if seen_id:
        what = f"declared plate {declaration.plate}" if declaration.plate else "no vehicle id declared"
        vi = f"khai biển số {declaration.plate}" if declaration.plate else "tờ khai không có mã phương tiện"
        return [reason("vehicle_mismatch_declaration", (f"vehicle id {seen_id}; {what}",
                                                        f"mã phương tiện {seen_id}; {vi}"))]
    return [reason("vehicle_mismatch_declaration", (f"declared vehicle id {declared_id}; no vehicle id announced",
                                                    f"khai mã phương tiện {declared_id}; xe không báo mã"))]


def _customs(facts: PassageFacts, declaration: DeclarationLike | None, rules: PolicyRules) -> list[Reason]:
    """Customs status of the matched declaration: red channel (physical inspection) is never cleared by the
    smart lane; otherwise the goods must have been released by the time the vehicle passed. A declaration
    with no customs status at all (no channel, no release time) counts as released unless
    `policy.require_release` (a feed that does not carry the status yet)."""
    if declaration is None:
        return []
    channel = getattr(declaration, "channel", None)
    released_at: datetime | None = getattr(declaration, "released_at", None)
    if channel == "red":
        return [reason("customs_not_released", ("red channel: physical inspection",
                                                "luồng đỏ: kiểm tra thực tế"))]
    if released_at is None:
        if channel is None and not rules.require_release:
            return []
        label = f"{channel} channel, " if channel else ""
        label_vi = f"luồng {_VI_CHANNEL[channel]}, " if channel else ""
        return [reason("customs_not_released", (f"{label}not released", f"{label_vi}chưa thông quan"))]
    at = facts.at or datetime.now(UTC)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    if released_at.tzinfo is None:
        released_at = released_at.replace(tzinfo=UTC)
    if released_at > at:
        when = released_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return [reason("customs_not_released", (f"released {when}, after the vehicle passed",
                                                f"thông quan lúc {when}, sau khi xe qua"))]
    return []


_VI_CHANNEL = {"green": "xanh", "yellow": "vàng", "red": "đỏ"}


_VI_DIR = {"import": "nhập khẩu", "export": "xuất khẩu"}


def _names(items: Sequence[str | None] | set[str | None], lang: str) -> str:
    """Human commodity list; None is a line on no smart-lane list."""
    other = "not on any list" if lang == "en" else "ngoài danh mục"
    return ", ".join(sorted(cm.label(c, lang) if c else other for c in set(items)))


def _cargo(facts: PassageFacts, declaration: DeclarationLike | None, rules: PolicyRules) -> list[Reason]:
    out: list[Reason] = []
    permitted = rules.permitted(facts.direction)
    lines = list(declaration.lines) if declaration is not None else None
    declared = [rules.commodity_of_line(ln) for ln in lines] if lines else []

    # 1. Declared goods must be on the lane's list (the declaration is the legal statement of the load).
    if lines:
        refused = [(ln.hs_code, c) for ln, c in zip(lines, declared, strict=True) if not cm.permits(permitted, c)]
        if refused:
            en, vi = ("; ".join(f"HS {hs}: {_names([c], lang)}" for hs, c in refused) for lang in ("en", "vi"))
            out.append(reason("cargo_not_permitted", (en, vi)))

    if not facts.expect.cargo:
        return out

    # 2. What the cameras saw.
    text_seen = {c for e in facts.cargo_text for c in _text_commodities(e)}
    cargo = facts.cargo
    cls = cargo.cls if cargo is not None else "unknown"
    seen = cm.commodities_of_class(cls)
    if cargo is None or cls == "unknown" or (seen is None and cls not in ("closed", "empty")):
        out.append(reason("cargo_unverified"))
    elif cls == "closed":
        if rules.closed_cargo == "flag" or declaration is None:
            out.append(reason("cargo_unverified", ("cargo not visible (closed)", "không thấy hàng (kín)")))
        elif cargo.confidence < rules.min_confidence:
            out.append(_weak_cargo("closed", cargo.confidence))
    elif cls == "empty":
        if cargo.confidence < rules.min_confidence:
            out.append(_weak_cargo("empty", cargo.confidence))
        elif lines:
            out.append(reason("cargo_mismatch_declaration", (f"seen empty; declared {_names(declared, 'en')}",
                                                             f"xe rỗng; khai {_names(declared, 'vi')}")))
    else:
        assert seen is not None
        confirmed = any(cm.compatible(seen, t) for t in text_seen)
        trusted = cargo.confidence >= rules.min_confidence or confirmed
        if not trusted:
            out.append(_weak_cargo(cls, cargo.confidence))
        else:
            already = any(r.code == "cargo_not_permitted" for r in out)  # one such sentence is enough
            if not already and not any(cm.permits(permitted, c) for c in seen):
                out.append(reason("cargo_not_permitted", (f"seen {_names(seen, 'en')}",
                                                          f"camera thấy {_names(seen, 'vi')}")))
            if lines is not None and not any(cm.compatible(seen, d) for d in declared):
                out.append(reason("cargo_mismatch_declaration", (
                    f"seen {_names(seen, 'en')}; declared {_names(declared, 'en') if lines else 'empty'}",
                    f"camera thấy {_names(seen, 'vi')}; khai {_names(declared, 'vi') if lines else 'xe rỗng'}",
                )))
            elif declaration is None and text_seen and not confirmed:
                out.append(reason("cargo_unverified", ("printed text contradicts the camera",
                                                       "chữ in trên hàng mâu thuẫn với camera")))

    # 3. Printed keywords that contradict the declared lines.
    if lines:
        against = sorted({e.keyword for e in facts.cargo_text
                          if not any(cm.compatible(_text_commodities(e), d) for d in declared)})
        if against and not any(r.code == "cargo_mismatch_declaration" for r in out):
            out.append(reason("cargo_mismatch_declaration", (f"printed {', '.join(against)}",
                                                             f"chữ in {', '.join(against)}")))
    return out


def _weak_cargo(cls: str, conf: float) -> Reason:
    return reason("low_confidence", (f"cargo class {cls}, {conf:.2f}", f"loại hàng {cls}, {conf:.2f}"))


def _text_commodities(e: TextEvidence) -> frozenset[str]:
    """Keyword evidence names a cargo class (coke_coal) or, from other sources, a commodity (coke)."""
    seen = cm.commodities_of_class(e.commodity)
    if seen is not None:
        return seen
    return frozenset({e.commodity}) if cm.is_commodity(e.commodity) else frozenset()


def _dangerous_goods(facts: PassageFacts, declaration: DeclarationLike | None) -> list[Reason]:
    """Every orange panel or printed UN number must be declared; a blank panel needs some declared UN."""
    declared_un = {ln.dangerous_goods_un for ln in (declaration.lines if declaration else [])
                   if ln.dangerous_goods_un}
    out: list[Reason] = []
    done: set[str | None] = set()
    marks: list[tuple[str | None, str | None]] = [(h.un_number, h.hazard_id) for h in facts.hazards]
    marks += [(e.keyword[2:], None) for e in facts.cargo_text if _is_un_keyword(e.keyword)]
    for un, hazard_id in marks:
        if un in done:
            continue
        done.add(un)
        if un is not None and un not in declared_un:
            out.append(reason("dangerous_goods_undeclared", (f"hazard id {hazard_id}", f"số hiệu nguy hiểm {hazard_id}")
                              if hazard_id else None, un=un))
        elif un is None and not declared_un:
            out.append(reason("dangerous_goods_undeclared", ("orange panel without numbers",
                                                             "biển màu cam không có số")))
    return out


def _is_un_keyword(keyword: str) -> bool:
    return len(keyword) == 6 and keyword.startswith("UN") and keyword[2:].isdigit()
