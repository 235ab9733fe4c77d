"""The gate hub (issue #20) on a real PostgreSQL and a real Mosquitto, both started by the tests on free ports:
boxes publish with the project's own MqttPublisher + SQLite outbox, the hub consumes into PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from conftest import MqttCollector
from fastapi.testclient import TestClient
from hub_helpers import (
    GATE,
    PREFIX,
    TOKEN,
    box_publisher,
    count,
    declaration_body,
    hub_config,
    passage,
    rows,
    wait_for,
)

from edge.api.review.auth import Auth
from edge.domain.declarations import DeclarationIn
from edge.hub.api import create_hub_app
from edge.hub.core import HubCore
from edge.hub.db import HubDb, HubDbError, migrate, migrations
from edge.hub.main import Hub
from edge.storage.store import Store

C1, C2, C3 = "MSKU1234565", "CSQU3054383", "TGHU1234567"


@pytest.fixture
def token_env(monkeypatch):
    monkeypatch.setenv("SG_HUB_TOKEN", TOKEN)


@pytest.fixture
def hub(tmp_path, pg_dsn, mosquitto, token_env):
    h = Hub(hub_config(tmp_path, pg_dsn, mosquitto.url), start_api=False)
    h.start()
    assert h.consumer is not None and h.consumer.wait_connected(10)
    yield h
    h.close()


@pytest.fixture
def api(hub):
    with TestClient(create_hub_app(hub)) as client:
        yield client


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def publish(pub, ps) -> None:
    for p in ps:
        pub.publish_passage(p, None)
    assert pub.wait_published(15)


def post_decl(api, body, token: str = TOKEN):
    return api.post("/api/declarations", json=body, headers={"Authorization": f"Bearer {token}"})


# -- migrations ------------------------------------------------------------------------------------------


def test_migrations_are_numbered_files_applied_once(pg_dsn, tmp_path):
    files = migrations()
    assert [m.version for m in files] == list(range(1, len(files) + 1))
    db = HubDb(pg_dsn, 1, 2)
    try:
        assert db.migrate() == len(files)
        assert db.migrate() == len(files)  # idempotent
        assert count(pg_dsn, "SELECT count(*) FROM schema_migrations") == len(files)
    finally:
        db.close()
    with psycopg.connect(pg_dsn) as c:
        c.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
    with psycopg.connect(pg_dsn) as c, pytest.raises(HubDbError, match="newer"):
        migrate(c)


def test_decisions_are_append_only_in_the_database(pg_dsn):
    db = HubDb(pg_dsn, 1, 1)
    db.migrate()
    db.close()
    with psycopg.connect(pg_dsn) as c:
        c.execute("INSERT INTO decisions (source, gate, lane, event_id, at, user_name, role, via, action)"
                  " VALUES ('hub', 'g', 'l', 'e', now(), 'u', 'inspector', 'session', 'approve')")
        c.commit()
        for sql in ("UPDATE decisions SET user_name = 'x'", "DELETE FROM decisions", "TRUNCATE decisions"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                c.execute(sql)
            c.rollback()


# -- ingest: two boxes, every passage once -----------------------------------------------------------------


def test_two_boxes_every_passage_once(tmp_path, hub, mosquitto, pg_dsn):
    a, b = box_publisher(tmp_path, mosquitto.url, "box-a"), box_publisher(tmp_path, mosquitto.url, "box-b")
    t0 = datetime.now(UTC) - timedelta(hours=1)
    sent_a = [passage(f"in-{1 + i % 2}", "box-a", t0 + timedelta(seconds=30 * i)) for i in range(15)]
    sent_b = [passage(f"in-{3 + i % 2}", "box-b", t0 + timedelta(seconds=30 * i + 7)) for i in range(15)]
    try:
        assert a.wait_connected(10) and b.wait_connected(10)
        threads = [threading.Thread(target=publish, args=(pub, ps)) for pub, ps in ((a, sent_a), (b, sent_b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        publish(a, sent_a[:5])  # redeliveries (same event_id): nothing doubled
    finally:
        a.close()
        b.close()
    assert wait_for(lambda: hub.consumer.ingested + hub.consumer.duplicates >= 35)
    got = rows(pg_dsn, "SELECT event_id, box, lane, revision FROM passages")
    assert sorted(r[0] for r in got) == sorted(p.id for p in sent_a + sent_b)
    assert {r[0]: r[1] for r in got} == {p.id: p.box for p in sent_a + sent_b}
    assert {r[3] for r in got} == {1}
    assert count(pg_dsn, "SELECT count(*) FROM passage_revisions") == 30
    assert hub.consumer.duplicates == 5 and hub.consumer.rejected == 0
    assert max(hub.consumer.lags) < 3600 + 60  # box decision time -> hub commit (the passages are an hour old)


def test_a_bad_message_is_kept_aside_not_blocking(tmp_path, hub, mosquitto, pg_dsn):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="junk")
    c.connect(mosquitto.host, mosquitto.port)
    c.loop_start()
    c.publish(f"{PREFIX}/{GATE}/in-1/passage", b"not json", qos=1).wait_for_publish(5)
    c.publish(f"{PREFIX}/{GATE}/in-1/passage", json.dumps({"event_id": "x"}), qos=1).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()
    pub = box_publisher(tmp_path, mosquitto.url, "box-a")
    p = passage("in-1", "box-a")
    try:
        publish(pub, [p])
    finally:
        pub.close()
    assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages WHERE event_id = %s", p.id) == 1)
    assert count(pg_dsn, "SELECT count(*) FROM rejected_messages") == 2


# -- declarations live in the hub: one manifest, one passage --------------------------------------------------


def test_one_manifest_two_trucks_one_match(tmp_path, hub, api, mosquitto, pg_dsn):
    """Two boxes, two trucks reading the same container, one manifest: the database gives it to one only."""
    assert post_decl(api, declaration_body("NSW-1", containers=[C1])).status_code == 201
    a, b = box_publisher(tmp_path, mosquitto.url, "box-a"), box_publisher(tmp_path, mosquitto.url, "box-b")
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    p1 = passage("in-1", "box-a", t0, plate="29C11111", containers=(C1,))
    p2 = passage("in-3", "box-b", t0 + timedelta(seconds=40), plate="29C22222", containers=(C1,))
    assert p1.verdict.status == p2.verdict.status == "flag"  # the boxes had no declaration (no hub link)
    try:
        publish(a, [p1])
        assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages") == 1)
        publish(b, [p2])
    finally:
        a.close()
        b.close()
    assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages") == 2)
    assert rows(pg_dsn, "SELECT declaration_id, event_id FROM declaration_matches") == [("NSW-1", p1.id)]
    got = dict(rows(pg_dsn, "SELECT event_id, declaration_id FROM passages"))
    assert got == {p1.id: "NSW-1", p2.id: None}
    assert rows(pg_dsn, "SELECT status, revision FROM passages WHERE event_id = %s", p1.id) == [("clear", 2)]
    # The rule is the database's: a second match row for the manifest is refused whoever writes it.
    with psycopg.connect(pg_dsn) as c, pytest.raises(psycopg.errors.UniqueViolation):
        c.execute("INSERT INTO declaration_matches (declaration_id, event_id, source) VALUES ('NSW-1', %s, 'hub')",
                  (p2.id,))


def test_box_claims_race_only_one_wins(pg_dsn, tmp_path, token_env):
    """Eight boxes ask for the same manifest at the same moment (separate connections): one gets it."""
    cfg = hub_config(tmp_path, pg_dsn, None)
    db = HubDb(pg_dsn, 2, 10)
    db.migrate()
    core = HubCore(cfg)
    with db.tx() as conn:
        core.store_declaration(conn, DeclarationIn.model_validate(declaration_body("NSW-R", containers=[C2])))
    start = threading.Barrier(8)
    answers: list[str | None] = []
    lock = threading.Lock()

    def ask(i: int) -> None:
        req = {"event_id": f"ev{i}", "gate": GATE, "lane": f"in-{i}", "direction": "import", "box": f"box-{i}",
               "started_at": _iso(datetime.now(UTC)), "plate": None, "vehicle_id": None,
               "containers": [{"code": C2, "check_digit_ok": True}]}
        start.wait()
        for _ in range(20):
            try:
                with db.tx() as conn:
                    got = core.match_for_box(conn, req)
                break
            except psycopg.errors.SerializationFailure:  # not expected at read committed; retried if it happens
                continue
        with lock:
            answers.append(got["declaration"]["id"] if got["declaration"] else None)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.close()
    assert sorted(answers, key=str) == ["NSW-R"] + [None] * 7
    assert count(pg_dsn, "SELECT count(*) FROM declaration_matches") == 1


def test_box_asks_the_hub_over_http_and_decides_without_it_when_cut_off(tmp_path, pg_dsn, token_env):
    from conftest import free_port

    from edge.domain.types import ContainerRead
    from edge.hub.client import HubClient

    port = free_port()
    h = Hub(hub_config(tmp_path, pg_dsn, None, api_port=port))
    h.start()
    try:
        with h.db.tx() as conn:
            h.core.store_declaration(conn, DeclarationIn.model_validate(declaration_body("NSW-H", containers=[C3])))
        client = HubClient(f"http://127.0.0.1:{port}", TOKEN, timeout_s=2, retry_after_s=60, box="box-a")
        reads = [ContainerRead(code=C3, check_digit_ok=True, confidence=0.9)]
        now = datetime.now(UTC)
        m = client.match("ev-1", GATE, "in-1", "import", now, None, None, reads)
        assert m is not None and m.declaration.id == "NSW-H" and m.matched_by == "container"
        again = client.match("ev-1", GATE, "in-1", "import", now, None, None, reads)  # a retry: same answer
        assert again is not None and again.declaration.id == "NSW-H"
        assert client.match("ev-2", GATE, "in-2", "import", now, None, None, reads) is None  # taken
        bad = HubClient(f"http://127.0.0.1:{port}", "wrong-token", timeout_s=2, retry_after_s=60)
        assert bad.match("ev-3", GATE, "in-1", "import", now, None, None, reads) is None and bad.failed == 1
    finally:
        h.close()
    assert count(pg_dsn, "SELECT count(*) FROM declaration_matches WHERE event_id = 'ev-1' AND source = 'box'") == 1
    cut_off = HubClient(f"http://127.0.0.1:{free_port()}", TOKEN, timeout_s=0.5, retry_after_s=60)
    assert cut_off.match("ev-9", GATE, "in-1", "import", now, None, None, reads) is None
    assert cut_off.match("ev-10", GATE, "in-1", "import", now, None, None, reads) is None
    assert cut_off.failed == 1 and cut_off.asked == 1  # not asked again until retry_after_s


def test_box_claim_lost_answer_is_applied_at_ingest(tmp_path, hub, api, mosquitto, pg_dsn):
    """The hub claimed a manifest for a passage but the box never got the answer: the hub re-decides it."""
    post_decl(api, declaration_body("NSW-L", containers=[C2]))
    p = passage("in-1", "box-a", datetime.now(UTC) - timedelta(minutes=1), containers=(C2,))
    with hub.db.tx() as conn:
        got = hub.core.match_for_box(conn, {"event_id": p.id, "gate": GATE, "lane": "in-1", "direction": "import",
                                            "started_at": _iso(p.started_at), "containers": [
                                                {"code": C2, "check_digit_ok": True}]})
    assert got["declaration"]["id"] == "NSW-L"
    pub = box_publisher(tmp_path, mosquitto.url, "box-a")
    try:
        publish(pub, [p])  # decided without it (the reply was lost): no_declaration
    finally:
        pub.close()
    assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages WHERE revision = 2") == 1)
    assert rows(pg_dsn, "SELECT declaration_id, status FROM passages") == [("NSW-L", "clear")]


def test_declaration_used_twice_by_boxes_is_re_decided(tmp_path, hub, mosquitto, pg_dsn):
    """Two boxes without a hub link matched one manifest locally: the second passage loses it at the hub."""
    from edge.domain.declarations import Declaration

    d = Declaration.received(DeclarationIn.model_validate(declaration_body("NSW-D", containers=[C1])))
    t0 = datetime.now(UTC) - timedelta(minutes=3)
    p1 = passage("in-1", "box-a", t0, containers=(C1,), declaration=d)
    p2 = passage("in-3", "box-b", t0 + timedelta(seconds=30), containers=(C1,), declaration=d)
    assert p1.verdict.status == p2.verdict.status == "clear"
    a, b = box_publisher(tmp_path, mosquitto.url, "box-a"), box_publisher(tmp_path, mosquitto.url, "box-b")
    try:
        publish(a, [p1])
        assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages") == 1)
        publish(b, [p2])
    finally:
        a.close()
        b.close()
    assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages WHERE revision = 2") == 1)
    (status, reasons, why), = rows(pg_dsn, "SELECT status, reasons, revision_reason FROM passages WHERE event_id = %s",
                                   p2.id)
    assert status == "flag" and reasons == ["no_declaration"] and "already used by passage " + p1.id in why


# -- late manifests, customs status, IGV identity: re-decisions -----------------------------------------------


def test_late_manifest_gives_revision_2_with_the_same_event_id(tmp_path, hub, api, mosquitto, pg_dsn):
    col = MqttCollector(mosquitto.url, topics=[f"{PREFIX}/{GATE}/+/passage"])
    pub = box_publisher(tmp_path, mosquitto.url, "box-a")
    p = passage("in-2", "box-a", datetime.now(UTC) - timedelta(minutes=10), plate="29C45678", containers=(C3,))
    assert [r.code for r in p.verdict.reasons] == ["no_declaration"]
    try:
        publish(pub, [p])
        assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages") == 1)
        # The manifest arrives over MQTT, 10 minutes after the truck (window: 30 min).
        pub._client.publish(f"{PREFIX}/{GATE}/declarations",  # noqa: SLF001 — the Single Window's publisher
                            json.dumps(declaration_body("NSW-LATE", plate="29C-456.78", containers=[C3])), qos=1)
        rev2 = col.wait_until(lambda m: m.json().get("revision") == 2, f"{PREFIX}/{GATE}/in-2/passage", timeout=20)
    finally:
        pub.close()
        col.close()
    assert rev2 is not None
    body = rev2.json()
    assert body["event_id"] == p.id and body["declaration_id"] == "NSW-LATE"
    assert body["verdict"]["status"] == "clear" and "late declaration NSW-LATE" in body["revision_reason"]
    import jsonschema

    from edge.comms.payload import load_schema

    jsonschema.Draft202012Validator(load_schema()).validate(body)  # the hub's event keeps the published contract
    assert rows(pg_dsn, "SELECT revision, status FROM passage_revisions ORDER BY revision") == [(1, "flag"),
                                                                                              (2, "clear")]
    assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM outbox") == 0)  # PUBACKed: deleted
    assert count(pg_dsn, "SELECT count(*) FROM passages") == 1  # its own revision heard back changed nothing
    # ... and it shows in the review queue with its reason.
    q = api.get("/api/hub/passages", params={"revised": "true"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert q.status_code == 200
    (item,) = q.json()["items"]
    assert item["event_id"] == p.id and item["revision"] == 2 and "late declaration" in item["revision_reason"]


def test_manifest_later_than_the_window_does_not_re_decide(tmp_path, hub, api, mosquitto, pg_dsn):
    pub = box_publisher(tmp_path, mosquitto.url, "box-a")
    p = passage("in-1", "box-a", datetime.now(UTC) - timedelta(minutes=45), plate="29C45679")
    try:
        publish(pub, [p])
    finally:
        pub.close()
    assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages") == 1)
    r = post_decl(api, declaration_body("NSW-TOO-LATE", plate="29C45679"))
    assert r.status_code == 201 and r.json()["redecided"] == [] and r.json()["matched_passage_id"] is None
    assert rows(pg_dsn, "SELECT revision FROM passages") == [(1,)]


def test_red_channel_manifest_flags_the_truck(tmp_path, hub, api, mosquitto, pg_dsn):
    post_decl(api, declaration_body("NSW-RED", plate="29C77777", channel="red"))
    pub = box_publisher(tmp_path, mosquitto.url, "box-a")
    p = passage("in-1", "box-a", datetime.now(UTC) - timedelta(minutes=1), plate="29C77777")
    try:
        publish(pub, [p])
    finally:
        pub.close()
    assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages WHERE revision = 2") == 1)
    assert rows(pg_dsn, "SELECT declaration_id, status, reasons FROM passages") == [
        ("NSW-RED", "flag", ["customs_not_released"])]
    # Customs releases it (a resend in the green channel): the hub re-decides, clear only if released in time.
    r = post_decl(api, declaration_body("NSW-RED", plate="29C77777", channel="green",
                                        released_at=_iso(p.started_at - timedelta(minutes=5))))
    assert r.json()["redecided"] == [{"event_id": p.id, "revision": 3}]
    assert rows(pg_dsn, "SELECT status, revision FROM passages") == [("clear", 3)]


def test_igv_matched_to_another_igvs_manifest_is_flagged(tmp_path, hub, api, mosquitto, pg_dsn):
    post_decl(api, declaration_body("NSW-IGV", vehicle_id="IGV-07", containers=[C2]))
    pub = box_publisher(tmp_path, mosquitto.url, "box-a")
    p = passage("igv-1", "box-a", datetime.now(UTC) - timedelta(minutes=1), plate=None, vehicle_id="IGV-08",
                containers=(C2,))
    try:
        publish(pub, [p])
    finally:
        pub.close()
    assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages WHERE revision = 2") == 1)
    assert rows(pg_dsn, "SELECT declaration_id, status, reasons FROM passages") == [
        ("NSW-IGV", "flag", ["vehicle_mismatch_declaration"])]


# -- inspectors: link by hand, approve/reject, search ---------------------------------------------------------


def _inspector(tmp_path, name="lan.nguyen", role="inspector") -> str:
    store = Store(tmp_path / "hub-accounts.db")
    try:
        auth = Auth(store)
        auth.add_user(name, role, "Correct-Horse-7-battery")
        return auth.new_token(name)
    finally:
        store.close()


def test_link_by_hand_is_audited_and_re_decides(tmp_path, hub, api, mosquitto, pg_dsn):
    pub = box_publisher(tmp_path, mosquitto.url, "box-a")
    t0 = datetime.now(UTC) - timedelta(hours=3)
    p1 = passage("in-1", "box-a", t0, plate="29C10101")
    p2 = passage("in-1", "box-a", t0 + timedelta(minutes=1), plate="29C20202")
    try:
        publish(pub, [p1, p2])
    finally:
        pub.close()
    assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages") == 2)
    post_decl(api, declaration_body("NSW-HAND", plate="29C-101.09"))  # a typo in the plate: nothing matches
    insp = {"Authorization": f"Bearer {_inspector(tmp_path)}"}
    viewer = {"Authorization": f"Bearer {_inspector(tmp_path, 'an.tran', 'viewer')}"}
    body = {"declaration_id": "NSW-HAND", "comment": "plate typo at the Single Window; checked the papers"}
    assert api.post(f"/api/hub/passages/{p1.id}/link", json=body, headers=viewer).status_code == 403
    assert api.post(f"/api/hub/passages/{p1.id}/link", json=body,
                    headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 403  # shared token: no person
    assert api.post(f"/api/hub/passages/{p1.id}/link", json={**body, "comment": ""}, headers=insp).status_code == 422
    r = api.post(f"/api/hub/passages/{p1.id}/link", json=body, headers=insp)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["passage"]["revision"] == 2 and view["passage"]["declaration_id"] == "NSW-HAND"
    assert "linked by hand by lan.nguyen" in view["passage"]["revision_reason"]
    assert view["revisions"][-1]["actor"] == "lan.nguyen"
    assert [(d["action"], d["user"], d["new"]) for d in view["decisions"]] == [("link", "lan.nguyen", "NSW-HAND")]
    assert "plate_mismatch_declaration" in view["passage"]["verdict"]["reasons"][0]["code"]  # 29C10101 vs 29C10109
    again = api.post(f"/api/hub/passages/{p2.id}/link", json=body, headers=insp)
    assert again.status_code == 409 and p1.id in again.json()["detail"]
    # Approve / reject on the hub: final, like the box's.
    r = api.post(f"/api/hub/passages/{p1.id}/reject", json={"comment": "papers do not match"}, headers=insp)
    assert r.status_code == 200 and r.json()["review"]["status"] == "rejected"
    assert api.post(f"/api/hub/passages/{p1.id}/approve", json={}, headers=insp).status_code == 409
    assert count(pg_dsn, "SELECT count(*) FROM decisions WHERE source = 'hub'") == 2


def test_search_and_filters(tmp_path, hub, api, mosquitto, pg_dsn):
    a, b = box_publisher(tmp_path, mosquitto.url, "box-a"), box_publisher(tmp_path, mosquitto.url, "box-b")
    t0 = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)
    pa = [passage("in-1", "box-a", t0 + timedelta(days=i), plate=f"29C1000{i}", containers=(C1,) if i == 2 else ())
          for i in range(4)]
    pb = [passage("in-3", "box-b", t0 + timedelta(days=i, hours=1), plate=f"桂A1234{i}") for i in range(3)]
    try:
        publish(a, pa)
        publish(b, pb)
    finally:
        a.close()
        b.close()
    assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages") == 7)
    h = {"Authorization": f"Bearer {TOKEN}"}

    def ids(**params):
        r = api.get("/api/hub/passages", params=params, headers=h)
        assert r.status_code == 200, r.text
        return [i["event_id"] for i in r.json()["items"]]

    assert ids() == [p.id for p in sorted(pa + pb, key=lambda p: p.started_at, reverse=True)]
    assert set(ids(box="box-b")) == {p.id for p in pb}
    assert set(ids(lane="in-1", gate=GATE)) == {p.id for p in pa}
    assert ids(q="29c-100.02") == [pa[2].id]
    assert ids(q="MSKU 123456") == [pa[2].id]  # container, partial, separators ignored
    assert ids(q="桂A12341") == [pb[1].id]
    assert set(ids(since="2025-03-05T00:00:00Z", until="2025-03-06T00:00:00Z")) == {pa[1].id, pb[1].id}
    assert set(ids(status="flag", review="pending")) == {p.id for p in pa + pb}
    assert api.get("/api/hub/passages").status_code == 401
    assert api.get("/api/hub/passages", params={"q": "x' OR 1=1 --"}, headers=h).status_code == 422


def test_retention_deletes_old_passages_keeps_decisions(tmp_path, pg_dsn, token_env):
    cfg = hub_config(tmp_path, pg_dsn, None)
    db = HubDb(pg_dsn, 1, 2)
    db.migrate()
    core = HubCore(cfg)
    from edge.comms.payload import passage_payload

    old = passage("in-1", "box-a", datetime.now(UTC) - timedelta(days=500))
    new = passage("in-1", "box-a", datetime.now(UTC) - timedelta(days=5))
    with db.tx() as conn:
        for p in (old, new):
            core.ingest_passage(conn, passage_payload(p, None))
        core.decide_on_hub(conn, old.id, "approve", "lan", "inspector", "token", "")
        assert core.purge(conn, 400) == 1
    db.close()
    assert rows(pg_dsn, "SELECT event_id FROM passages") == [(new.id,)]
    assert count(pg_dsn, "SELECT count(*) FROM passage_revisions WHERE event_id = %s", old.id) == 0
    assert count(pg_dsn, "SELECT count(*) FROM decisions WHERE event_id = %s", old.id) == 1


def test_declaration_feed_over_mqtt_rejects_invalid_ones(tmp_path, hub, mosquitto, pg_dsn):
    col = MqttCollector(mosquitto.url, topics=[f"{PREFIX}/{GATE}/declarations/rejected"])
    pub = box_publisher(tmp_path, mosquitto.url, "single-window")
    try:
        assert pub.wait_connected(10)
        bad = declaration_body("NSW-BAD", containers=["MSKU1234566"])  # wrong check digit
        pub._client.publish(f"{PREFIX}/{GATE}/declarations", json.dumps(bad), qos=1)  # noqa: SLF001
        other_gate = declaration_body("NSW-OTHER", plate="29C12345", gate="kim-thanh")
        pub._client.publish(f"{PREFIX}/{GATE}/declarations", json.dumps(other_gate), qos=1)  # noqa: SLF001
        good = declaration_body("NSW-GOOD", plate="29C12345")
        del good["gate"]  # the topic's gate is taken
        pub._client.publish(f"{PREFIX}/{GATE}/declarations", json.dumps(good), qos=1)  # noqa: SLF001
        got = col.wait_for(2, topic=f"{PREFIX}/{GATE}/declarations/rejected", timeout=15)
    finally:
        pub.close()
        col.close()
    errors = {m.json()["id"]: m.json()["error"] for m in got}
    assert "check digit should be 5" in errors["NSW-BAD"] and "kim-thanh" in errors["NSW-OTHER"]
    assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM declarations") == 1)
    assert rows(pg_dsn, "SELECT id, gate FROM declarations") == [("NSW-GOOD", GATE)]


def test_sweep_closes_the_passage_and_manifest_race_and_stale_claims_are_released(tmp_path, pg_dsn, token_env):
    from psycopg.types.json import Jsonb

    from edge.comms.payload import passage_payload
    from edge.domain.declarations import Declaration

    cfg = hub_config(tmp_path, pg_dsn, None)
    db = HubDb(pg_dsn, 1, 2)
    db.migrate()
    core = HubCore(cfg)
    p = passage("in-1", "box-a", datetime.now(UTC) - timedelta(minutes=2), plate="29C90909")
    d = Declaration.received(DeclarationIn.model_validate(declaration_body("NSW-RACE", plate="29C90909")))
    with db.tx() as conn:
        core.ingest_passage(conn, passage_payload(p, None))
        # The manifest committed by another transaction that did not yet see the passage: stored, not matched.
        conn.execute("INSERT INTO declarations (id, gate, direction, plate, received_at, body) VALUES"
                     " (%s, %s, 'import', %s, now(), %s)",
                     (d.id, GATE, d.plate, Jsonb(d.model_dump(mode="json", exclude={"matched_passage_id"}))))
    with db.tx() as conn:
        assert core.sweep_unmatched(conn) == [(p.id, 2)]
        assert core.sweep_unmatched(conn) == []
    assert rows(pg_dsn, "SELECT declaration_id, revision FROM passages") == [("NSW-RACE", 2)]
    # A box claimed a manifest and died before storing its passage: released after claim_ttl_min.
    with db.tx() as conn:
        core.store_declaration(conn, DeclarationIn.model_validate(declaration_body("NSW-ORPHAN", containers=[C3])))
        got = core.match_for_box(conn, {"event_id": "never-sent", "gate": GATE, "lane": "in-2",
                                        "direction": "import", "started_at": _iso(datetime.now(UTC)),
                                        "containers": [{"code": C3, "check_digit_ok": True}]})
        assert got["declaration"]["id"] == "NSW-ORPHAN"
        assert core.release_stale_claims(conn) == 0  # not stale yet
        conn.execute("UPDATE declaration_matches SET at = now() - interval '2 hours' WHERE event_id = 'never-sent'")
        assert core.release_stale_claims(conn) == 1
    db.close()
    assert count(pg_dsn, "SELECT count(*) FROM declaration_matches WHERE declaration_id = 'NSW-ORPHAN'") == 0
