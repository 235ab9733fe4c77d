"""API routes for declarations and external lane triggers, over a real Store in tmp_path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from edge.api.app import ApiState, create_app
from edge.domain.declarations import MAX_BODY_BYTES, Declaration
from edge.metrics import Metrics
from edge.storage.evidence import EvidenceStore
from edge.storage.store import Store

GOOD = "MSKU1234565"


class Env:
    def __init__(self, tmp_path, token: str | None = "gate-token", wired: bool = True, send_token: bool = True):
        self.store = Store(tmp_path / "gate.db")
        self.declared: list[Declaration] = []
        self.triggers: list[tuple[str, str, str | None]] = []
        self.state = ApiState(
            store=self.store, evidence=EvidenceStore(tmp_path / "evidence"), metrics=Metrics(), gate_id="huu-nghi",
            gate_name="Hữu Nghị", version="0.1.0", token=token, lanes=["in-1", "out-1"],
            on_declaration=self.declared.append if wired else None,
            on_trigger=(lambda lane, state, vid: self.triggers.append((lane, state, vid))) if wired else None,
        )
        self.client = TestClient(create_app(self.state))
        if token and send_token:  # the gate's integration (e.g. the Single Window feed) sends the shared token
            self.client.headers["Authorization"] = f"Bearer {token}"

    def close(self):
        self.client.close()
        self.store.close()


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.close()


def body(**kw) -> dict:
    d = {"id": "NSW-2025-000123", "direction": "import", "plate": "29C-123.45", "containers": ["MSKU 123456 5"],
         "lines": [{"hs_code": "3102.10", "description": "urea", "quantity": 30, "unit": "t"}]}
    d.update(kw)
    return d


def test_post_stores_normalises_and_notifies(env):
    before = datetime.now(UTC)
    r = env.client.post("/api/declarations", json=body())
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["plate"] == "29C12345" and out["containers"] == [GOOD] and out["lines"][0]["hs_code"] == "310210"
    assert out["matched_passage_id"] is None
    received = datetime.fromisoformat(out["received_at"])
    assert before <= received <= datetime.now(UTC)
    stored = env.store.get_declaration("NSW-2025-000123")
    assert stored is not None and stored.plate == "29C12345"
    assert [d.id for d in env.declared] == ["NSW-2025-000123"] and env.declared[0] == stored


def test_resend_replaces(env):
    env.client.post("/api/declarations", json=body())
    r = env.client.post("/api/declarations", json=body(plate="24C1234", containers=[]))
    assert r.status_code == 201
    assert env.store.count_declarations() == 1
    assert env.client.get("/api/declarations/NSW-2025-000123").json()["plate"] == "24C1234"


@pytest.mark.parametrize(("kw", "needle"), [
    ({"containers": ["MSKU1234566"]}, "containers: MSKU1234566: ISO 6346 check digit should be 5, not 6"),
    ({"lines": []}, "at least one goods line"),
    ({"direction": "sideways"}, "direction"),
    ({"received_at": "2025-01-01T00:00:00Z"}, "received_at: unknown field"),
    ({"gate": "lao-cai"}, "declaration is for gate 'lao-cai', this is 'huu-nghi'"),
])
def test_bad_bodies_get_422_with_a_clear_message(env, kw, needle):
    r = env.client.post("/api/declarations", json=body(**kw))
    assert r.status_code == 422
    assert needle in r.json()["detail"]
    assert env.store.count_declarations() == 0 and env.declared == []


def test_not_json_and_too_big(env):
    r = env.client.post("/api/declarations", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "json" in r.json()["detail"].lower()
    big = body(lines=[{"hs_code": "310210", "description": "x" * 500}] * 500)
    r = env.client.post("/api/declarations", json=big)
    assert r.status_code == 413 and "256 kB" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(MAX_BODY_BYTES // 4096 + 2):
            yield b" " * 4096

    r = env.client.post("/api/declarations", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert env.store.count_declarations() == 0


def test_a_failing_callback_does_not_lose_the_declaration(tmp_path):
    e = Env(tmp_path)

    def boom(d):
        raise RuntimeError("daemon hiccup")

    e.state.on_declaration = boom
    try:
        assert e.client.post("/api/declarations", json=body()).status_code == 201
        assert e.store.get_declaration("NSW-2025-000123") is not None
    finally:
        e.close()


def test_list_and_get(env):
    t0 = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)
    for i in range(4):
        d = Declaration.model_validate(body(id=f"D{i}", plate=f"29C1234{i}"))
        env.store.save_declaration(d.model_copy(update={"received_at": t0 + timedelta(minutes=i)}))
    env.store.mark_declaration_matched("D2", "passage-x")
    r = env.client.get("/api/declarations").json()
    assert r["total"] == 4 and [d["id"] for d in r["items"]] == ["D3", "D2", "D1", "D0"]
    r = env.client.get("/api/declarations", params={"unmatched": "true", "since": "2025-03-04T08:01:00+07:00"}).json()
    assert [d["id"] for d in r["items"]] == ["D3", "D1"] and r["total"] == 2
    r = env.client.get("/api/declarations", params={"plate": "29c-12340"}).json()
    assert [d["id"] for d in r["items"]] == ["D0"]
    one = env.client.get("/api/declarations/D2").json()
    assert one["matched_passage_id"] == "passage-x"
    r = env.client.get("/api/declarations/nope")
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    assert env.client.get("/api/declarations", params={"limit": 0}).status_code == 422


def test_trigger(env):
    r = env.client.post("/api/lanes/in-1/trigger", json={"state": "start", "vehicle_id": "IGV-07"})
    assert r.status_code == 202 and r.json() == {"lane": "in-1", "state": "start", "vehicle_id": "IGV-07"}
    assert env.client.post("/api/lanes/in-1/trigger", json={"state": "end"}).status_code == 202
    assert env.triggers == [("in-1", "start", "IGV-07"), ("in-1", "end", None)]
    r = env.client.post("/api/lanes/nope/trigger", json={"state": "start"})
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    for bad in ({"state": "open"}, {}, {"state": "start", "vehicle_id": "a b"}, {"state": "end", "x": 1}):
        assert env.client.post("/api/lanes/in-1/trigger", json=bad).status_code == 422
    assert len(env.triggers) == 2


def test_trigger_not_wired_is_503(tmp_path):
    e = Env(tmp_path, wired=False)
    try:
        assert e.client.post("/api/lanes/in-1/trigger", json={"state": "start"}).status_code == 503
        assert e.client.post("/api/declarations", json=body()).status_code == 201  # stored all the same
    finally:
        e.close()


def test_mutating_routes_need_the_token(tmp_path):
    e = Env(tmp_path, token="s3cret", send_token=False)
    try:
        assert e.client.post("/api/declarations", json=body()).status_code == 401
        assert e.client.post("/api/lanes/in-1/trigger", json={"state": "start"}).status_code == 401
        assert e.client.get("/api/declarations").status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert e.client.post("/api/declarations", json=body(), headers=wrong).status_code == 401
        assert e.store.count_declarations() == 0 and e.triggers == []
        ok = {"Authorization": "Bearer s3cret"}
        assert e.client.post("/api/declarations", json=body(), headers=ok).status_code == 201
        assert e.client.post("/api/lanes/in-1/trigger", json={"state": "start"}, headers=ok).status_code == 202
        assert e.client.get("/api/declarations/NSW-2025-000123", headers=ok).status_code == 200
    finally:
        e.close()


def test_openapi_documents_the_declaration_body(env):
    spec = env.client.get("/openapi.json").json()
    post = spec["paths"]["/api/declarations"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert "containers" in schema["properties"] and "received_at" not in schema["properties"]
    assert schema["properties"]["lines"]["items"]["$ref"] == "#/components/schemas/DeclarationLine"
    assert "DeclarationLine" in spec["components"]["schemas"]
    assert "/api/lanes/{lane}/trigger" in spec["paths"]


def test_writing_is_never_anonymous_even_without_a_shared_token(tmp_path):
    from edge.api.review.auth import Auth

    e = Env(tmp_path, token=None)
    try:
        assert e.client.get("/api/declarations").status_code == 200  # reading an open localhost API is fine
        assert e.client.post("/api/declarations", json=body()).status_code == 401
        assert e.client.post("/api/lanes/in-1/trigger", json={"state": "start"}).status_code == 401
        auth = Auth(e.store)
        auth.add_user("lan", "inspector", "a long enough password")
        auth.add_user("viet", "viewer", "a long enough password")
        inspector = {"Authorization": f"Bearer {auth.new_token('lan')}"}
        viewer = {"Authorization": f"Bearer {auth.new_token('viet')}"}
        assert e.client.post("/api/declarations", json=body(), headers=viewer).status_code == 403
        assert e.client.post("/api/declarations", json=body(), headers=inspector).status_code == 201
        assert e.client.post("/api/lanes/in-1/trigger", json={"state": "end"}, headers=inspector).status_code == 202
    finally:
        e.close()
