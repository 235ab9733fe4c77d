"""Review API over a real Store: roles (401/403), CSRF, tokens, decisions, the append-only audit, MQTT."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from conftest import MqttCollector, make_passage
from fastapi.testclient import TestClient

from edge.api.app import ApiState, create_app
from edge.api.review.auth import CSRF_HEADER, SESSION_COOKIE, Auth, LoginLimiter
from edge.api.review.sse import ReviewEvents
from edge.cli import main as cli_main
from edge.comms.mqtt import MqttPublisher
from edge.comms.payload import SCHEMA_DIR, load_schema
from edge.config import MqttConfig
from edge.domain.reasons import reason
from edge.domain.types import ContainerRead, Verdict
from edge.metrics import Metrics
from edge.storage.evidence import EvidenceStore
from edge.storage.store import Store

PASSWORD = "correct horse battery"
T0 = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)
DECISION_SCHEMA = load_schema(SCHEMA_DIR / "decision.schema.json")


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    """Users are created once (argon2 is slow on purpose); each test gets a copy of this database."""
    path = tmp_path_factory.mktemp("tpl") / "gate.db"
    with Store(path) as store:
        auth = Auth(store)
        for name, role in (("vien", "viewer"), ("lan", "inspector"), ("admin", "admin")):
            auth.add_user(name, role, PASSWORD)
    return path


class Env:
    def __init__(self, tmp_path, template, token=None, publish=None):
        shutil.copy(template, tmp_path / "gate.db")
        self.store = Store(tmp_path / "gate.db")
        self.state = ApiState(store=self.store, evidence=EvidenceStore(tmp_path / "evidence"), metrics=Metrics(),
                              gate_id="huu-nghi", gate_name="Hữu Nghị", version="0.1.0", token=token,
                              lanes=["in-1", "out-1"], publish_decision=publish)
        self.app = create_app(self.state)
        self.clients: list[TestClient] = []
        self.flagged = make_passage(started_at=T0)
        self.store.save_passage(self.flagged)

    def client(self, user=None):
        """A browser: its own cookie jar; logged in as `user` when given. Returns (client, csrf)."""
        c = TestClient(self.app)
        self.clients.append(c)
        csrf = None
        if user:
            r = c.post("/api/review/login", json={"name": user, "password": PASSWORD})
            assert r.status_code == 200, r.text
            csrf = r.json()["csrf"]
        return c, csrf

    def audit_rows(self):
        return self.store._conn().execute("SELECT * FROM review_decisions ORDER BY id").fetchall()

    def close(self):
        for c in self.clients:
            c.close()
        self.store.close()


@pytest.fixture
def env(tmp_path, template_db):
    e = Env(tmp_path, template_db)
    yield e
    e.close()


def action_url(p, action):
    return f"/api/review/passages/{p.id}/{action}"


CORRECT = {"field": "container", "index": 0, "value": "MSKU1234565", "comment": "read off the door"}


def test_anonymous_gets_401_and_the_page_redirects_to_login(env):
    c, _ = env.client()
    p = env.flagged
    for path in ("/api/review/me", "/api/review/queue", f"/api/review/passages/{p.id}", "/api/audit",
                 "/api/review/events", "/api/review/users", "/api/review/evidence/2025-03-04/x/plate.jpg"):
        assert c.get(path).status_code == 401, path
    for action, body in (("approve", {}), ("reject", {}), ("correct", CORRECT)):
        r = c.post(action_url(p, action), json=body)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert c.post("/api/review/logout").status_code == 401
    r = c.get("/review", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review/login"
    assert c.get("/review/login").status_code == 200
    assert env.audit_rows() == []


def test_viewer_reads_but_gets_403_on_every_action(env):
    c, csrf = env.client("vien")
    h = {CSRF_HEADER: csrf}
    assert c.get("/review").status_code == 200
    assert [i["id"] for i in c.get("/api/review/queue").json()["items"]] == [env.flagged.id]
    assert c.get(f"/api/review/passages/{env.flagged.id}").json()["review"]["status"] == "pending"
    for action, body in (("approve", {}), ("reject", {"comment": "x"}), ("correct", CORRECT)):
        r = c.post(action_url(env.flagged, action), json=body, headers=h)
        assert r.status_code == 403 and "inspector" in r.json()["detail"]
    assert c.get("/api/review/users").status_code == 403  # admin only
    admin, _ = env.client("admin")
    assert {u["name"]: u["role"] for u in admin.get("/api/review/users").json()} == {
        "admin": "admin", "lan": "inspector", "vien": "viewer"}
    assert env.audit_rows() == []


def test_csrf_token_is_required_for_session_mutations(env):
    c, csrf = env.client("lan")
    url = action_url(env.flagged, "approve")
    assert c.post(url, json={}).status_code == 403
    assert c.post(url, json={}, headers={CSRF_HEADER: "forged"}).status_code == 403
    r = c.post(url, json={}, headers={CSRF_HEADER: csrf, "Origin": "http://evil.example"})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    other, other_csrf = env.client("lan")  # another session's token does not fit this session
    assert c.post(url, json={}, headers={CSRF_HEADER: other_csrf}).status_code == 403
    assert env.audit_rows() == []
    r = c.post(url, json={"comment": "seal intact"}, headers={CSRF_HEADER: csrf, "Origin": "http://testserver"})
    assert r.status_code == 200 and r.json()["review"] == {
        "status": "approved", "decided_by": "lan", "decided_at": r.json()["review"]["decided_at"]}


def test_session_cookie_flags_hashing_and_logout(env):
    c, csrf = env.client()
    r = c.post("/api/review/login", json={"name": "lan", "password": PASSWORD})
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    value = c.cookies[SESSION_COOKIE]
    dump = "\n".join(env.store._conn().iterdump())
    assert value not in dump and PASSWORD not in dump and "$argon2id$" in dump  # only hashes at rest
    csrf = r.json()["csrf"]
    assert c.post("/api/review/logout", headers={CSRF_HEADER: csrf}).status_code == 204
    c.cookies.set(SESSION_COOKIE, value)  # replaying the old cookie does not work after logout
    assert c.get("/api/review/me").status_code == 401


def test_security_headers_on_pages_and_api(env):
    c, _ = env.client()
    for path in ("/review/login", "/api/health", "/review/static/app.js"):
        h = c.get(path).headers
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert "script-src 'self';" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer"
    assert c.get("/review/static/..%2Fauth.py").status_code == 404


def test_bearer_tokens_personal_and_shared(tmp_path, template_db):
    e = Env(tmp_path, template_db, token="shared-secret")
    try:
        c, _ = e.client()
        token = Auth(e.store).new_token("lan", "scanner")
        assert token not in "\n".join(e.store._conn().iterdump())
        personal = {"Authorization": f"Bearer {token}"}
        shared = {"Authorization": "Bearer shared-secret"}
        # The shared gate token reads the review API as `viewer` and can never decide.
        assert c.get("/api/review/queue", headers=shared).status_code == 200
        r = c.post(action_url(e.flagged, "approve"), json={}, headers=shared)
        assert r.status_code == 403
        assert c.get("/api/review/queue", headers={"Authorization": "Bearer nope"}).status_code == 401
        # A personal token carries its user's role and needs no CSRF token (a browser never sends it itself).
        assert c.get("/api/passages", headers=personal).status_code == 200  # the machine API accepts it too
        r = c.post(action_url(e.flagged, "correct"), json=CORRECT, headers=personal)
        assert r.status_code == 200
        assert r.json()["audit"][0]["via"] == "token" and r.json()["audit"][0]["user"] == "lan"
        # A wrong bearer is not rescued by a valid session cookie.
        c2, csrf = e.client("lan")
        r = c2.post(action_url(e.flagged, "approve"), json={}, headers={CSRF_HEADER: csrf,
                                                                         "Authorization": "Bearer wrong"})
        assert r.status_code == 401
        Auth(e.store).set_disabled("lan", True)  # disabling revokes tokens and sessions
        assert c.get("/api/review/queue", headers=personal).status_code == 401
        assert c2.get("/api/review/me").status_code == 401
    finally:
        e.close()


def test_correct_then_approve_records_the_audit_and_closes_the_passage(env):
    c, csrf = env.client("lan")
    h = {CSRF_HEADER: csrf}
    p = env.flagged
    r = c.post(action_url(p, "correct"), json={**CORRECT, "value": "MSKU1234567"}, headers=h)
    assert r.status_code == 422 and "check digit should be 5, not 7" in r.json()["detail"]
    r = c.post(action_url(p, "correct"), json={**CORRECT, "comment": ""}, headers=h)
    assert r.status_code == 422
    r = c.post(action_url(p, "correct"), json={**CORRECT, "value": "msku 123456 5"}, headers=h)
    assert r.status_code == 200
    d = r.json()
    assert d["readings"]["containers"][0] == {"value": "MSKU1234565", "original": "MSKU1234566",
                                              "check_digit_ok": True, "corrected_by": "lan"}
    assert d["passage"]["containers"][0]["code"] == "MSKU1234566"  # the machine's record is untouched
    a = d["audit"][0]
    assert (a["action"], a["field"], a["index"], a["previous"], a["new"], a["comment"], a["user"], a["role"]) == (
        "correct", "container", 0, "MSKU1234566", "MSKU1234565", "read off the door", "lan", "inspector")
    r = c.post(action_url(p, "approve"), json={"comment": "ok"}, headers=h)
    assert r.status_code == 200 and r.json()["review"]["status"] == "approved"
    # Decided: no further decision, from anyone.
    admin, admin_csrf = env.client("admin")
    r = admin.post(action_url(p, "reject"), json={}, headers={CSRF_HEADER: admin_csrf})
    assert r.status_code == 409 and "approved by lan" in r.json()["detail"]
    assert c.post(action_url(p, "correct"), json={**CORRECT, "value": "CSQU3054383"}, headers=h).status_code == 409
    # The audit API.
    items = c.get("/api/audit", params={"event_id": p.id}).json()["items"]
    assert [(i["action"], i["previous"], i["new"]) for i in items] == [
        ("approve", "pending", "approved"), ("correct", "MSKU1234566", "MSKU1234565")]
    assert c.get("/api/audit", params={"action": "correct"}).json()["total"] == 1
    assert c.get("/api/audit", params={"user": "admin"}).json()["total"] == 0
    assert c.get("/api/review/queue").json()["total"] == 0
    decided = c.get("/api/review/queue", params={"status": "decided"}).json()["items"]
    assert [(i["id"], i["review_status"], i["decided_by"]) for i in decided] == [(p.id, "approved", "lan")]


@pytest.mark.parametrize("body,detail", [
    ({"field": "plate", "value": "HELLO", "comment": "x"}, "plate"),
    ({"field": "cargo", "value": "gold", "comment": "x"}, "cargo"),
    ({"field": "container", "index": 3, "value": "MSKU1234565", "comment": "x"}, "index"),
    ({"field": "container", "value": "MSKU1234565", "comment": "x"}, "index"),
    ({"field": "container", "index": 0, "value": "MSKU123456", "comment": "x"}, "container"),
    ({"field": "plate", "value": "29C12345", "comment": "x"}, "already"),
    ({"field": "plate", "value": "29C12345", "comment": "x", "extra": 1}, "extra"),
])
def test_correction_validation(env, body, detail):
    c, csrf = env.client("lan")
    r = c.post(action_url(env.flagged, "correct"), json=body, headers={CSRF_HEADER: csrf})
    assert r.status_code == 422 and detail in r.json()["detail"]
    assert env.audit_rows() == []


def test_valid_corrections_of_plate_and_cargo(env):
    c, csrf = env.client("lan")
    h = {CSRF_HEADER: csrf}
    r = c.post(action_url(env.flagged, "correct"), json={"field": "plate", "value": "桂a·12345", "comment": "CN"},
               headers=h)
    assert r.status_code == 200 and r.json()["readings"]["plate"]["value"] == "桂A12345"
    r = c.post(action_url(env.flagged, "correct"), json={"field": "cargo", "value": "fertilizer", "comment": "urea"},
               headers=h)
    assert r.json()["readings"]["cargo"] == {"value": "fertilizer", "original": "closed", "corrected_by": "lan"}
    r = c.post(action_url(env.flagged, "correct"), json={"field": "plate", "value": "29C-123.46", "comment": "2nd"},
               headers=h)
    assert r.json()["audit"][-1]["previous"] == "桂A12345"  # previous = the value as it stood, not the original


def test_audit_cannot_be_edited_or_deleted_through_any_route(env):
    c, csrf = env.client("admin")
    h = {CSRF_HEADER: csrf}
    assert c.post(action_url(env.flagged, "correct"), json=CORRECT, headers=h).status_code == 200
    before = env.audit_rows()
    did = before[0][0]
    paths = {r.path for r in env.app.routes if hasattr(r, "methods")}
    targets = [p for p in paths if any(k in p for k in ("audit", "decision", "review", "passages"))]
    targets += [f"/api/audit/{did}", f"/api/review/decisions/{did}", f"/api/review/passages/{env.flagged.id}/audit"]
    body = {"comment": "rewritten", "new": "XXXX", "user": "nobody"}
    for path in targets:
        path = path.replace("{passage_id}", env.flagged.id).replace("{path:path}", "x.jpg").replace("{name}", "x")
        for method in ("PUT", "PATCH", "DELETE"):
            r = c.request(method, path, json=body, headers=h)
            assert r.status_code in (404, 405), (method, path, r.status_code)
    assert c.post("/api/audit", json=body, headers=h).status_code == 405
    assert env.audit_rows() == before
    # And below the API: the table itself refuses edits, deletes and replacement of a record.
    conn = env.store._conn()
    for sql in ("UPDATE review_decisions SET comment = 'x'", "DELETE FROM review_decisions",
                "INSERT OR REPLACE INTO review_decisions (id, passage_id, gate, lane, at, user_name, role, via,"
                f" action) VALUES ({did}, 'p', 'g', 'l', 't', 'u', 'admin', 'session', 'approve')"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
    assert env.audit_rows() == before


def test_failed_logins_are_rate_limited(env):
    c, _ = env.client()
    bad = {"name": "lan", "password": "wrong password"}
    for _ in range(LoginLimiter.FREE_FAILURES):
        assert c.post("/api/review/login", json=bad).status_code == 401
    r = c.post("/api/review/login", json=bad)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # Locked even with the right password, and unknown users fail the same way as wrong passwords.
    assert c.post("/api/review/login", json={"name": "lan", "password": PASSWORD}).status_code == 429
    assert c.post("/api/review/login", json={"name": "ghost", "password": PASSWORD}).status_code == 401
    assert c.post("/api/review/login", json={"name": "vien", "password": PASSWORD}).status_code == 200


def test_login_backoff_doubles_and_success_resets():
    now = [1000.0]
    lim = LoginLimiter(clock=lambda: now[0])
    for _ in range(LoginLimiter.FREE_FAILURES):
        assert lim.retry_after("lan", "1.2.3.4") == 0
        lim.failed("lan", "1.2.3.4")
    assert lim.retry_after("LAN", "1.2.3.4") == 1.0  # names are case-insensitive
    assert lim.retry_after("lan", "5.6.7.8") == 0  # another address is not locked out
    now[0] += 1.0
    lim.failed("lan", "1.2.3.4")
    assert lim.retry_after("lan", "1.2.3.4") == 2.0
    for _ in range(20):
        lim.failed("lan", "1.2.3.4")
    assert lim.retry_after("lan", "1.2.3.4") == LoginLimiter.MAX_DELAY_S
    lim.succeeded("lan", "1.2.3.4")
    assert lim.retry_after("lan", "1.2.3.4") == 0


def test_queue_newest_first_with_filters(env):
    c, _ = env.client("vien")
    ps = [env.flagged]
    for i, (lane, code) in enumerate([("in-1", "no_declaration"), ("out-1", "plate_unread"),
                                      ("out-1", "no_declaration")], start=1):
        p = make_passage(started_at=T0 + timedelta(minutes=i), lane=lane,
                         verdict=Verdict(status="flag", reasons=[reason(code)]))
        env.store.save_passage(p)
        ps.append(p)
    env.store.save_passage(make_passage(started_at=T0 + timedelta(minutes=9), verdict=Verdict(status="clear")))

    def ids(**params):
        return [i["id"] for i in c.get("/api/review/queue", params=params).json()["items"]]

    assert ids() == [p.id for p in reversed(ps)]  # flagged only, newest first
    assert ids(lane="out-1") == [ps[3].id, ps[2].id]
    assert ids(reason="no_declaration") == [ps[3].id, ps[1].id]
    assert ids(reason="container_check_digit_failed") == [ps[0].id]
    assert ids(since="2025-03-04T08:02:00+07:00") == [ps[3].id, ps[2].id]
    assert ids(until="2025-03-04T01:01:00Z") == [ps[0].id]
    assert c.get("/api/review/queue", params={"lane": "../x"}).status_code == 422


def test_decision_is_published_on_mqtt_with_the_event_id(tmp_path, template_db, mosquitto):
    pub = MqttPublisher(MqttConfig(url=mosquitto.url, client_id="gate-review-test"), "huu-nghi")
    col = MqttCollector(mosquitto.url, topics=["smartgate/huu-nghi/+/decision"])
    e = Env(tmp_path, template_db, publish=pub.publish_decision)
    try:
        assert pub.wait_connected(10)
        c, csrf = e.client("lan")
        c.post(action_url(e.flagged, "correct"), json=CORRECT, headers={CSRF_HEADER: csrf})
        c.post(action_url(e.flagged, "reject"), json={"comment": "seal broken"}, headers={CSRF_HEADER: csrf})
        msgs = col.wait_for(2, topic="smartgate/huu-nghi/in-1/decision")
        assert len(msgs) == 2 and all(m.qos == 1 and not m.retain for m in msgs)
        for m in msgs:
            jsonschema.Draft202012Validator(DECISION_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(
                m.json())
        first, second = (m.json() for m in msgs)
        assert first["event_id"] == second["event_id"] == e.flagged.id
        assert (first["action"], first["new"], first["review_status"]) == ("correct", "MSKU1234565", "pending")
        assert (second["action"], second["comment"], second["review_status"]) == ("reject", "seal broken",
                                                                                  "rejected")
        assert second["decision_id"] > first["decision_id"]
    finally:
        e.close()
        col.close()
        pub.close()


def test_events_stream_delivers_flags_from_other_threads():
    events = ReviewEvents()
    clear = make_passage(verdict=Verdict(status="clear"))
    flagged = make_passage(containers=[ContainerRead(code="CSQU3054383", check_digit_ok=True)])

    async def run():
        async def never():
            return False

        chunks = []
        gen = events.stream(never)
        chunks.append(await gen.__anext__())  # retry hint; the stream is subscribed now
        t = threading.Thread(target=lambda: (events.passage(clear), events.passage(flagged)))
        t.start()
        chunks.append(await asyncio.wait_for(gen.__anext__(), 5))
        t.join()
        events.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(gen.__anext__(), 5)
        return chunks

    chunks = asyncio.run(run())
    assert chunks[0].startswith("retry:")
    assert chunks[1].startswith("event: flag\ndata: ") and flagged.id in chunks[1] and clear.id not in chunks[1]
    assert events.subscribers == 0


def test_user_cli_add_list_token(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "cli.db")
    monkeypatch.setenv("SG_PW", "a long password")
    assert cli_main(["user", "--db", db, "add", "minh", "--role", "inspector", "--password-env", "SG_PW"]) == 0
    assert cli_main(["user", "--db", db, "add", "minh", "--role", "viewer", "--password-env", "SG_PW"]) == 2
    monkeypatch.setenv("SG_SHORT", "short")
    assert cli_main(["user", "--db", db, "add", "x1", "--role", "viewer", "--password-env", "SG_SHORT"]) == 2
    capsys.readouterr()
    assert cli_main(["user", "--db", db, "token", "minh"]) == 0
    token = capsys.readouterr().out.strip()
    assert cli_main(["user", "--db", db, "list"]) == 0
    assert "minh" in capsys.readouterr().out
    with Store(db) as store:
        who = Auth(store).token_principal(token)
        assert who is not None and (who.name, who.role, who.via) == ("minh", "inspector", "token")


def test_docs_decision_example_is_valid():
    """docs/mqtt.md's example decision (the ```json decision block) must stay valid against its schema."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "mqtt.md").read_text(encoding="utf-8")
    blocks = [json.loads(b) for b in re.findall(r"```json decision\n(.*?)```", text, re.S)]
    assert blocks, "docs/mqtt.md has no example decision"
    for b in blocks:
        jsonschema.Draft202012Validator(DECISION_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(b)
