"""Data that crosses module borders: reads, passages, verdicts.

Pydantic models so that the same objects validate API input, serialise to
MQTT/JSON and round-trip through SQLite.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Country = Literal["VN", "CN", "OTHER"]
Direction = Literal["import", "export"]
VerdictStatus = Literal["clear", "flag"]


class Box(BaseModel):
    """Axis-aligned box in pixels of the image the read came from."""

    model_config = ConfigDict(frozen=True)
    x: int
    y: int
    w: int
    h: int

    def iou(self, other: Box) -> float:
        """Intersection over union with `other` (0.0 when they do not overlap)."""
        ix = min(self.x + self.w, other.x + other.w) - max(self.x, other.x)
        iy = min(self.y + self.h, other.y + other.h) - max(self.y, other.y)
        if ix <= 0 or iy <= 0:
            return 0.0
        inter = ix * iy
        return inter / float(self.w * self.h + other.w * other.h - inter)


class PlateRead(BaseModel):
    """Result of reading one licence plate (or an explicit no-read).

    `text` is normalised (uppercase, no separators; two-line plates are top
    line + bottom line). `text` is None for a no-read and `reason` says why.
    """

    text: str | None = None
    display: str | None = None
    country: Country | None = None
    format: str | None = None  # vn_truck, vn_two_line, cn_ordinary, cn_nev, other, ...
    confidence: float = 0.0
    box: Box | None = None
    raw: str | None = None  # what the recogniser emitted before grammar fixes
    reason: str | None = None  # no-read reason, e.g. "no_text", "grammar_mismatch"

    @property
    def ok(self) -> bool:
        return self.text is not None


class ContainerRead(BaseModel):
    """One ISO 6346 container code found in an image."""

    code: str  # 11 characters, e.g. MSKU1234565
    check_digit_ok: bool
    corrected: bool = False  # a character was changed guided by the check digit / positions
    size_type: str | None = None  # e.g. 42G1
    size_type_text: str | None = None  # e.g. "40 ft, 8'6\", general purpose"
    layout: Literal["horizontal", "two_line", "vertical", "unknown"] = "unknown"
    confidence: float = 0.0
    box: Box | None = None
    raw: str | None = None


class CargoRead(BaseModel):
    cls: str = Field(description="fertilizer, coke_coal, chemicals, agricultural, electronics, closed, empty, unknown")
    confidence: float = 0.0


class HazardRead(BaseModel):
    """An ADR orange panel: hazard identification number over UN number (domain.md §5).

    `hazard_id`/`un_number` are None for a blank orange panel (packaged dangerous goods).
    """

    hazard_id: str | None = None  # e.g. "33", "X423"
    un_number: str | None = None  # 4 digits, e.g. "1203"
    hazard_class: str | None = None  # first digit of hazard_id: "3" = flammable liquid
    confidence: float = 0.0
    box: Box | None = None


class TextEvidence(BaseModel):
    """A word printed on the cargo (sacks, cartons) that supports a commodity, e.g. UREA → fertilizer."""

    keyword: str
    commodity: str
    confidence: float = 0.0


class Reason(BaseModel):
    code: str
    message_en: str
    message_vi: str


class Verdict(BaseModel):
    status: VerdictStatus
    reasons: list[Reason] = Field(default_factory=list)


class Evidence(BaseModel):
    """A stored image that supports a read; `path` is relative to the evidence directory."""

    kind: Literal["plate", "container", "cargo", "hazard", "overview"]
    camera: str
    path: str
    frame_time: datetime


class LaneChecks(BaseModel):
    """What the lane's cameras could check (a container camera, a cargo camera): the hub needs it to re-decide."""

    containers: bool
    cargo: bool


class Passage(BaseModel):
    """One vehicle's trip through a lane, with voted reads and the verdict."""

    id: str  # stable event id (uuid4 hex)
    gate: str
    lane: str
    direction: Direction
    started_at: datetime
    ended_at: datetime
    frames: int = 0
    plate: PlateRead | None = None
    vehicle_id: str | None = None  # AI-IGV id instead of a plate
    containers: list[ContainerRead] = Field(default_factory=list)
    cargo: CargoRead | None = None
    hazards: list[HazardRead] = Field(default_factory=list)
    cargo_text: list[TextEvidence] = Field(default_factory=list)
    declaration_id: str | None = None  # the matched declaration, if any
    verdict: Verdict
    evidence: list[Evidence] = Field(default_factory=list)
    created_at: datetime
    box: str | None = None  # the lane box that decided it (gate.box, else the MQTT client id); several per gate
    checks: LaneChecks | None = None  # the lane's camera checks, for re-decisions at the hub
