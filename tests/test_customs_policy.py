"""Customs status and AI-IGV identity (issue #20): red channel / not released -> customs_not_released; a vehicle
id that differs from the matched manifest's -> vehicle_mismatch_declaration; vehicle ids only on IGV lanes."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from edge.api.app import ApiState, create_app
from edge.config import MqttConfig, PolicyConfig, parse_config
from edge.daemon import Daemon
from edge.decision.matching import match_declaration
from edge.decision.policy import LaneExpectations, PassageFacts, PolicyRules, decide
from edge.domain.declarations import Declaration, DeclarationIn, parse_declaration
from edge.domain.reasons import reason
from edge.domain.types import CargoRead, ContainerRead, PlateRead
from edge.metrics import Metrics
from edge.storage.evidence import EvidenceStore
from edge.storage.store import Store

T0 = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)
BOX = ContainerRead(code="MSKU1234565", check_digit_ok=True, confidence=0.9)
PLATE = PlateRead(text="24C12345", display="24C-123.45", country="VN", format="vn_truck", confidence=0.93)
FULL = LaneExpectations(containers=True, cargo=True)
RULES = PolicyRules.from_config()


def decl(**kw) -> Declaration:
    body = {"id": "NSW-1", "direction": "import", "containers": ["MSKU1234565"],
            "lines": [{"hs_code": "3102.10", "description": "urea"}], **kw}
    return Declaration.received(DeclarationIn.model_validate(body), at=T0 - timedelta(hours=1))


def facts(**kw) -> PassageFacts:
    base = dict(direction="import", expect=FULL, plate=PLATE, containers=[BOX],
                cargo=CargoRead(cls="fertilizer", confidence=0.9), at=T0)
    base.update(kw)
    return PassageFacts(**base)


def codes(v) -> list[str]:
    return [r.code for r in v.reasons]


# -- customs status --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kw", "expected"), [
    ("no customs status (today's feed)", {}, []),
    ("green, released before the truck", {"channel": "green", "released_at": T0 - timedelta(minutes=5)}, []),
    ("yellow, released before the truck", {"channel": "yellow", "released_at": T0 - timedelta(minutes=5)}, []),
    ("released, channel not sent", {"released_at": T0 - timedelta(minutes=5)}, []),
    ("red channel", {"channel": "red"}, ["customs_not_released"]),
    ("red channel even when released", {"channel": "red", "released_at": T0 - timedelta(hours=1)},
     ["customs_not_released"]),
    ("green, not released yet", {"channel": "green"}, ["customs_not_released"]),
    ("yellow, not released yet", {"channel": "yellow"}, ["customs_not_released"]),
    ("released after the truck passed", {"channel": "green", "released_at": T0 + timedelta(minutes=3)},
     ["customs_not_released"]),
])
def test_customs_status(name, kw, expected):
    v = decide(facts(), decl(**kw), RULES)
    assert codes(v) == expected
    assert v.status == ("flag" if expected else "clear")


def test_red_channel_sentences_name_the_case():
    (r,) = decide(facts(), decl(channel="red"), RULES).reasons
    assert "red channel" in r.message_en and "luồng đỏ" in r.message_vi
    assert r.message_en.startswith("Customs has not released this declaration")
    assert r.message_vi.startswith("Hải quan chưa thông quan")
    (r,) = decide(facts(), decl(channel="yellow"), RULES).reasons
    assert "yellow channel, not released" in r.message_en and "luồng vàng, chưa thông quan" in r.message_vi


def test_require_release_flags_a_declaration_without_status():
    strict = PolicyRules.from_config(PolicyConfig(require_release=True))
    assert codes(decide(facts(), decl(), strict)) == ["customs_not_released"]
    assert codes(decide(facts(), decl(released_at=T0 - timedelta(minutes=1)), strict)) == []
    assert PolicyRules.from_config().require_release is False


def test_no_declaration_is_not_a_customs_reason():
    assert codes(decide(facts(), None, RULES)) == ["no_declaration"]


def test_the_zh_sentences_exist_for_the_new_codes():
    from pathlib import Path

    js = (Path(__file__).resolve().parents[1] / "edge" / "api" / "review" / "static" / "i18n.js").read_text("utf-8")
    zh = js.split("const REASONS_ZH", 1)[1].split("};", 1)[0]
    for code in ("customs_not_released", "vehicle_mismatch_declaration", "plate_mismatch_declaration"):
        assert f"{code}:" in zh
        assert js.count(f"{code}:") >= 4  # ZH sentence + vi/en/zh chips


# -- declaration fields ----------------------------------------------------------------------------


def test_declaration_channel_and_release_parse():
    d = parse_declaration(json.dumps({"id": "NSW-2", "direction": "import", "plate": "24C-123.45",
                                      "lines": [{"hs_code": "310210"}], "channel": "yellow",
                                      "released_at": "2025-03-04T09:00:00+07:00"}))
    assert d.channel == "yellow"
    assert d.released_at == datetime(2025, 3, 4, 2, 0, tzinfo=UTC)
    naive = parse_declaration(json.dumps({"id": "NSW-3", "direction": "import", "plate": "24C12345",
                                          "lines": [{"hs_code": "310210"}], "released_at": "2025-03-04T02:00:00"}))
    assert naive.released_at is not None and naive.released_at.tzinfo is not None
    with pytest.raises(ValidationError, match="channel"):
        parse_declaration(json.dumps({"id": "NSW-4", "direction": "import", "plate": "24C12345",
                                      "lines": [{"hs_code": "310210"}], "channel": "blue"}))


def test_stored_declaration_keeps_the_customs_fields(tmp_path):
    with Store(tmp_path / "gate.db") as store:
        store.save_declaration(decl(channel="red", released_at=T0))
        got = store.get_declaration("NSW-1")
    assert got is not None and got.channel == "red" and got.released_at == T0


# -- AI-IGV identity -------------------------------------------------------------------------------


def test_igv_matched_by_container_to_another_igvs_manifest_is_flagged():
    """The issue's case: IGV-08 matched by its container to the manifest of IGV-07 used to come out CLEAR."""
    d = decl(vehicle_id="IGV-07", containers=["MSKU1234565"])
    m = match_declaration(None, "IGV-08", [BOX], [d], "import", now=T0)
    assert m is not None and m.matched_by == "container"
    v = decide(facts(plate=None, vehicle_id="IGV-08"), m.declaration, RULES)
    assert codes(v) == ["vehicle_mismatch_declaration"]
    assert "IGV-08" in v.reasons[0].message_en and "IGV-07" in v.reasons[0].message_en


@pytest.mark.parametrize(("name", "passage", "declared", "expected"), [
    ("same id, other spelling", {"plate": None, "vehicle_id": "igv 07"}, {"vehicle_id": "IGV-07"}, []),
    ("id against a plate-only manifest, plate not read", {"plate": None, "vehicle_id": "IGV-07"},
     {"plate": "24C12345"}, ["vehicle_mismatch_declaration"]),
    ("id against a plate-only manifest, declared plate read", {"vehicle_id": "IGV-07"}, {"plate": "24C12345"}, []),
    ("declared IGV, plated truck came", {}, {"vehicle_id": "IGV-07"}, ["vehicle_mismatch_declaration"]),
    ("declared IGV and plate, plate read", {}, {"vehicle_id": "IGV-07", "plate": "24C12345"}, []),
    ("neither has an id", {}, {}, []),
])
def test_vehicle_identity_against_the_declaration(name, passage, declared, expected):
    assert codes(decide(facts(**passage), decl(**declared), RULES)) == expected


def test_reason_sentences():
    r = reason("vehicle_mismatch_declaration", ("vehicle id IGV-08, declared IGV-07", "mã IGV-08, khai IGV-07"))
    assert r.message_en.endswith("(vehicle id IGV-08, declared IGV-07).")
    assert r.message_vi.startswith("Mã phương tiện khác")


# -- triggers with a vehicle id only on IGV lanes ---------------------------------------------------

CFG = {"gate": {"id": "kim-thanh"},
       "lanes": [{"id": "in1", "direction": "import"}, {"id": "igv1", "direction": "import", "igv": True}],
       "cameras": [{"name": "front", "source": "clip.mp4", "role": "plate", "lane": "in1"},
                   {"name": "igv-front", "source": "clip2.mp4", "role": "plate", "lane": "igv1"}]}


class _Lane:
    def __init__(self) -> None:
        self.got: list[tuple[str, str | None]] = []

    def trigger(self, state: str, vehicle_id: str | None = None) -> None:
        self.got.append((state, vehicle_id))


def _daemon_like():
    """Daemon.on_trigger on the real config model, without cameras or readers."""
    cfg = parse_config(CFG)
    assert cfg.lane("igv1").igv and not cfg.lane("in1").igv
    lanes = {"in1": _Lane(), "igv1": _Lane()}
    fake = SimpleNamespace(cfg=cfg, lanes=lanes)
    return (lambda lane, state, vid: Daemon.on_trigger(fake, lane, state, vid)), lanes  # type: ignore[arg-type]


def test_daemon_refuses_a_vehicle_id_on_a_lane_without_igvs():
    on_trigger, lanes = _daemon_like()
    on_trigger("igv1", "start", "IGV-07")
    on_trigger("in1", "start", None)
    with pytest.raises(ValueError, match="igv"):
        on_trigger("in1", "start", "IGV-07")
    assert lanes["igv1"].got == [("start", "IGV-07")]
    assert lanes["in1"].got == [("start", None)]


def test_api_answers_422_for_a_vehicle_id_on_a_plain_lane(tmp_path, monkeypatch):
    monkeypatch.setenv("SG_TEST_TOKEN", "s3cret-token-for-tests")
    on_trigger, lanes = _daemon_like()
    store = Store(tmp_path / "gate.db")
    state = ApiState(store=store, evidence=EvidenceStore(tmp_path / "ev"), metrics=Metrics(), gate_id="kim-thanh",
                     gate_name="", version="0", token="s3cret-token-for-tests", on_trigger=on_trigger,
                     lanes=["in1", "igv1"])
    h = {"Authorization": "Bearer s3cret-token-for-tests"}
    with TestClient(create_app(state)) as client:
        r = client.post("/api/lanes/in1/trigger", json={"state": "start", "vehicle_id": "IGV-07"}, headers=h)
        assert r.status_code == 422 and "igv" in r.json()["detail"]
        assert client.post("/api/lanes/igv1/trigger", json={"state": "start", "vehicle_id": "IGV-07"},
                           headers=h).status_code == 202
        assert client.post("/api/lanes/in1/trigger", json={"state": "start"}, headers=h).status_code == 202
    store.close()
    assert lanes["in1"].got == [("start", None)] and lanes["igv1"].got == [("start", "IGV-07")]


def test_mqtt_trigger_with_a_vehicle_id_on_a_plain_lane_is_ignored(mosquitto):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from edge.comms.mqtt import MqttPublisher

    on_trigger, lanes = _daemon_like()
    seen = threading.Event()

    def wrapped(lane: str, state: str, vid: str | None) -> None:
        try:
            on_trigger(lane, state, vid)
        finally:
            if lane == "igv1":
                seen.set()

    cfg = MqttConfig(url=mosquitto.url, topic_prefix="sg", client_id=f"igv-{os.getpid()}-{time.monotonic_ns()}")
    pub = MqttPublisher(cfg, "kim-thanh", reconnect_min_s=1, reconnect_max_s=1, on_trigger=wrapped,
                        lanes=["in1", "igv1"])
    try:
        assert pub.wait_connected(10)
        time.sleep(0.2)
        c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="plc")
        c.connect(mosquitto.host, mosquitto.port)
        c.loop_start()
        c.publish("sg/kim-thanh/in1/trigger", json.dumps({"state": "start", "vehicle_id": "IGV-07"}),
                  qos=1).wait_for_publish(5)
        c.publish("sg/kim-thanh/igv1/trigger", json.dumps({"state": "start", "vehicle_id": "IGV-07"}),
                  qos=1).wait_for_publish(5)
        c.disconnect()
        c.loop_stop()
        assert seen.wait(10)
        assert pub.connected  # the refused trigger did not break the network loop
    finally:
        pub.close(timeout=1)
    assert lanes["in1"].got == [] and lanes["igv1"].got == [("start", "IGV-07")]
