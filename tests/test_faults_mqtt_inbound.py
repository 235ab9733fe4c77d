"""Issue #15, hardening of inbound MQTT through a real Mosquitto broker: retained lane triggers are never
acted on (they would be replayed on every reconnect), and declarations that are nested absurdly deep or
carry non-finite numbers are answered on the rejected topic instead of killing the handler."""

from __future__ import annotations

import json
import logging
import os
import time

import paho.mqtt.client as mqtt
import pytest
from conftest import MqttCollector
from paho.mqtt.enums import CallbackAPIVersion
from test_mqtt_inbound import BASE, GATE, Inbox, send

from edge.comms.mqtt import MqttPublisher
from edge.config import MqttConfig

GOOD = {"id": "NSW-1", "direction": "import", "plate": "29C-123.45", "lines": [{"hs_code": "3102.10"}]}


def send_retained(url: str, topic: str, payload: str | bytes) -> None:
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"plc-{time.monotonic_ns()}")
    c.connect(host, int(port))
    c.loop_start()
    c.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()


def publisher(url: str, box: Inbox) -> MqttPublisher:
    cfg = MqttConfig(url=url, topic_prefix="sg", client_id=f"edge-{os.getpid()}-{time.monotonic_ns()}")
    pub = MqttPublisher(cfg, GATE, reconnect_min_s=1, reconnect_max_s=1, on_declaration=box.on_declaration,
                        on_trigger=box.on_trigger, lanes=["in-1"])
    assert pub.wait_connected(10)
    return pub


def live_trigger_arrives(url: str, box: Inbox, state: str, vehicle_id: str) -> bool:
    """Publish a live trigger until the gate has seen it (the subscription may still be on its way)."""
    want = ("in-1", state, vehicle_id)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        send(url, f"{BASE}/in-1/trigger", json.dumps({"state": state, "vehicle_id": vehicle_id}))
        if box.wait(lambda: want in box.triggers, timeout=1.0):
            return True
    return False


def test_retained_trigger_is_ignored_on_connect_and_on_every_reconnect(mosquitto_persistent, caplog):
    broker = mosquitto_persistent
    # A PLC gateway that (wrongly) publishes its trigger retained: the broker keeps it and hands it to every
    # new subscription, so before the fix each (re)connect of the gate opened a passage nobody caused.
    send_retained(broker.url, f"{BASE}/in-1/trigger", json.dumps({"state": "start", "vehicle_id": "IGV-07"}))
    box = Inbox()
    caplog.set_level(logging.WARNING, logger="edge.comms.mqtt")
    pub = publisher(broker.url, box)
    try:
        # the retained one is sent on subscribe, before any later live one; only the live one is acted on
        assert live_trigger_arrives(broker.url, box, "end", "LIVE-1")
        broker.stop()  # persistent: the retained message survives the restart
        deadline = time.monotonic() + 10
        while pub.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        broker.start()
        assert pub.wait_connected(15)
        assert live_trigger_arrives(broker.url, box, "start", "LIVE-2")
        assert {t[2] for t in box.triggers} == {"LIVE-1", "LIVE-2"}  # IGV-07 (retained) never
    finally:
        pub.close(timeout=1)
    warnings = [r for r in caplog.records if "retained trigger" in r.getMessage()]
    assert len(warnings) == 1 and f"{BASE}/in-1/trigger" in warnings[0].getMessage()  # once per topic


def test_retained_declaration_is_still_accepted(mosquitto):
    send_retained(mosquitto.url, f"{BASE}/declarations", json.dumps(GOOD))
    box = Inbox()
    pub = publisher(mosquitto.url, box)
    try:
        assert box.wait(lambda: len(box.declarations) == 1)
        assert box.declarations[0].id == "NSW-1"
    finally:
        pub.close(timeout=1)


@pytest.fixture
def gate(mosquitto):
    box = Inbox()
    pub = publisher(mosquitto.url, box)
    col = MqttCollector(mosquitto.url, topics=[f"{BASE}/declarations/rejected"])
    time.sleep(0.2)  # the SUBACK of the publisher's subscriptions
    yield box, col
    col.close()
    pub.close(timeout=1)


def test_deeply_nested_declaration_is_rejected_on_mqtt(mosquitto, gate):
    box, col = gate
    depth = 100_000  # 200 kB, under the size limit: json.loads used to raise RecursionError, nothing answered
    send(mosquitto.url, f"{BASE}/declarations", b"[" * depth + b"]" * depth)
    nested_in_field = json.dumps({**GOOD, "id": "NSW-DEEP"})[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}"
    send(mosquitto.url, f"{BASE}/declarations", nested_in_field)
    got = [m.json() for m in col.wait_for(2, f"{BASE}/declarations/rejected", timeout=10)]
    assert len(got) == 2
    assert got[0]["id"] is None and "nested deeper than" in got[0]["error"]
    assert got[1]["id"] == "NSW-DEEP" and "nested deeper than" in got[1]["error"]
    # the handler survived: a good declaration still arrives
    send(mosquitto.url, f"{BASE}/declarations", json.dumps(GOOD))
    assert box.wait(lambda: len(box.declarations) == 1)


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity", "-Infinity"])
def test_non_finite_quantity_is_rejected_on_mqtt(mosquitto, gate, number):
    box, col = gate
    text = json.dumps({**GOOD, "id": "NSW-Q", "lines": [{"hs_code": "310210", "quantity": 7}]})
    send(mosquitto.url, f"{BASE}/declarations", text.replace('"quantity": 7', f'"quantity": {number}'))
    got = [m.json() for m in col.wait_for(1, f"{BASE}/declarations/rejected", timeout=10)]
    assert got and got[0]["id"] == "NSW-Q" and "finite" in got[0]["error"]
    assert box.declarations == []


def test_deeply_nested_trigger_is_ignored_and_the_loop_survives(mosquitto, gate):
    box, _ = gate
    send(mosquitto.url, f"{BASE}/in-1/trigger", b"[" * 50_000 + b"]" * 50_000)
    assert live_trigger_arrives(mosquitto.url, box, "start", "IGV-07")
    assert set(box.triggers) == {("in-1", "start", "IGV-07")}
