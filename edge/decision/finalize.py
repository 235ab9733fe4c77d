"""Turn a finished PassageDraft into a Passage: vote the reads, decide, pick evidence crops.

Two steps because matching a declaration needs the store (I/O, sink thread)
while voting does not: `vote_draft` (pure, lane thread) → match → `build_passage`
(pure). Evidence images are returned, not written; the sink writes them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from edge.decision.policy import DeclarationLike, LaneExpectations, PassageFacts, PolicyRules, decide
from edge.decision.voting import BLANK_MIN_VOTES, vote_containers, vote_hazards, vote_plate
from edge.domain.types import (
    Box,
    CargoRead,
    ContainerRead,
    Direction,
    HazardRead,
    Passage,
    PlateRead,
    TextEvidence,
)
from edge.lane.passage import UNREAD_KEY, BestEvidence, PassageDraft, hazard_key


@dataclass(frozen=True)
class EvidenceImage:
    kind: str  # plate | container | cargo | hazard | overview
    camera: str
    frame_time: datetime
    image: np.ndarray
    key: str | None = None  # the object shown (container code, panel's UN number): one file per object


@dataclass(frozen=True)
class Voted:
    """What the cameras agree on for one passage."""

    plate: PlateRead | None
    vehicle_id: str | None
    containers: list[ContainerRead] = field(default_factory=list)
    cargo: CargoRead | None = None
    hazards: list[HazardRead] = field(default_factory=list)
    cargo_text: list[TextEvidence] = field(default_factory=list)


def crop_box(image: np.ndarray, box: Box | None, pad: float = 0.35, min_side: int = 64) -> np.ndarray:
    """The box with context around it (an inspector needs to see where the plate sits)."""
    if box is None:
        return image
    h, w = image.shape[:2]
    px, py = max(int(box.w * pad), min_side // 2), max(int(box.h * pad), min_side // 2)
    x0, y0 = max(0, box.x - px), max(0, box.y - py)
    x1, y1 = min(w, box.x + box.w + px), min(h, box.y + box.h + py)
    if x1 <= x0 or y1 <= y0:
        return image
    return image[y0:y1, x0:x1]


def vote_cargo(reads: list[CargoRead]) -> CargoRead | None:
    """Summed confidence per class; the winner's confidence is its mean.

    `unknown` reads only win when nothing else was seen: a few confident frames
    beat many frames where the bed was out of view."""
    if not reads:
        return None
    known = [r for r in reads if r.cls != "unknown"] or reads
    totals: dict[str, list[float]] = {}
    for r in known:
        totals.setdefault(r.cls, []).append(r.confidence)
    cls, confs = max(totals.items(), key=lambda kv: sum(kv[1]))
    return CargoRead(cls=cls, confidence=sum(confs) / len(confs))


def vote_text(reads: list[TextEvidence]) -> list[TextEvidence]:
    best: dict[tuple[str, str], TextEvidence] = {}
    for t in reads:
        key = (t.keyword, t.commodity)
        if key not in best or t.confidence > best[key].confidence:
            best[key] = t
    return sorted(best.values(), key=lambda t: -t.confidence)


def vote_draft(draft: PassageDraft) -> Voted:
    plate_vote = vote_plate(draft.plates)
    plate = plate_vote.read if plate_vote else None
    if plate is None and draft.plates:
        # Keep a no-read and its reason: the inspector sees why. Text that did not win the vote (a generic
        # read with too little support) is not a plate.
        last = draft.plates[-1]
        plate = last if not last.text else PlateRead(raw=last.raw or last.text, reason="unconfirmed",
                                                     confidence=last.confidence)
    return Voted(
        plate=plate,
        vehicle_id=draft.vehicle_id,
        containers=vote_containers(draft.containers),
        cargo=vote_cargo(draft.cargo),
        hazards=vote_hazards(draft.hazards, min_blank_votes=BLANK_MIN_VOTES),
        cargo_text=vote_text(draft.cargo_text),
    )


def build_passage(
    draft: PassageDraft,
    voted: Voted,
    gate_id: str,
    direction: Direction,
    expect: LaneExpectations,
    rules: PolicyRules,
    declaration: DeclarationLike | None,
    declaration_id: str | None,
    now: datetime,
) -> tuple[Passage, list[EvidenceImage]]:
    seen = vars(voted)  # the voted fields carry the same names in PassageFacts and Passage
    verdict = decide(PassageFacts(direction=direction, expect=expect, **seen), declaration, rules)
    passage = Passage(
        id=uuid.uuid4().hex,
        gate=gate_id,
        lane=draft.lane,
        direction=direction,
        started_at=draft.started_at,
        ended_at=draft.ended_at,
        frames=draft.frames,
        declaration_id=declaration_id,
        verdict=verdict,
        created_at=now,
        **seen,
    )
    return passage, evidence_images(draft, voted)


def evidence_images(draft: PassageDraft, voted: Voted) -> list[EvidenceImage]:
    images: list[EvidenceImage] = []

    def add(kind: str, ev: BestEvidence | None, crop: bool, key: str | None = None) -> None:
        if ev is not None:
            img = crop_box(ev.image, ev.box) if crop else ev.image
            images.append(EvidenceImage(kind, ev.camera, ev.timestamp, img, key))

    if voted.plate is not None:
        # a plate never read (edge.lane.unread) shows the inspector where its plate-shaped line was seen largest
        ev = draft.evidence.get(("plate", voted.plate.text or UNREAD_KEY))
        add("plate", ev, crop=True)
        add("overview", ev, crop=False)
    for c in voted.containers:
        add("container", draft.evidence.get(("container", c.code)), crop=False, key=c.code)
    if voted.cargo is not None:
        add("cargo", draft.evidence.get(("cargo", voted.cargo.cls)), crop=False)
    for h in voted.hazards:
        add("hazard", draft.evidence.get(("hazard", hazard_key(h))), crop=True, key=hazard_key(h))
    return images
