"""The passage payload is what docs/mqtt.md and passage.schema.json promise."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest
from conftest import make_passage

from edge.comms.payload import (
    CAMERA_STATUS_SCHEMA_PATH,
    SCHEMA_VERSION,
    camera_status_payload,
    load_schema,
    passage_payload,
)
from edge.domain.types import PlateRead, Verdict

VALIDATOR = jsonschema.Draft202012Validator(load_schema(), format_checker=jsonschema.FormatChecker())


def test_schema_is_a_valid_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(load_schema())
    jsonschema.Draft202012Validator.check_schema(load_schema(CAMERA_STATUS_SCHEMA_PATH))


def test_full_payload_validates_and_carries_the_reads():
    p = make_passage()
    d = passage_payload(p, "http://10.0.0.5:8080/")
    VALIDATOR.validate(d)
    assert d["schema_version"] == SCHEMA_VERSION
    assert d["event_id"] == p.id
    assert d["started_at"] == "2025-03-04T01:02:03.456Z"
    assert d["plate"] == {"text": "29C12345", "country": "VN", "format": "vn_truck", "confidence": 0.93,
                          "display": "29C-123.45", "raw": "29C-12345", "reason": None}
    assert d["containers"][0]["code"] == "MSKU1234566" and d["containers"][0]["check_digit_ok"] is False
    assert d["cargo"] == {"class": "closed", "confidence": 0.7}
    assert d["verdict"]["status"] == "flag"
    assert d["verdict"]["reasons"][0]["code"] == "container_check_digit_failed"
    assert d["verdict"]["reasons"][0]["message_vi"]
    assert d["evidence"][0]["url"] == "http://10.0.0.5:8080/evidence/2025-03-04/x/plate-plate-in-1.jpg"
    # the payload survives a JSON round trip unchanged (no datetimes or other non-JSON objects)
    assert json.loads(json.dumps(d)) == d


def test_minimal_payload_validates():
    p = make_passage(plate=PlateRead(reason="no_text"), containers=[], cargo=None, evidence=[],
                     verdict=Verdict(status="clear"), vehicle_id="IGV-07")
    d = passage_payload(p, None)
    VALIDATOR.validate(d)
    assert d["plate"]["text"] is None and d["plate"]["reason"] == "no_text"
    assert d["cargo"] is None and d["vehicle_id"] == "IGV-07"
    p2 = make_passage(plate=None)
    d2 = passage_payload(p2, None)
    VALIDATOR.validate(d2)
    assert d2["plate"] is None
    assert d2["evidence"][0]["url"] is None and d2["evidence"][0]["path"].endswith(".jpg")


def test_times_are_utc_z_whatever_the_input_zone():
    hanoi = timezone(timedelta(hours=7))
    t = datetime(2025, 3, 4, 8, 0, 0, tzinfo=hanoi)
    d = passage_payload(make_passage(started_at=t), None)
    assert d["started_at"] == "2025-03-04T01:00:00.000Z"
    naive = passage_payload(make_passage(started_at=datetime(2025, 3, 4, 1, 0)), None)
    assert naive["started_at"] == "2025-03-04T01:00:00.000Z"


@pytest.mark.parametrize("breakage", [
    lambda d: d.pop("event_id"),
    lambda d: d.update(schema_version=2),
    lambda d: d.update(unexpected="x"),
    lambda d: d["verdict"].update(status="maybe"),
    lambda d: d["verdict"]["reasons"][0].pop("message_vi"),
    lambda d: d["containers"][0].update(code="MSKU123"),
    lambda d: d["plate"].update(confidence=1.5),
    lambda d: d["plate"].update(country="FR"),
    lambda d: d.update(started_at="2025-03-04 01:02:03"),
    lambda d: d.update(started_at="2025-03-04T08:02:03+07:00"),
    lambda d: d["cargo"].update(cls="closed"),
    lambda d: d["evidence"][0].update(path="/etc/passwd"),
    lambda d: d.update(direction="sideways"),
])
def test_broken_payloads_fail_validation(breakage):
    d = copy.deepcopy(passage_payload(make_passage(), "http://gate:8080"))
    VALIDATOR.validate(d)
    breakage(d)
    assert not VALIDATOR.is_valid(d)


def test_camera_status_payload_validates():
    v = jsonschema.Draft202012Validator(load_schema(CAMERA_STATUS_SCHEMA_PATH))
    d = camera_status_payload("plate-in-1", "reconnecting", {"reconnects": 3, "last_error": "timeout"})
    v.validate(d)
    assert not v.is_valid({**d, "state": "on fire"})


def test_docs_example_is_valid():
    """docs/mqtt.md's example passage must stay valid against the schema."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "mqtt.md").read_text(encoding="utf-8")
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    passages = [b for b in blocks if "event_id" in b]
    assert passages, "docs/mqtt.md has no example passage"
    for b in passages:
        VALIDATOR.validate(b)
    cam_validator = jsonschema.Draft202012Validator(load_schema(CAMERA_STATUS_SCHEMA_PATH))
    for b in blocks:
        if "camera" in b and "state" in b:
            cam_validator.validate(b)


def test_hazards_cargo_text_and_declaration_id():
    from edge.domain.types import HazardRead, TextEvidence

    p = make_passage(hazards=[HazardRead(hazard_id="33", un_number="1203", hazard_class="3", confidence=0.91),
                              HazardRead(confidence=0.6)],
                     cargo_text=[TextEvidence(keyword="UREA", commodity="fertilizer", confidence=0.88)],
                     declaration_id="NSW-2025-000123")
    d = passage_payload(p, None)
    VALIDATOR.validate(d)
    assert d["hazards"][0] == {"hazard_id": "33", "un_number": "1203", "hazard_class": "3", "confidence": 0.91}
    assert d["hazards"][1]["un_number"] is None  # blank panel
    assert d["cargo_text"] == [{"keyword": "UREA", "commodity": "fertilizer", "confidence": 0.88}]
    assert d["declaration_id"] == "NSW-2025-000123"
    for breakage in (lambda x: x["hazards"][0].update(un_number="12034"), lambda x: x.pop("declaration_id"),
                     lambda x: x["cargo_text"][0].pop("commodity"), lambda x: x.update(declaration_id="a b")):
        bad = copy.deepcopy(d)
        breakage(bad)
        assert not VALIDATOR.is_valid(bad)
