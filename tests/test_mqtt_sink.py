"""MqttPublisher against a real Mosquitto broker on a free localhost port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from conftest import Mosquitto, MqttCollector, make_passage

from edge.comms.mqtt import MqttPublisher, parse_broker_url
from edge.comms.payload import load_schema
from edge.config import MqttConfig
from edge.metrics import Metrics

REPO = Path(__file__).resolve().parents[1]
GATE = "huu-nghi"


def _cfg(url: str, **kw) -> MqttConfig:
    client_id = kw.pop("client_id", f"edge-{os.getpid()}-{time.monotonic_ns()}")
    return MqttConfig(url=url, topic_prefix="sg", client_id=client_id, **kw)


@pytest.fixture
def publisher(mosquitto):
    pubs: list[MqttPublisher] = []

    def make(metrics: Metrics | None = None, **kw) -> MqttPublisher:
        p = MqttPublisher(_cfg(mosquitto.url, **kw), GATE, reconnect_min_s=1, reconnect_max_s=1, metrics=metrics)
        pubs.append(p)
        return p

    yield make
    for p in pubs:
        p.close(timeout=1)


def test_parse_broker_url():
    assert parse_broker_url("mqtt://broker.local") == ("broker.local", 1883, False)
    assert parse_broker_url("mqtts://10.0.0.1:8884") == ("10.0.0.1", 8884, True)
    assert parse_broker_url("mqtts://b") == ("b", 8883, True)
    with pytest.raises(ValueError, match="credentials"):
        parse_broker_url("mqtt://user:secret@b:1883")
    with pytest.raises(ValueError):
        parse_broker_url("http://b")


def test_online_is_retained_and_passage_arrives_at_qos1(mosquitto, publisher):
    metrics = Metrics()
    pub = publisher(metrics=metrics)
    assert pub.wait_connected(10)
    assert pub.wait_published(10)
    # a subscriber that connects later still learns the gate is online (retained)
    col = MqttCollector(mosquitto.url, topics=["sg/#"])
    try:
        avail = col.wait_for(1, f"sg/{GATE}/available", timeout=5)
        assert [(m.text, m.retain) for m in avail] == [("online", True)]

        p = make_passage()
        pub.publish_passage(p, "http://gate:8080")
        assert pub.wait_published(10)
        msgs = col.wait_for(1, f"sg/{GATE}/in-1/passage", timeout=5)
        assert len(msgs) == 1
        assert msgs[0].qos == 1 and not msgs[0].retain
        body = msgs[0].json()
        jsonschema.Draft202012Validator(load_schema()).validate(body)
        assert body["event_id"] == p.id and body["verdict"]["status"] == "flag"
    finally:
        col.close()
    text = metrics.render().decode()
    assert "smartgate_mqtt_connected 1.0" in text
    assert "smartgate_mqtt_published_total 2.0" in text  # online + passage, counted on PUBACK


def test_camera_status_is_retained(mosquitto, publisher):
    pub = publisher()
    pub.publish_camera_status("plate-in-1", "reconnecting", {"reconnects": 2, "last_error": "timeout"})
    assert pub.wait_published(10)
    col = MqttCollector(mosquitto.url, topics=[f"sg/{GATE}/camera/+/status"])
    try:
        msgs = col.wait_for(1, f"sg/{GATE}/camera/plate-in-1/status", timeout=5)
        assert msgs and msgs[0].retain
        body = msgs[0].json()
        assert body["state"] == "reconnecting" and body["detail"]["reconnects"] == 2
        jsonschema.Draft202012Validator(load_schema(Path(REPO, "edge/comms/schemas/camera_status.schema.json"))).validate(body)
    finally:
        col.close()


def test_clean_close_publishes_offline_retained(mosquitto, publisher):
    pub = publisher()
    assert pub.wait_connected(10) and pub.wait_published(10)
    pub.close()
    assert not pub.connected
    col = MqttCollector(mosquitto.url, topics=["sg/#"])
    try:
        msgs = col.wait_for(1, f"sg/{GATE}/available", timeout=5)
        assert [(m.text, m.retain) for m in msgs] == [("offline", True)]
    finally:
        col.close()


_CHILD = """
import sys, time
from edge.config import MqttConfig
from edge.comms.mqtt import MqttPublisher
pub = MqttPublisher(MqttConfig(url=sys.argv[1], topic_prefix="sg", client_id="child-edge", keepalive_s=5), "huu-nghi")
assert pub.wait_connected(10) and pub.wait_published(10)
print("ready", flush=True)
time.sleep(60)
"""


def test_last_will_offline_when_the_process_dies(mosquitto, mqtt_collector):
    child = subprocess.Popen([sys.executable, "-c", _CHILD, mosquitto.url], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line.strip() == "ready", child.stderr.read() if child.poll() is not None else line
        topic = f"sg/{GATE}/available"
        assert mqtt_collector.wait_until(lambda m: m.text == "online", topic, timeout=5)
        child.send_signal(signal.SIGKILL)  # no DISCONNECT, no "offline" from our code: only the will
        child.wait(5)
        will = mqtt_collector.wait_until(lambda m: m.text == "offline", topic, timeout=10)
        assert will is not None
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(5)
        child.stdout.close()
        child.stderr.close()
    # and it is retained for whoever looks later
    late = MqttCollector(mosquitto.url, topics=[topic])
    try:
        assert [(m.text, m.retain) for m in late.wait_for(1, topic, timeout=5)] == [("offline", True)]
    finally:
        late.close()


@pytest.mark.parametrize("broker_down_at_start", [False, True])
def test_publish_while_broker_down_is_delivered_after_restart(mosquitto_persistent, broker_down_at_start):
    broker: Mosquitto = mosquitto_persistent
    topic = f"sg/{GATE}/in-1/passage"
    # a persistent subscriber: the broker queues QoS 1 messages for it across the restart
    col = MqttCollector(broker.url, topics=[topic], persistent=True)
    pub = None
    try:
        if not broker_down_at_start:
            pub = MqttPublisher(_cfg(broker.url), GATE, reconnect_min_s=1, reconnect_max_s=1)
            assert pub.wait_connected(10)
        broker.stop()
        deadline = time.monotonic() + 5
        while pub is not None and pub.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        if pub is None:
            pub = MqttPublisher(_cfg(broker.url), GATE, reconnect_min_s=1, reconnect_max_s=1)
        assert not pub.connected

        passages = [make_passage(), make_passage(lane="in-1")]
        for p in passages:
            pub.publish_passage(p, None)  # must not raise, must not be dropped
        assert pub.pending_count >= 2
        assert not pub.wait_published(0.3)

        broker.start()
        assert pub.wait_published(15), "queued messages were not acknowledged after the broker came back"
        msgs = col.wait_for(2, topic, timeout=10)
        assert sorted(m.json()["event_id"] for m in msgs) == sorted(p.id for p in passages)
    finally:
        if pub is not None:
            pub.close(timeout=1)
        col.close()


def test_username_password_from_environment(tmp_path_factory, monkeypatch):
    work = tmp_path_factory.mktemp("auth")
    pwfile = work / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pwfile), "gate", "s3cret-pw"], check=True,
                   capture_output=True)
    broker = Mosquitto(work, extra_conf=["allow_anonymous false", f"password_file {pwfile}"])
    broker.start()
    try:
        monkeypatch.setenv("SG_MQTT_USER", "gate")
        monkeypatch.setenv("SG_MQTT_PASS", "s3cret-pw")
        good = MqttPublisher(_cfg(broker.url, username_env="SG_MQTT_USER", password_env="SG_MQTT_PASS"), GATE)
        try:
            assert good.wait_connected(10)
        finally:
            good.close(timeout=1)
        monkeypatch.setenv("SG_MQTT_PASS", "wrong")
        bad = MqttPublisher(_cfg(broker.url, username_env="SG_MQTT_USER", password_env="SG_MQTT_PASS"), GATE)
        try:
            assert not bad.wait_connected(1)
        finally:
            bad.close(timeout=0.1)
    finally:
        broker.stop()


def _make_tls_files(d: Path) -> None:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=smartgate-test-ca")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "san.ext")


def test_tls_with_ca_file(tmp_path_factory):
    work = tmp_path_factory.mktemp("tls")
    try:
        _make_tls_files(work)
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"openssl cannot make test certificates: {e}")
    broker = Mosquitto(work, extra_conf=[f"cafile {work}/ca.crt", f"certfile {work}/server.crt",
                                         f"keyfile {work}/server.key"])
    broker.start()
    url = f"mqtts://127.0.0.1:{broker.port}"
    try:
        pub = MqttPublisher(_cfg(url, ca_file=str(work / "ca.crt")), GATE)
        try:
            assert pub.wait_connected(10)
            pub.publish_passage(make_passage(), None)
            assert pub.wait_published(10)
        finally:
            pub.close(timeout=1)
        # without our CA the server certificate is not trusted: no connection
        untrusted = MqttPublisher(_cfg(url), GATE)
        try:
            assert not untrusted.wait_connected(1)
        finally:
            untrusted.close(timeout=0.1)
    finally:
        broker.stop()


def test_secrets_never_logged(mosquitto, monkeypatch, caplog):
    monkeypatch.setenv("SG_MQTT_USER", "gate")
    monkeypatch.setenv("SG_MQTT_PASS", "very-secret-123")
    caplog.set_level("DEBUG")
    pub = MqttPublisher(_cfg(mosquitto.url, username_env="SG_MQTT_USER", password_env="SG_MQTT_PASS"), GATE)
    try:
        assert pub.wait_connected(10)
        pub.publish_passage(make_passage(), None)
        assert pub.wait_published(10)
    finally:
        pub.close(timeout=1)
    assert "very-secret-123" not in caplog.text
    assert "connected to 127.0.0.1" in caplog.text
