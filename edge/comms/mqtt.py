"""The box's MQTT connection: passages, decisions and gate/camera status out (paho-mqtt 2).

Delivery model: with an `Outbox` (the daemon always gives one) passage and
decision events are committed to SQLite first and published by a drain thread in
order while connected; a row is deleted only after the broker's PUBACK, so a
broker outage or a daemon crash (kill -9, power cut) loses nothing: the backlog
drains on reconnect or after the restart. Between the two, paho keeps in-flight
QoS 1 messages and re-sends them on reconnect (persistent session,
clean_session=False). Without an outbox (tests, tools) events go straight to
paho's in-memory queue. Status messages (availability, camera status) are
retained state, re-published at start-up, and never go through the outbox.
Availability uses the usual retained online/offline topic with
`offline` as the last will, so a crash or cable cut shows up for subscribers.

Inbound (when the daemon passes callbacks): declarations and lane triggers arrive over the same connection
(one client, one persistent session) and are handled by edge/comms/mqtt_in.py, subscribed at QoS 1 on every
(re)connect.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from edge.comms.config import MqttConfig
from edge.comms.mqtt_in import MqttInbound
from edge.comms.payload import camera_status_payload, iso_utc, passage_payload
from edge.domain.declarations import (
    VEHICLE_ID_PATTERN,
    Declaration,
)
from edge.domain.types import Passage
from edge.metrics import Metrics
from edge.storage.outbox import Outbox

log = logging.getLogger(__name__)

_VEHICLE_ID = re.compile(VEHICLE_ID_PATTERN)
_DECL_ID = re.compile(rb'"id"\s*:\s*"([A-Za-z0-9._-]{1,64})"')


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
        on_declaration: Callable[[Declaration], None] | None = None,
        on_trigger: Callable[[str, str, str | None], None] | None = None,
        lanes: list[str] | None = None,
        outbox: Outbox | None = None,
        max_inflight: int = 100,
    ) -> None:
        """`on_declaration` gets each valid declaration (received_at set) and must store it; raising
        ValueError rejects it with that message. `on_trigger(lane, state, vehicle_id)`; `lanes` (if given)
        limits the lanes that accept triggers. Callbacks run on paho's network thread: keep them short.
        `outbox`: durable store of passage/decision events (see the module doc); `max_inflight` caps the
        outbox events handed to paho and not yet acknowledged."""
        self.cfg = cfg
        self.gate_id = gate_id
        self.metrics = metrics
        self.host, self.port, tls = parse_broker_url(cfg.url)
        self.base = f"{cfg.topic_prefix.strip('/')}/{gate_id}"
        self.availability_topic = f"{self.base}/available"
        # Declarations and triggers in (edge/comms/mqtt_in.py), over this one connection.
        self.inbound = MqttInbound(self.base, gate_id, lambda topic, body, qos, retain: self._publish(
            topic, body, qos=qos, retain=retain), on_declaration, on_trigger, lanes)
        self.declarations_topic = self.inbound.declarations_topic
        self.rejected_topic = self.inbound.rejected_topic

        self._lock = threading.Condition()
        self._pending: set[int] = set()  # mids published, PUBACK not yet seen
        self._acked_early: set[int] = set()  # PUBACK seen before publish() returned the mid
        self._connected = threading.Event()
        self._closed = False
        self.outbox = outbox
        self._max_inflight = max(1, max_inflight)
        self._inflight: dict[int, int] = {}  # mid -> outbox seq, handed to paho, PUBACK not yet seen
        self._acked_seqs: list[int] = []  # PUBACKed outbox rows the drain thread deletes (batched)
        self._drain_stop = threading.Event()
        self._drain: threading.Thread | None = None

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
        c.on_message = self._on_message
        # connect_async + loop_start: a broker that is down at start-up is retried in
        # the background instead of failing the daemon.
        c.connect_async(self.host, self.port, keepalive=cfg.keepalive_s)
        c.loop_start()
        if outbox is not None:
            self._drain = threading.Thread(target=self._drain_loop, name="mqtt-outbox", daemon=True)
            self._drain.start()
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
        # Subscribe on every connect: the session usually keeps subscriptions, but a broker restarted
        # without persistence has forgotten them.
        if subs := self.inbound.subscriptions():
            client.subscribe(subs)
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
            if mid in self._inflight:
                self._acked_seqs.append(self._inflight.pop(mid))
            elif mid in self._pending:
                self._pending.discard(mid)
            else:
                self._acked_early.add(mid)
            self._lock.notify_all()
        if self.metrics:
            self.metrics.mqtt_published_total.inc()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.inbound.handle(msg.topic, bytes(msg.payload), bool(msg.retain))

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

    def enqueue(self, topic: str, payload: str | bytes, qos: int, retain: bool = False,
                event_id: str | None = None, passage_created_at: datetime | None = None) -> None:
        """An event that must not be lost: committed to the outbox (when there is one) before publishing."""
        if self.outbox is None:
            self._publish(topic, payload, qos=qos, retain=retain)
            return
        self.outbox.enqueue(topic, payload, qos, retain, event_id=event_id, passage_created_at=passage_created_at)

    def publish_passage(self, p: Passage, evidence_base_url: str | None) -> None:
        """Queue the passage event; delivered at cfg.qos even if the broker is away right now."""
        topic = f"{self.base}/{p.lane}/passage"
        body = json.dumps(passage_payload(p, evidence_base_url), ensure_ascii=False, separators=(",", ":"))
        self.enqueue(topic, body, qos=self.cfg.qos, retain=False, event_id=p.id, passage_created_at=p.created_at)

    def resume_passages(self, evidence_base_url: str | None) -> int:
        """Enqueue the events of passages stored but never enqueued (a crash between the store's commit and
        the outbox's); returns how many. The daemon calls it once at start-up."""
        if self.outbox is None:
            return 0
        missed = self.outbox.passages_after_mark()
        for p in missed:
            self.publish_passage(p, evidence_base_url)
        if missed:
            log.warning("MQTT: %d stored passage(s) had no event (crash before enqueue); enqueued now", len(missed))
        return len(missed)

    def publish_decision(self, decision: dict[str, Any]) -> None:
        """An inspector's decision (edge.api.review.audit.decision_payload) on `<prefix>/<gate>/<lane>/decision`,
        QoS >= 1, not retained; `event_id` is the passage's, so subscribers join it to the passage event."""
        body = json.dumps(decision, default=_json_default, ensure_ascii=False, separators=(",", ":"))
        self.enqueue(f"{self.base}/{decision['lane']}/decision", body, qos=max(1, self.cfg.qos), retain=False,
                     event_id=decision.get("event_id"))

    # -- outbox drain (own thread) ---------------------------------------------

    def _drain_loop(self) -> None:
        assert self.outbox is not None
        last = 0  # highest seq handed to paho in this process; rows above it are new or from a previous run
        next_gauge = 0.0
        while not self._drain_stop.is_set():
            try:
                with self._lock:
                    acked, self._acked_seqs = self._acked_seqs, []
                try:
                    self.outbox.ack(acked)
                except Exception:  # a full disk: keep the acks and delete those rows on the next round
                    with self._lock:
                        self._acked_seqs[:0] = acked
                    raise
                now = time.monotonic()
                if self.metrics and now >= next_gauge:
                    self.metrics.outbox_depth.set(self.outbox.depth())
                    self.metrics.outbox_oldest_age.set(self.outbox.oldest_age_s())
                    next_gauge = now + 1.0
                if not self._connected.is_set():
                    # Hand nothing to paho while offline: the rows wait in SQLite and go out in order on
                    # reconnect (what paho already holds it re-sends itself, first).
                    self._connected.wait(0.5)
                    continue
                with self._lock:
                    room = self._max_inflight - len(self._inflight)
                    if room <= 0:
                        self._lock.wait(0.2)
                        continue
                items = self.outbox.after(last, room)
                if not items:
                    self.outbox.wait_for_new(last, 0.2)
                    continue
                for it in items:
                    if not self._connected.is_set() or self._drain_stop.is_set():
                        break
                    info = self._client.publish(it.topic, it.payload, qos=it.qos, retain=it.retain)
                    if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:  # mid wrapped onto one in flight
                        break
                    with self._lock:
                        if it.qos == 0 and info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                            break  # QoS 0 is not queued by paho: keep the row, try again
                        if info.mid in self._acked_early:
                            self._acked_early.discard(info.mid)
                            self._acked_seqs.append(it.seq)
                        else:
                            self._inflight[info.mid] = it.seq
                    last = it.seq
            except Exception:  # a locked or full database must not end delivery for good
                log.exception("MQTT: outbox drain failed; retrying")
                self._drain_stop.wait(1.0)

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
        """Messages not yet acknowledged: paho's direct ones plus the outbox's rows."""
        with self._lock:
            n = len(self._pending)
        if self.outbox is not None:
            n += self.outbox.depth()
        return n

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def wait_published(self, timeout: float) -> bool:
        """True once every message published so far has been acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending or self._inflight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        if self.outbox is None:
            return True
        # Rows not yet handed to paho, or acked but not yet deleted by the drain thread.
        while self.outbox.depth():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Say `offline` (retained), give queued messages `timeout` s to be acked, disconnect."""
        if self._closed:
            return
        if self.connected:
            self._publish(self.availability_topic, "offline", qos=1, retain=True)
        if not self.wait_published(timeout):
            log.error("MQTT: closing with %d message(s) not acknowledged by the broker%s", self.pending_count,
                      " (outbox events stay stored and are sent by the next start)" if self.outbox else "")
        self._closed = True
        self._drain_stop.set()
        if self._drain is not None:
            self._drain.join(5)
            with self._lock:
                acked, self._acked_seqs = self._acked_seqs, []
            if self.outbox is not None:
                self.outbox.ack(acked)
        self._client.disconnect()
        self._client.loop_stop()
        if self.metrics:
            self.metrics.mqtt_connected.set(0)
