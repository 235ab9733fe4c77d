"""The public JSON shape of a passage (MQTT payload, documented in docs/mqtt.md).

Kept separate from the internal Passage model so that internal fields can
change without breaking subscribers: this module is the contract, versioned
by SCHEMA_VERSION and described by edge/comms/schemas/passage.schema.json.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from edge.domain.types import Passage

SCHEMA_VERSION = 1
SCHEMA_DIR = Path(__file__).with_name("schemas")
PASSAGE_SCHEMA_PATH = SCHEMA_DIR / "passage.schema.json"
CAMERA_STATUS_SCHEMA_PATH = SCHEMA_DIR / "camera_status.schema.json"


def iso_utc(t: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a Z suffix; naive times are taken as UTC."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def evidence_url(base_url: str | None, rel_path: str) -> str | None:
    """`<base>/evidence/<path>` as served by the API; None when no base URL is configured."""
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/evidence/{quote(rel_path)}"


def passage_payload(p: Passage, evidence_base_url: str | None) -> dict[str, Any]:
    """The passage as subscribers see it.

    `evidence_base_url` is the API's public base URL (e.g. "http://10.1.2.3:8080");
    each evidence item then carries an absolute `url`. Without it `url` is null and
    `path` (relative to the API's /evidence/) is still given.
    """
    plate = None
    if p.plate is not None:
        plate = {
            "text": p.plate.text,
            "country": p.plate.country,
            "format": p.plate.format,
            "confidence": round(float(p.plate.confidence), 4),
            "display": p.plate.display,
            "raw": p.plate.raw,
            "reason": p.plate.reason,
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "event_id": p.id,
        "gate": p.gate,
        "lane": p.lane,
        "direction": p.direction,
        "started_at": iso_utc(p.started_at),
        "ended_at": iso_utc(p.ended_at),
        "created_at": iso_utc(p.created_at),
        "frames": p.frames,
        "vehicle_id": p.vehicle_id,
        "plate": plate,
        "containers": [
            {
                "code": c.code,
                "check_digit_ok": c.check_digit_ok,
                "size_type": c.size_type,
                "size_type_text": c.size_type_text,
                "corrected": c.corrected,
                "layout": c.layout,
                "confidence": round(float(c.confidence), 4),
            }
            for c in p.containers
        ],
        "cargo": (
            {"class": p.cargo.cls, "confidence": round(float(p.cargo.confidence), 4)} if p.cargo is not None else None
        ),
        "hazards": [
            {
                "hazard_id": h.hazard_id,
                "un_number": h.un_number,
                "hazard_class": h.hazard_class,
                "confidence": round(float(h.confidence), 4),
            }
            for h in p.hazards
        ],
        "cargo_text": [
            {"keyword": t.keyword, "commodity": t.commodity, "confidence": round(float(t.confidence), 4)}
            for t in p.cargo_text
        ],
        "declaration_id": p.declaration_id,
        "verdict": {
            "status": p.verdict.status,
            "reasons": [r.model_dump() for r in p.verdict.reasons],
        },
        "evidence": [
            {
                "kind": e.kind,
                "camera": e.camera,
                "frame_time": iso_utc(e.frame_time),
                "path": e.path,
                "url": evidence_url(evidence_base_url, e.path),
            }
            for e in p.evidence
        ],
        "box": p.box,
        "checks": p.checks.model_dump() if p.checks is not None else None,
        "revision": 1,
        "revision_reason": None,
    }


def passage_from_payload(d: dict[str, Any]) -> Passage:
    """The Passage a payload describes (the hub re-decides and matches on it). Raises ValueError (pydantic's
    ValidationError) for a payload that is not a passage event. Box-local details the payload does not carry
    (read boxes, raw container text) are absent."""
    from edge.domain.types import (
        CargoRead,
        ContainerRead,
        Evidence,
        HazardRead,
        LaneChecks,
        PlateRead,
        TextEvidence,
        Verdict,
    )

    plate = d.get("plate")
    cargo = d.get("cargo")
    checks = d.get("checks")
    return Passage(
        id=d["event_id"], gate=d["gate"], lane=d["lane"], direction=d["direction"],
        started_at=d["started_at"], ended_at=d["ended_at"], created_at=d["created_at"], frames=d.get("frames", 0),
        plate=PlateRead(**plate) if plate is not None else None,
        vehicle_id=d.get("vehicle_id"),
        containers=[ContainerRead(**c) for c in d.get("containers", [])],
        cargo=CargoRead(cls=cargo["class"], confidence=cargo["confidence"]) if cargo is not None else None,
        hazards=[HazardRead(**h) for h in d.get("hazards", [])],
        cargo_text=[TextEvidence(**t) for t in d.get("cargo_text", [])],
        declaration_id=d.get("declaration_id"),
        verdict=Verdict.model_validate(d["verdict"]),
        evidence=[Evidence(kind=e["kind"], camera=e["camera"], path=e["path"], frame_time=e["frame_time"])
                  for e in d.get("evidence", [])],
        box=d.get("box"),
        checks=LaneChecks(**checks) if checks is not None else None,
    )


def camera_status_payload(camera: str, state: str, detail: dict[str, Any] | None = None,
                          at: datetime | None = None) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "camera": camera,
        "state": state,
        "at": iso_utc(at or datetime.now(UTC)),
        "detail": detail or {},
    }


def load_schema(path: Path = PASSAGE_SCHEMA_PATH) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))
