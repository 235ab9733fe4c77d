"""Inbound MQTT: declarations and lane triggers through a real Mosquitto broker."""

from __future__ import annotations

import json
import os
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from conftest import MqttCollector
from paho.mqtt.enums import CallbackAPIVersion

from edge.comms.mqtt import MqttPublisher
from edge.config import MqttConfig
from edge.domain.declarations import Declaration

GATE = "huu-nghi"
BASE = f"sg/{GATE}"


class Inbox:
    def __init__(self) -> None:
        self.declarations: list[Declaration] = []
        self.triggers: list[tuple[str, str, str | None]] = []
        self.cond = threading.Condition()
        self.fail_with: Exception | None = None

    def on_declaration(self, d: Declaration) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        with self.cond:
            self.declarations.append(d)
            self.cond.notify_all()

    def on_trigger(self, lane: str, state: str, vehicle_id: str | None) -> None:
        with self.cond:
            self.triggers.append((lane, state, vehicle_id))
            self.cond.notify_all()

    def wait(self, pred, timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(pred, timeout)


def send(url: str, topic: str, payload: str | bytes) -> None:
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"sender-{time.monotonic_ns()}")
    c.connect(host, int(port))
    c.loop_start()
    c.publish(topic, payload, qos=1).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()


@pytest.fixture
def inbound(mosquitto):
    box = Inbox()
    cfg = MqttConfig(url=mosquitto.url, topic_prefix="sg", client_id=f"edge-{os.getpid()}-{time.monotonic_ns()}")
    pub = MqttPublisher(cfg, GATE, reconnect_min_s=1, reconnect_max_s=1, on_declaration=box.on_declaration,
                        on_trigger=box.on_trigger, lanes=["in-1"])
    assert pub.wait_connected(10)
    col = MqttCollector(mosquitto.url, topics=[f"{BASE}/declarations/rejected"])
    time.sleep(0.2)  # let the SUBACK of the publisher's subscriptions arrive
    yield box, col, pub
    col.close()
    pub.close(timeout=1)


def test_declaration_reaches_the_callback_and_bad_ones_are_rejected(mosquitto, inbound):
    box, col, _ = inbound
    good = {"id": "NSW-1", "direction": "import", "plate": "29C-123.45", "containers": ["MSKU 123456 5"],
            "lines": [{"hs_code": "3102.10"}]}
    send(mosquitto.url, f"{BASE}/declarations", json.dumps(good))
    assert box.wait(lambda: len(box.declarations) == 1)
    d = box.declarations[0]
    assert d.id == "NSW-1" and d.plate == "29C12345" and d.containers == ["MSKU1234565"]
    assert d.received_at is not None

    bad = {**good, "id": "NSW-2", "containers": ["MSKU1234566"]}
    send(mosquitto.url, f"{BASE}/declarations", json.dumps(bad))
    send(mosquitto.url, f"{BASE}/declarations", b"\xff not json")
    send(mosquitto.url, f"{BASE}/declarations", json.dumps({**good, "id": "NSW-3", "gate": "lao-cai"}))
    got = col.wait_for(3, f"{BASE}/declarations/rejected", timeout=10)
    bodies = [m.json() for m in got]
    assert bodies[0]["id"] == "NSW-2" and "check digit should be 5, not 6" in bodies[0]["error"]
    assert bodies[1]["id"] is None and "json" in bodies[1]["error"].lower()
    assert bodies[2]["id"] == "NSW-3" and "lao-cai" in bodies[2]["error"]
    # the client loop survived: a later good one still arrives
    send(mosquitto.url, f"{BASE}/declarations", json.dumps({**good, "id": "NSW-4"}))
    assert box.wait(lambda: len(box.declarations) == 2)
    assert [x.id for x in box.declarations] == ["NSW-1", "NSW-4"]


def test_callback_errors_become_rejections(mosquitto, inbound):
    box, col, _ = inbound
    good = {"id": "NSW-9", "direction": "export", "vehicle_id": "IGV-07", "empty": True}
    box.fail_with = ValueError("duplicate of a matched declaration")
    send(mosquitto.url, f"{BASE}/declarations", json.dumps(good))
    # delivery is asynchronous: switch the failure only once the first message has been handled
    assert len(col.wait_for(1, f"{BASE}/declarations/rejected", timeout=10)) == 1
    box.fail_with = RuntimeError("disk full")
    send(mosquitto.url, f"{BASE}/declarations", json.dumps(good))
    got = [m.json() for m in col.wait_for(2, f"{BASE}/declarations/rejected", timeout=10)]
    assert got[0] == {"id": "NSW-9", "error": "duplicate of a matched declaration"}
    assert got[1]["id"] == "NSW-9" and "not stored" in got[1]["error"]
    box.fail_with = None
    send(mosquitto.url, f"{BASE}/declarations", json.dumps(good))
    assert box.wait(lambda: len(box.declarations) == 1)


def test_triggers(mosquitto, inbound):
    box, _, _ = inbound
    send(mosquitto.url, f"{BASE}/in-1/trigger", json.dumps({"state": "start", "vehicle_id": "IGV-07"}))
    send(mosquitto.url, f"{BASE}/unknown/trigger", json.dumps({"state": "start"}))  # unknown lane: ignored
    send(mosquitto.url, f"{BASE}/in-1/trigger", json.dumps({"state": "open"}))  # invalid: ignored
    send(mosquitto.url, f"{BASE}/in-1/trigger", b"end")  # plain-text form
    assert box.wait(lambda: len(box.triggers) >= 2)
    time.sleep(0.3)
    assert box.triggers == [("in-1", "start", "IGV-07"), ("in-1", "end", None)]


def test_resubscribes_after_broker_restart(mosquitto, inbound):
    box, _, pub = inbound
    mosquitto.stop()  # non-persistent broker: it forgets the session and its subscriptions
    deadline = time.monotonic() + 10
    while pub.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pub.connected
    mosquitto.start()
    deadline = time.monotonic() + 15
    while not pub.connected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pub.connected
    time.sleep(0.3)
    send(mosquitto.url, f"{BASE}/in-1/trigger", json.dumps({"state": "start"}))
    assert box.wait(lambda: box.triggers == [("in-1", "start", None)])
