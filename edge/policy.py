"""The gate's decision for one passage: clear, or flag with every reason.

`clear` needs positive evidence for each thing the lane can check; anything
missing or doubtful is a flag, because a flag costs an inspector a look while a
wrong clear lets a truck through unchecked. (Issue 4 extends this with the
permitted-commodity list and declarations.)
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.domain import CargoRead, ContainerRead, PlateRead, Reason, Verdict
from edge.reasons import reason


@dataclass(frozen=True)
class LaneExpectations:
    """What the lane's cameras can check: no container camera, no container reasons."""

    containers: bool
    cargo: bool
    min_confidence: float = 0.5


def decide(
    plate: PlateRead | None,
    vehicle_id: str | None,
    containers: list[ContainerRead],
    cargo: CargoRead | None,
    expect: LaneExpectations,
) -> Verdict:
    reasons: list[Reason] = []
    if vehicle_id is None and (plate is None or not plate.ok):
        reasons.append(reason("plate_unread"))
    elif plate is not None and plate.ok and plate.confidence < expect.min_confidence:
        reasons.append(reason("low_confidence", f"plate {plate.text} {plate.confidence:.2f}"))
    if expect.containers:
        if not containers:
            reasons.append(reason("container_unread"))
        for c in containers:
            if not c.check_digit_ok:
                reasons.append(reason("container_check_digit_failed", c.code))
    if expect.cargo and (cargo is None or cargo.cls == "unknown"):
        reasons.append(reason("cargo_unverified"))
    return Verdict(status="flag" if reasons else "clear", reasons=reasons)
