"""Publish passages and gate/camera status to an MQTT broker (paho-mqtt 2).

Delivery model: QoS 1 messages are handed to paho, which keeps every one until
the broker's PUBACK, across disconnects, and re-sends them after reconnecting
(publish() while disconnected queues the message; nothing is dropped). The
queue lives in memory: a process crash while the broker is away loses what
was queued, but the passage is already in SQLite (a later outbox will replay
from there). Availability uses the usual retained online/offline topic with
`offline` as the last will, so a crash or cable cut shows up for subscribers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from edge.config import MqttConfig
from edge.domain import Passage
from edge.metrics import Metrics
from edge.payload import camera_status_payload, iso_utc, passage_payload

log = logging.getLogger(__name__)


def _json_default(o: object) -> Any:
    if isinstance(o, datetime):
        return iso_utc(o)
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json")
    return str(o)


def parse_broker_url(url: str) -> tuple[str, int, bool]:
    """mqtt://host[:port] or mqtts://host[:port] -> (host, port, tls)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError("mqtt.url must start with mqtt:// or mqtts://")
    if parts.username or parts.password:
        # Never keep secrets in the config file (and never log them).
        raise ValueError("mqtt.url must not contain credentials; use mqtt.username_env / mqtt.password_env")
    if not parts.hostname:
        raise ValueError("mqtt.url has no host")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as e:
        raise ValueError(f"mqtt.url has an invalid port: {e}") from None
    return parts.hostname, port, tls


class MqttPublisher:
    def __init__(
        self,
        cfg: MqttConfig,
        gate_id: str,
        metrics: Metrics | None = None,
        reconnect_min_s: int = 1,
        reconnect_max_s: int = 30,
    ) -> None:
        self.cfg = cfg
        self.gate_id = gate_id
        self.metrics = metrics
        self.host, self.port, tls = parse_broker_url(cfg.url)
        self.base = f"{cfg.topic_prefix.strip('/')}/{gate_id}"
        self.availability_topic = f"{self.base}/available"

        self._lock = threading.Condition()
        self._pending: set[int] = set()  # mids published, PUBACK not yet seen
        self._acked_early: set[int] = set()  # PUBACK seen before publish() returned the mid
        self._connected = threading.Event()
        self._closed = False

        # clean_session=False: the broker keeps our session across reconnects so
        # in-flight QoS 1 messages are completed rather than forgotten.
        c = self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        c.enable_logger(logging.getLogger("paho.mqtt"))
        c.max_queued_messages_set(0)  # 0 = unbounded: a publish while offline is queued, not refused
        c.reconnect_delay_set(min_delay=reconnect_min_s, max_delay=reconnect_max_s)
        c.will_set(self.availability_topic, "offline", qos=1, retain=True)
        user, pwd = cfg.credentials()
        if user:
            c.username_pw_set(user, pwd)
        if tls:
            c.tls_set(ca_certs=cfg.ca_file, certfile=cfg.cert_file, keyfile=cfg.key_file)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        # connect_async + loop_start: a broker that is down at start-up is retried in
        # the background instead of failing the daemon.
        c.connect_async(self.host, self.port, keepalive=cfg.keepalive_s)
        c.loop_start()
        log.info("MQTT: connecting to %s:%d as %s (tls=%s, auth=%s)",
                 self.host, self.port, cfg.client_id, tls, bool(user))

    # -- paho callbacks (network thread) ------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            log.warning("MQTT: broker %s:%d refused the connection: %s", self.host, self.port, reason_code)
            return
        log.info("MQTT: connected to %s:%d (session present: %s)", self.host, self.port, flags.session_present)
        # Queue `online` before signalling "connected" so that wait_connected() followed by
        # wait_published() also covers the availability message.
        self._publish(self.availability_topic, "online", qos=1, retain=True)
        self._connected.set()
        if self.metrics:
            self.metrics.mqtt_connected.set(1)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        self._connected.clear()
        if self.metrics:
            self.metrics.mqtt_connected.set(0)
        if not self._closed:
            log.warning("MQTT: disconnected from %s:%d (%s); %d message(s) waiting, reconnecting",
                        self.host, self.port, reason_code, self.pending_count)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        with self._lock:
            if mid in self._pending:
                self._pending.discard(mid)
            else:
                self._acked_early.add(mid)
            self._lock.notify_all()
        if self.metrics:
            self.metrics.mqtt_published_total.inc()

    # -- publishing ---------------------------------------------------------

    def _publish(self, topic: str, payload: str | bytes, qos: int, retain: bool) -> None:
        for _ in range(3):
            info = self._client.publish(topic, payload, qos=qos, retain=retain)
            # With an unbounded queue this only means the 16-bit message id wrapped onto a
            # message still in flight; the next try gets the next id.
            if info.rc != MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                break
        else:
            log.error("MQTT: message on %s NOT queued (message ids exhausted)", topic)
            return
        if qos == 0 and info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.error("MQTT: QoS 0 message on %s lost while disconnected (%s)", topic, info.rc)
            return
        with self._lock:
            if info.mid in self._acked_early:
                self._acked_early.discard(info.mid)
            else:
                self._pending.add(info.mid)

    def publish_passage(self, p: Passage, evidence_base_url: str | None) -> None:
        """Queue the passage event; delivered at cfg.qos even if the broker is away right now."""
        topic = f"{self.base}/{p.lane}/passage"
        body = json.dumps(passage_payload(p, evidence_base_url), ensure_ascii=False, separators=(",", ":"))
        self._publish(topic, body, qos=self.cfg.qos, retain=False)

    def publish_camera_status(self, name: str, state: str, detail: dict[str, Any] | None = None) -> None:
        """Retained, so a subscriber that connects later sees each camera's last state."""
        body = json.dumps(camera_status_payload(name, state, detail), default=_json_default,
                          ensure_ascii=False, separators=(",", ":"))
        self._publish(f"{self.base}/camera/{name}/status", body, qos=max(1, self.cfg.qos), retain=True)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def wait_published(self, timeout: float) -> bool:
        """True once every message published so far has been acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Say `offline` (retained), give queued messages `timeout` s to be acked, disconnect."""
        if self._closed:
            return
        if self.connected:
            self._publish(self.availability_topic, "offline", qos=1, retain=True)
        if not self.wait_published(timeout):
            log.error("MQTT: closing with %d message(s) not acknowledged by the broker", self.pending_count)
        self._closed = True
        self._client.disconnect()
        self._client.loop_stop()
        if self.metrics:
            self.metrics.mqtt_connected.set(0)
