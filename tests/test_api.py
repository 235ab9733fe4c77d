"""The HTTP API over a real Store and EvidenceStore in tmp_path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from conftest import make_passage
from fastapi.testclient import TestClient

from edge.api.app import ApiState, create_app
from edge.domain.types import Passage, PlateRead, Verdict
from edge.metrics import Metrics
from edge.storage.evidence import EvidenceStore
from edge.storage.store import Store

T0 = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)


class Env:
    def __init__(self, tmp_path, token=None):
        self.store = Store(tmp_path / "gate.db")
        self.evidence = EvidenceStore(tmp_path / "evidence")
        self.metrics = Metrics()
        self.cams = [
            {"name": "plate-in-1", "role": "plate", "lane": "in-1", "state": "online", "frames": 10},
            {"name": "cargo-in-1", "role": "cargo", "lane": "in-1", "state": "online", "frames": 7},
        ]
        self.state = ApiState(store=self.store, evidence=self.evidence, metrics=self.metrics, gate_id="huu-nghi",
                              gate_name="Hữu Nghị", version="0.1.0", cameras=lambda: self.cams,
                              started_at=datetime.now(UTC) - timedelta(seconds=5), token=token)
        self.client = TestClient(create_app(self.state))

    def close(self):
        self.client.close()
        self.store.close()


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.close()


@pytest.fixture
def filled(env):
    ps = []
    for i in range(7):
        p = make_passage(started_at=T0 + timedelta(minutes=i), lane="in-1" if i < 4 else "out-1",
                         verdict=Verdict(status="flag" if i in (1, 5) else "clear"),
                         plate=PlateRead(text=f"29C1234{i}", country="VN"))
        env.store.save_passage(p)
        ps.append(p)
    return ps


def test_health_and_degraded(env):
    r = env.client.get("/api/health")
    assert r.status_code == 200
    h = r.json()
    assert h["status"] == "ok" and h["db_ok"] is True
    assert (h["cameras_online"], h["cameras_total"]) == (2, 2)
    assert h["uptime_s"] >= 5
    env.cams[1]["state"] = "reconnecting"
    h = env.client.get("/api/health").json()
    assert h["status"] == "degraded" and h["cameras_online"] == 1
    env.state.mqtt_connected = lambda: False
    env.cams[1]["state"] = "online"
    assert env.client.get("/api/health").json()["status"] == "degraded"


def test_health_reports_a_broken_database(env):
    env.store.close()
    h = env.client.get("/api/health").json()
    assert h["db_ok"] is False and h["status"] == "degraded"


def test_version_and_cameras(env):
    v = env.client.get("/api/version").json()
    assert v["version"] == "0.1.0" and v["gate_id"] == "huu-nghi" and v["payload_schema_version"] == 1
    cams = env.client.get("/api/cameras").json()
    assert [c["name"] for c in cams] == ["plate-in-1", "cargo-in-1"]
    assert cams[0]["frames"] == 10  # extra health counters pass through


def test_list_filters_and_paging(env, filled):
    r = env.client.get("/api/passages")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 7
    assert [p["id"] for p in body["items"]] == [p.id for p in reversed(filled)]

    def ids(**params):
        return [p["id"] for p in env.client.get("/api/passages", params=params).json()["items"]]

    assert ids(lane="out-1") == [filled[6].id, filled[5].id, filled[4].id]
    assert ids(status="flag") == [filled[5].id, filled[1].id]
    assert ids(since="2025-03-04T01:05:00Z") == [filled[6].id, filled[5].id]
    assert ids(since="2025-03-04T08:05:00+07:00") == [filled[6].id, filled[5].id]
    assert ids(plate="29c-123.43") == [filled[3].id]
    assert ids(lane="in-1", status="flag") == [filled[1].id]
    page = env.client.get("/api/passages", params={"limit": 3, "offset": 3}).json()
    assert page["total"] == 7 and page["limit"] == 3
    assert [p["id"] for p in page["items"]] == [filled[3].id, filled[2].id, filled[1].id]


@pytest.mark.parametrize("params,field", [
    ({"status": "maybe"}, "status"),
    ({"since": "yesterday"}, "since"),
    ({"limit": 501}, "limit"),
    ({"limit": 0}, "limit"),
    ({"offset": -1}, "offset"),
    ({"lane": "../etc"}, "lane"),
    ({"plate": "x" * 40}, "plate"),
])
def test_invalid_queries_get_422_with_a_clear_message(env, filled, params, field):
    r = env.client.get("/api/passages", params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["detail"].startswith(f"{field}: ")
    assert body["errors"][0]["loc"] == ["query", field]


def test_get_one_and_404(env, filled):
    p = filled[2]
    r = env.client.get(f"/api/passages/{p.id}")
    assert r.status_code == 200
    assert Passage.model_validate(r.json()) == p  # every field round-trips through SQLite and JSON
    r = env.client.get("/api/passages/nope")
    assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_evidence_served_and_traversal_refused(env, tmp_path):
    (tmp_path / "secret.txt").write_text("top secret")
    img = np.full((40, 80, 3), 200, np.uint8)
    e = env.evidence.save(img, "plate", "plate-in-1", "abc", T0)
    r = env.client.get(f"/evidence/{e.path}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content[:2] == b"\xff\xd8"  # JPEG SOI
    assert env.client.get("/evidence/2025-03-04/abc/missing.jpg").status_code == 404
    for bad in ("..%2Fsecret.txt", "2025-03-04%2F..%2F..%2Fsecret.txt", "%2Fetc%2Fpasswd", "..%2F..%2Fgate.db"):
        r = env.client.get(f"/evidence/{bad}")
        assert r.status_code in (400, 404), bad
        assert b"top secret" not in r.content and b"SQLite" not in r.content


def test_token_required_except_health(tmp_path):
    e = Env(tmp_path, token="tok-123")
    try:
        p = make_passage()
        e.store.save_passage(p)
        ev = e.evidence.save(np.zeros((10, 10, 3), np.uint8), "plate", "cam", "abc", T0)
        assert e.client.get("/api/health").status_code == 200
        for url in ("/api/version", "/api/cameras", "/api/passages", f"/api/passages/{p.id}", f"/evidence/{ev.path}"):
            r = e.client.get(url)
            assert r.status_code == 401, url
            assert r.headers.get("www-authenticate") == "Bearer"
            assert e.client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert e.client.get(url, headers={"Authorization": "Basic dG9rLTEyMw=="}).status_code == 401
            assert e.client.get(url, headers={"Authorization": "Bearer tok-123"}).status_code == 200, url
    finally:
        e.close()


def test_metrics_text(env):
    env.metrics.frames_total.labels(camera="plate-in-1").inc(3)
    env.metrics.passages_total.labels(lane="in-1", status="flag").inc()
    env.metrics.stage_seconds.labels(stage="plate").observe(0.03)
    r = env.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'smartgate_frames_total{camera="plate-in-1"} 3.0' in text
    assert 'smartgate_passages_total{lane="in-1",status="flag"} 1.0' in text
    assert 'smartgate_stage_seconds_bucket{le="0.05",stage="plate"} 1.0' in text


def test_openapi_docs_and_root_redirect(env):
    spec = env.client.get("/openapi.json").json()
    for path in ("/api/health", "/api/version", "/api/cameras", "/api/passages", "/api/passages/{passage_id}",
                 "/evidence/{path}", "/metrics"):
        assert path in spec["paths"], path
    params = {p["name"] for p in spec["paths"]["/api/passages"]["get"]["parameters"]}
    assert params == {"lane", "status", "since", "plate", "limit", "offset"}
    assert env.client.get("/docs").status_code == 200
    r = env.client.get("/", follow_redirects=False)
    assert r.status_code in (302, 307) and r.headers["location"] == "/docs"
