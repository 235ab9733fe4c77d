"""Turn a finished PassageDraft into a Passage: vote the reads, decide, pick evidence crops.

Pure: evidence images are returned, not written; the sink writes them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from edge.domain import Box, CargoRead, Direction, Passage
from edge.passage import BestEvidence, PassageDraft
from edge.policy import LaneExpectations, decide
from edge.voting import vote_containers, vote_plate


@dataclass(frozen=True)
class EvidenceImage:
    kind: str  # plate | container | cargo | overview
    camera: str
    frame_time: datetime
    image: np.ndarray


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
    """Summed confidence per class; the winner's confidence is its mean."""
    if not reads:
        return None
    totals: dict[str, list[float]] = {}
    for r in reads:
        totals.setdefault(r.cls, []).append(r.confidence)
    cls, confs = max(totals.items(), key=lambda kv: sum(kv[1]))
    return CargoRead(cls=cls, confidence=sum(confs) / len(confs))


def build_passage(
    draft: PassageDraft, gate_id: str, direction: Direction, expect: LaneExpectations, now: datetime
) -> tuple[Passage, list[EvidenceImage]]:
    plate_vote = vote_plate(draft.plates)
    plate = plate_vote.read if plate_vote else None
    if plate is None and draft.plates:
        # Keep the no-read and its reason: the inspector sees why.
        plate = draft.plates[-1]
    containers = vote_containers(draft.containers)
    cargo = vote_cargo(draft.cargo)
    verdict = decide(plate, None, containers, cargo, expect)
    passage = Passage(
        id=uuid.uuid4().hex,
        gate=gate_id,
        lane=draft.lane,
        direction=direction,
        started_at=draft.started_at,
        ended_at=draft.ended_at,
        frames=draft.frames,
        plate=plate,
        containers=containers,
        cargo=cargo,
        verdict=verdict,
        created_at=now,
    )
    images: list[EvidenceImage] = []

    def add(kind: str, ev: BestEvidence | None, crop: bool) -> None:
        if ev is not None:
            img = crop_box(ev.image, ev.box) if crop else ev.image
            images.append(EvidenceImage(kind, ev.camera, ev.timestamp, img))

    if plate is not None and plate.text:
        ev = draft.evidence.get(("plate", plate.text))
        add("plate", ev, crop=True)
        add("overview", ev, crop=False)
    for c in containers:
        add("container", draft.evidence.get(("container", c.code)), crop=False)
    if cargo is not None:
        add("cargo", draft.evidence.get(("cargo", cargo.cls)), crop=False)
    return passage, images
