"""Faults under load (issue #20): the hub killed with SIGKILL, PostgreSQL killed, the broker restarted, each in the
middle of a run while two boxes keep publishing. After recovery every passage is in PostgreSQL exactly once.

Boxes are the project's MqttPublisher with its durable SQLite outbox; the hub is `smartgate hub --config` as a
real process (SIGKILL test) or in-process (database and broker tests). Real PostgreSQL and Mosquitto on free
ports.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hub_helpers import box_publisher, count, hub_config, passage, rows, wait_for

from edge.hub.main import Hub

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run_boxes(tmp: Path, url: str, per_box: int, rate_hz: float, stop_after: threading.Event | None = None) -> tuple[
        list[str], list[threading.Thread], list]:
    """Two boxes publishing `per_box` passages each at `rate_hz`; returns the ids (filled as they go)."""
    sent: list[str] = []
    lock = threading.Lock()
    pubs = [box_publisher(tmp, url, name) for name in ("box-a", "box-b")]
    t0 = datetime.now(UTC) - timedelta(hours=2)

    def box(i: int) -> None:
        pub = pubs[i]
        for k in range(per_box):
            p = passage(f"in-{2 * i + 1 + k % 2}", pub.cfg.client_id, t0 + timedelta(seconds=10 * k + i),
                        plate=f"29C{i}{k:04d}")
            pub.publish_passage(p, None)
            with lock:
                sent.append(p.id)
            time.sleep(1.0 / rate_hz)

    threads = [threading.Thread(target=box, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    return sent, threads, pubs


def finish_boxes(threads: list[threading.Thread], pubs: list) -> None:
    for t in threads:
        t.join(120)
    for pub in pubs:
        assert pub.wait_published(60), "a box could not deliver its outbox"
        pub.close()


def assert_exactly_once(dsn: str, sent: list[str]) -> None:
    got = rows(dsn, "SELECT event_id FROM passages")
    assert len(got) == len({r[0] for r in got})  # primary key, but say it
    assert sorted(r[0] for r in got) == sorted(sent), "lost or foreign passages"
    assert count(dsn, "SELECT count(*) FROM passage_revisions") == len(sent)  # nothing doubled, no re-decision
    assert count(dsn, "SELECT count(*) FROM passages WHERE revision <> 1") == 0


def test_hub_killed_mid_run_loses_and_doubles_nothing(tmp_path, pg_dsn, mosquitto, monkeypatch):
    cfg = {"id": "hub", "database": {"dsn": pg_dsn, "pool_min": 1, "pool_max": 4},
           "mqtt": {"url": mosquitto.url, "topic_prefix": "sg", "client_id": "hub-under-test", "keepalive_s": 5},
           "api": {"enabled": False}, "accounts_db": str(tmp_path / "acc.db")}
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    log = (tmp_path / "hub.log").open("ab")

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "edge.cli", "hub", "--config", str(path)], cwd=REPO,
                                stdout=log, stderr=subprocess.STDOUT)

    hub = start()
    try:
        assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 'passages'") == 1,
                        30)
        time.sleep(1.0)  # subscribed
        sent, threads, pubs = run_boxes(tmp_path, mosquitto.url, per_box=150, rate_hz=60)
        assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages") >= 80, 60)
        hub.send_signal(signal.SIGKILL)
        hub.wait(10)
        killed_at = count(pg_dsn, "SELECT count(*) FROM passages")
        time.sleep(1.5)  # the boxes keep publishing; the broker queues for the hub's session
        hub = start()
        finish_boxes(threads, pubs)
        assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages") >= len(sent), 60)
        time.sleep(1.0)  # anything still redelivered would show up as a duplicate now
    finally:
        hub.send_signal(signal.SIGTERM)
        try:
            hub.wait(15)
        except subprocess.TimeoutExpired:
            hub.kill()
        log.close()
    assert killed_at < len(sent)
    assert_exactly_once(pg_dsn, sent)
    print(f"\nHUB-RESTART: SIGKILL after {killed_at}/{len(sent)} stored; after restart {len(sent)}/{len(sent)} once")


def test_postgres_killed_mid_run_loses_and_doubles_nothing(tmp_path, postgres_own, mosquitto, monkeypatch):
    monkeypatch.setenv("SG_HUB_TOKEN", "x" * 20)
    dsn = postgres_own.create_database(f"r{uuid.uuid4().hex[:8]}")
    hub = Hub(hub_config(tmp_path, dsn, mosquitto.url, client_id="hub-pg"), start_api=False)
    hub.start()
    try:
        assert hub.consumer is not None and hub.consumer.wait_connected(10)
        # ~10 s of publishing: the kill below lands while passages still arrive, even on a loaded machine.
        sent, threads, pubs = run_boxes(tmp_path, mosquitto.url, per_box=300, rate_hz=30)
        assert wait_for(lambda: count(dsn, "SELECT count(*) FROM passages") >= 80, 60)
        assert len(sent) < 600, "the boxes finished before PostgreSQL could be killed"
        postgres_own.kill9()  # a crash: no clean shutdown, recovery at the next start
        down_at = time.monotonic()
        assert wait_for(lambda: hub.consumer.db_errors > 0, 20)
        time.sleep(max(0.0, 2.0 - (time.monotonic() - down_at)))
        postgres_own.start()
        finish_boxes(threads, pubs)
        assert wait_for(lambda: count(dsn, "SELECT count(*) FROM passages") >= len(sent), 90)
        time.sleep(1.0)
    finally:
        hub.close()
    assert_exactly_once(dsn, sent)
    print(f"\nPG-RESTART: {hub.consumer.db_errors} failed batch attempt(s) while PostgreSQL was down; "
          f"{len(sent)}/{len(sent)} stored once")


def test_broker_restarted_mid_run_loses_and_doubles_nothing(tmp_path, pg_dsn, mosquitto_persistent, monkeypatch):
    monkeypatch.setenv("SG_HUB_TOKEN", "x" * 20)
    broker = mosquitto_persistent
    hub = Hub(hub_config(tmp_path, pg_dsn, broker.url, client_id="hub-broker"), start_api=False)
    hub.start()
    try:
        assert hub.consumer is not None and hub.consumer.wait_connected(10)
        sent, threads, pubs = run_boxes(tmp_path, broker.url, per_box=120, rate_hz=60)
        assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages") >= 60, 60)
        broker.stop()
        time.sleep(1.5)
        broker.start()
        finish_boxes(threads, pubs)
        assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages") >= len(sent), 60)
        time.sleep(1.0)
    finally:
        hub.close()
    assert_exactly_once(pg_dsn, sent)


def test_hub_killed_while_it_has_a_re_decision_to_publish(tmp_path, pg_dsn, mosquitto, monkeypatch):
    """A revision committed to the hub's outbox but not yet published survives the hub's death."""
    from conftest import MqttCollector
    from hub_helpers import declaration_body

    from edge.domain.declarations import DeclarationIn

    monkeypatch.setenv("SG_HUB_TOKEN", "x" * 20)
    cfg = hub_config(tmp_path, pg_dsn, mosquitto.url, client_id="hub-outbox")
    hub = Hub(cfg, start_api=False)
    hub.start()
    p = passage("in-1", "box-a", datetime.now(UTC) - timedelta(minutes=2), plate="29C31313")
    pub = box_publisher(tmp_path, mosquitto.url, "box-a")
    pub.publish_passage(p, None)
    assert pub.wait_published(10)
    pub.close()
    assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages") == 1)
    hub.consumer.stop()  # as if the process died right after the commit below: nothing drains the outbox
    with hub.db.tx() as conn:
        hub.core.store_declaration(conn, DeclarationIn.model_validate(declaration_body("NSW-O", plate="29C31313")))
    assert count(pg_dsn, "SELECT count(*) FROM outbox") == 1
    hub.stop_event.set()
    hub.db.close()
    col = MqttCollector(mosquitto.url, topics=["sg/+/+/passage"])
    try:
        hub2 = Hub(cfg, start_api=False)
        hub2.start()
        got = col.wait_until(lambda m: m.json().get("revision") == 2, "sg/huu-nghi/in-1/passage", timeout=20)
        assert got is not None and got.json()["event_id"] == p.id
        assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM outbox") == 0)
        hub2.close()
    finally:
        col.close()
