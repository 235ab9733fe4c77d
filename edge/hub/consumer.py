"""The hub's MQTT side: consume every box's passages and decisions (and the Single Window's declarations) into
PostgreSQL, and publish the hub's re-decisions from its outbox table.

Nothing lost, nothing doubled:
* persistent session (fixed client id, clean_session=False) and QoS 1 subscriptions: while the hub is down the
  broker keeps its messages (the hub broker needs `persistence true`, and `max_queued_messages` sized for the
  longest outage you plan for — docs/hub.md);
* manual acknowledgement: a message's PUBACK is sent only after the transaction that stored it has committed.
  A hub killed before the commit, or a database that is down, leaves the message unacknowledged, and the broker
  sends it again on the next connection;
* storing is idempotent on `event_id` (and on the box's `decision_id`), so a message delivered twice (acked but
  the ack lost, or redelivered after a crash between commit and ack) changes nothing the second time.

A message that can never be stored (not JSON, not a passage) is kept in `rejected_messages` and acknowledged, so
one bad publisher cannot stop the queue. Database trouble is retried with backoff, holding the batch (and, via
the broker's in-flight window, everything behind it).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from pydantic import ValidationError

from edge.comms.mqtt import parse_broker_url
from edge.domain.declarations import error_message, load_json, parse_declaration
from edge.hub.config import HubConfig
from edge.hub.core import HubCore
from edge.hub.db import HubDb

log = logging.getLogger("smartgate.hub.mqtt")

MAX_PAYLOAD = 1024 * 1024  # a passage event is a few kB; refuse absurd ones before parsing


@dataclass
class Incoming:
    gen: int  # connection generation: a message id is only meaningful on the connection that delivered it
    mid: int
    qos: int
    topic: str
    payload: bytes


class _BadMessage(Exception):
    pass


class HubConsumer:
    def __init__(self, cfg: HubConfig, db: HubDb, core: HubCore, reconnect_min_s: int = 1,
                 reconnect_max_s: int = 30) -> None:
        assert cfg.mqtt is not None
        self.cfg = cfg
        self.mcfg = cfg.mqtt
        self.db = db
        self.core = core
        self.prefix = self.mcfg.topic_prefix.strip("/")
        gates = self.mcfg.gates or ["+"]
        self.topics = [t for g in gates for t in (f"{self.prefix}/{g}/+/passage", f"{self.prefix}/{g}/+/decision",
                                                  f"{self.prefix}/{g}/declarations")]
        self.host, self.port, tls = parse_broker_url(self.mcfg.url)
        self._q: queue.Queue[Incoming] = queue.Queue()
        self._gen = 0
        self._gen_lock = threading.Lock()
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._outbox_wake = threading.Event()
        self._pub_lock = threading.Condition()
        self._inflight: dict[int, int] = {}  # mid -> outbox seq
        self._acked_early: set[int] = set()
        self._acked_seqs: list[int] = []
        self.ingested = 0
        self.duplicates = 0
        self.rejected = 0
        self.redecided = 0
        self.db_errors = 0
        self.lags: deque[float] = deque(maxlen=100_000)  # box decision -> hub commit, seconds (for the benchmark)

        c = self._client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                       client_id=self.mcfg.client_id, clean_session=False,
                                       protocol=mqtt.MQTTv311)
        c.enable_logger(logging.getLogger("paho.mqtt.hub"))
        c.manual_ack_set(True)  # PUBACK after the database commit, not on receipt
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(min_delay=reconnect_min_s, max_delay=reconnect_max_s)
        user, pwd = self.mcfg.credentials()
        if user:
            c.username_pw_set(user, pwd)
        if tls:
            c.tls_set(ca_certs=self.mcfg.ca_file, certfile=self.mcfg.cert_file, keyfile=self.mcfg.key_file)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_publish = self._on_publish
        self._threads = [threading.Thread(target=self._ingest_loop, name="hub-ingest", daemon=True),
                         threading.Thread(target=self._outbox_loop, name="hub-outbox", daemon=True)]

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        for t in self._threads:
            t.start()
        self._client.connect_async(self.host, self.port, keepalive=self.mcfg.keepalive_s)
        self._client.loop_start()
        log.info("hub MQTT: connecting to %s:%d as %s, consuming %s", self.host, self.port, self.mcfg.client_id,
                 ", ".join(self.topics))

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking messages; what was received and not committed stays unacknowledged (the broker resends)."""
        self._stop.set()
        self._outbox_wake.set()
        for t in self._threads:
            t.join(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def backlog(self) -> int:
        return self._q.qsize()

    # -- paho callbacks (network thread) -------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            log.warning("hub MQTT: broker refused the connection: %s", reason_code)
            return
        with self._gen_lock:
            self._gen += 1
        with self._pub_lock:  # paho re-sends what it had in flight itself; the rest comes from the outbox again
            self._inflight.clear()
            self._acked_early.clear()
        client.subscribe([(t, 1) for t in self.topics])
        log.info("hub MQTT: connected (session present: %s)", flags.session_present)
        self._connected.set()
        self._outbox_wake.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("hub MQTT: disconnected (%s); reconnecting", reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._gen_lock:
            gen = self._gen
        self._q.put(Incoming(gen, msg.mid, msg.qos, msg.topic, bytes(msg.payload)))

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        with self._pub_lock:
            if mid in self._inflight:
                self._acked_seqs.append(self._inflight.pop(mid))
            else:
                self._acked_early.add(mid)
            self._pub_lock.notify_all()

    def _ack(self, items: list[Incoming]) -> None:
        with self._gen_lock:
            gen = self._gen
        for m in items:
            if m.qos > 0 and m.gen == gen:  # a message of an earlier connection is redelivered: not ours to ack
                self._client.ack(m.mid, m.qos)

    # -- ingest (own thread) -------------------------------------------------------------------------------

    def _ingest_loop(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                first = self._q.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            deadline = time.monotonic() + 0.02
            while len(batch) < self.cfg.ingest_batch:
                try:
                    batch.append(self._q.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            while not self._stop.is_set():
                try:
                    self._store(batch)
                    backoff = 0.5
                    break
                except (psycopg.Error, OSError, TimeoutError) as e:  # the database is away: hold the batch
                    self.db_errors += 1
                    log.error("hub: %d message(s) not stored (%s: %s); retrying in %.1f s — nothing is acknowledged "
                              "until it is committed", len(batch), type(e).__name__, e, backoff)
                    self._stop.wait(backoff)
                    backoff = min(30.0, backoff * 2)
                except Exception:  # a bug: keep the hub alive, the broker resends after a reconnect
                    log.exception("hub: ingest failed")
                    self._stop.wait(backoff)
            else:
                return  # stopping: the batch stays unacknowledged
            self._ack(batch)

    def _store(self, batch: list[Incoming]) -> None:
        results = []
        bad: list[tuple[Incoming, str]] = []
        rejections: list[tuple[str, str | None, str]] = []
        with self.db.tx() as conn:
            for m in batch:
                try:
                    with conn.transaction():  # a savepoint: one bad message does not undo the others
                        r = self._handle(conn, m, rejections)
                        if r is not None:
                            results.append(r)
                except (_BadMessage, ValueError, KeyError, TypeError, ValidationError,
                        psycopg.errors.DataError, psycopg.errors.IntegrityError) as e:
                    bad.append((m, f"{type(e).__name__}: {e}"[:2000]))
            for m, err in bad:
                conn.execute("INSERT INTO rejected_messages (topic, error, payload) VALUES (%s, %s, %s)",
                             (m.topic, err, m.payload[:MAX_PAYLOAD]))
        now = time.time()  # committed: box decision (created_at) -> hub commit
        for r in results:
            if r.stored:
                self.ingested += 1
                if r.revision == 1 and r.created_at is not None:
                    self.lags.append(now - r.created_at.timestamp())
                if r.redecided:
                    self.redecided += len(r.redecided)
                    self._outbox_wake.set()
            else:
                self.duplicates += 1
        for m, err in bad:
            self.rejected += 1
            log.warning("hub: message on %s rejected: %s", m.topic, err)
        for topic, decl_id, err in rejections:
            body = json.dumps({"id": decl_id, "error": err}, ensure_ascii=False, separators=(",", ":"))
            self._client.publish(topic, body, qos=1)

    def _handle(self, conn: psycopg.Connection, m: Incoming, rejections: list[tuple[str, str | None, str]]) -> Any:
        if len(m.payload) > MAX_PAYLOAD:
            raise _BadMessage(f"payload of {len(m.payload)} bytes")
        parts = m.topic.split("/")
        if m.topic.endswith("/declarations"):
            gate = parts[-2]
            decl_id = None
            try:
                raw = load_json(m.payload)
                if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                    decl_id = raw["id"][:64]
                din = parse_declaration(m.payload)
                if din.gate is not None and din.gate != gate:
                    raise ValueError(f"gate: declaration is for gate {din.gate!r}, published on {gate!r}")
            except (ValueError, ValidationError) as e:
                rejections.append((f"{m.topic}/rejected", decl_id, error_message(e)))
                log.warning("hub: declaration %s rejected: %s", decl_id or "(no id)", error_message(e))
                return None
            _, written = self.core.store_declaration(conn, din, gate=gate)
            if written:
                self.redecided += len(written)
                self._outbox_wake.set()
            return None
        try:
            body = json.loads(m.payload)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise _BadMessage(f"not JSON: {e}") from None
        if not isinstance(body, dict):
            raise _BadMessage("not a JSON object")
        if m.topic.endswith("/decision"):
            self.core.ingest_decision(conn, body)
            return None
        if body.get("gate") != parts[-3] or body.get("lane") != parts[-2]:
            raise _BadMessage(f"topic {m.topic} does not match the event's gate/lane")
        return self.core.ingest_passage(conn, body)

    # -- outbox drain (own thread) -------------------------------------------------------------------------

    def _outbox_loop(self) -> None:
        last = 0
        while not self._stop.is_set():
            try:
                with self._pub_lock:
                    acked, self._acked_seqs = self._acked_seqs, []
                if acked:
                    with self.db.tx() as conn:
                        conn.execute("DELETE FROM outbox WHERE seq = ANY(%s)", (acked,))
                if not self._connected.is_set():
                    self._outbox_wake.wait(0.5)
                    self._outbox_wake.clear()
                    last = 0  # after a reconnect: everything not deleted goes out again (same event_id, revision)
                    continue
                with self._pub_lock:
                    room = 100 - len(self._inflight)
                    if room <= 0:
                        self._pub_lock.wait(0.2)
                        continue
                with self.db.tx() as conn:
                    rows = conn.execute("SELECT seq, topic, payload, qos FROM outbox WHERE seq > %s ORDER BY seq"
                                        " LIMIT %s", (last, room)).fetchall()
                if not rows:
                    self._outbox_wake.wait(1.0)
                    self._outbox_wake.clear()
                    continue
                for seq, topic, payload, qos in rows:
                    info = self._client.publish(topic, bytes(payload), qos=int(qos))
                    if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                        break
                    with self._pub_lock:
                        if info.mid in self._acked_early:
                            self._acked_early.discard(info.mid)
                            self._acked_seqs.append(seq)
                        else:
                            self._inflight[info.mid] = seq
                    last = seq
            except (psycopg.Error, OSError) as e:
                log.error("hub: outbox drain: %s; retrying", e)
                self._stop.wait(1.0)
            except Exception:
                log.exception("hub: outbox drain failed; retrying")
                self._stop.wait(1.0)

    def outbox_depth(self) -> int:
        with self.db.tx() as conn:
            row = conn.execute("SELECT count(*) FROM outbox").fetchone()
        return int(row[0]) if row else 0
