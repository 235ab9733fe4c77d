"""The durable MQTT outbox: SQLite rows until PUBACK, in order, across broker outages and restarts."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Mosquitto, MqttCollector, free_port, make_passage

from edge.comms.mqtt import MqttPublisher
from edge.config import MqttConfig
from edge.metrics import Metrics
from edge.storage.outbox import Outbox
from edge.storage.store import Store

GATE = "huu-nghi"
TOPIC = f"sg/{GATE}/in-1/passage"


def _pub(url: str, outbox: Outbox, client_id: str = "outbox-edge", **kw) -> MqttPublisher:
    cfg = MqttConfig(url=url, topic_prefix="sg", client_id=client_id)
    return MqttPublisher(cfg, GATE, reconnect_min_s=1, reconnect_max_s=1, outbox=outbox, **kw)


def test_enqueue_ack_and_order(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "gate.db")
    try:
        seqs = [box.enqueue("t/a", f"m{i}", 1, event_id=f"e{i}") for i in range(5)]
        assert seqs == sorted(seqs) and box.depth() == 5
        items = box.after(0, limit=10)
        assert [i.payload for i in items] == [b"m0", b"m1", b"m2", b"m3", b"m4"]
        assert [i.event_id for i in box.after(seqs[2])] == ["e3", "e4"]
        box.ack([seqs[0], seqs[1]])
        assert box.depth() == 3 and box.oldest_age_s() >= 0
        with pytest.raises(ValueError):
            box.enqueue("t/a", "x", qos=3)
    finally:
        box.close()
    # Committed rows survive a reopen (what a restarted daemon finds).
    again = Outbox(tmp_path / "gate.db")
    try:
        assert [i.payload for i in again.after(0)] == [b"m2", b"m3", b"m4"]
    finally:
        again.close()


def test_backlog_built_while_broker_down_drains_in_order(tmp_path: Path, mosquitto_persistent: Mosquitto) -> None:
    broker = mosquitto_persistent
    col = MqttCollector(broker.url, topics=[TOPIC], persistent=True)
    box = Outbox(tmp_path / "gate.db")
    metrics = Metrics()
    pub = _pub(broker.url, box, metrics=metrics)
    try:
        assert pub.wait_connected(10)
        broker.stop()
        deadline = time.monotonic() + 5
        while pub.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        passages = [make_passage(lane="in-1") for _ in range(20)]
        for p in passages:
            pub.publish_passage(p, None)
        assert box.depth() == 20 and not pub.wait_published(0.5)
        time.sleep(1.2)  # the drain thread refreshes the gauges about once a second
        assert metrics.outbox_depth._value.get() == 20
        broker.start()
        assert pub.wait_published(20), f"{box.depth()} event(s) still in the outbox"
        msgs = col.wait_for(20, TOPIC, timeout=10)
        assert [m.json()["event_id"] for m in msgs] == [p.id for p in passages]  # in order, none twice
        assert box.depth() == 0
    finally:
        pub.close(timeout=1)
        box.close()
        col.close()


def test_a_new_process_delivers_what_the_previous_one_left(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """Events committed by a publisher that never reached the broker are sent by the next one on the same DB."""
    dead_url = f"mqtt://127.0.0.1:{free_port()}"  # nothing listens there
    box = Outbox(tmp_path / "gate.db")
    first = _pub(dead_url, box, client_id="first")
    passages = [make_passage() for _ in range(3)]
    for p in passages:
        first.publish_passage(p, None)
    decision = {"event_id": passages[0].id, "lane": "in-1", "action": "approve"}
    first.publish_decision(decision)
    assert not first.wait_published(0.3)
    first.close(timeout=0.1)
    box.close()

    col = MqttCollector(mosquitto.url, topics=["sg/#"])
    box2 = Outbox(tmp_path / "gate.db")
    assert box2.depth() == 4
    second = _pub(mosquitto.url, box2, client_id="second")
    try:
        assert second.wait_published(15)
        got = col.wait_for(3, TOPIC, timeout=10)
        assert [m.json()["event_id"] for m in got] == [p.id for p in passages]
        dec = col.wait_for(1, f"sg/{GATE}/in-1/decision", timeout=5)
        assert [json.loads(m.payload) for m in dec] == [decision]
    finally:
        second.close(timeout=1)
        box2.close()
        col.close()


def test_resume_enqueues_passages_stored_but_never_enqueued(tmp_path: Path, mosquitto: Mosquitto) -> None:
    db = tmp_path / "gate.db"
    store = Store(db)
    box = Outbox(db)
    t0 = datetime.now(UTC)
    try:
        assert box.passages_after_mark() == []  # first use: the mark starts now, history is not replayed
        sent = make_passage(created_at=t0 + timedelta(seconds=1))
        store.save_passage(sent)
        box.enqueue(TOPIC, "sent", 1, event_id=sent.id, passage_created_at=sent.created_at)
        box.ack([i.seq for i in box.after(0)])
        # A crash between the store's commit and the outbox's: stored, no event.
        lost = make_passage(created_at=t0 + timedelta(seconds=2))
        store.save_passage(lost)
        assert [p.id for p in box.passages_after_mark()] == [lost.id]
        col = MqttCollector(mosquitto.url, topics=[TOPIC])
        pub = _pub(mosquitto.url, box)
        try:
            assert pub.resume_passages("http://gate:8080") == 1
            assert pub.wait_published(10)
            msgs = col.wait_for(1, TOPIC, timeout=5)
            assert [m.json()["event_id"] for m in msgs] == [lost.id]
            assert pub.resume_passages(None) == 0  # the mark moved on
        finally:
            pub.close(timeout=1)
            col.close()
    finally:
        box.close()
        store.close()
