"""Two real box daemons on the sample clips (one lane each, as two boxes of one gate), the hub, PostgreSQL and
Mosquitto: the boxes ask the hub for declarations at decision time, publish through their outboxes, and the hub
holds every passage once, one manifest per truck, and reports what the clips contain."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from conftest import free_port
from fastapi.testclient import TestClient
from hub_helpers import TOKEN, count, hub_config, rows, wait_for

from data_samples import load_truth
from edge.hub.api import create_hub_app
from edge.hub.main import Hub
from edge.hub.report import compute
from edge.storage.store import Store

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data_samples" / "demo.yaml"
DECLS = REPO / "data_samples" / "declarations.json"
pytestmark = pytest.mark.slow


def box_config(tmp: Path, lane: str, box: str, broker: str, hub_url: str) -> Path:
    cfg = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    cfg["gate"]["box"] = box
    cfg["lanes"] = [ln for ln in cfg["lanes"] if ln["id"] == lane]
    cfg["cameras"] = [c for c in cfg["cameras"] if c["lane"] == lane]
    for cam in cfg["cameras"]:
        cam["source"] = str((DEMO.parent / cam["source"]).resolve())
    cfg["mqtt"] = {"url": broker, "topic_prefix": "sg", "client_id": f"lc-{box}"}
    cfg["storage"] = {"database": str(tmp / f"{box}.db"), "evidence_dir": str(tmp / f"{box}-evidence")}
    cfg["api"] = {"enabled": False}
    cfg["hub"] = {"url": hub_url, "token_env": "SG_HUB_TOKEN", "timeout_s": 10}
    path = tmp / f"{box}.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def test_two_box_daemons_and_the_hub(tmp_path, pg_dsn, mosquitto, monkeypatch):
    import json

    monkeypatch.setenv("SG_HUB_TOKEN", TOKEN)
    port = free_port()
    hub = Hub(hub_config(tmp_path, pg_dsn, mosquitto.url, api_port=port, client_id="hub-demo"))
    hub.start()
    try:
        assert hub.consumer is not None and hub.consumer.wait_connected(10)
        with TestClient(create_hub_app(hub)) as api:  # the Single Window's feed goes to the hub
            for d in json.loads(DECLS.read_text(encoding="utf-8"))["declarations"]:
                r = api.post("/api/declarations", json=d, headers={"Authorization": f"Bearer {TOKEN}"})
                assert r.status_code == 201, r.text
        env = {**os.environ, "SG_HUB_TOKEN": TOKEN}
        procs = {
            box: subprocess.Popen(
                [sys.executable, "-m", "edge.cli", "--log-level", "WARNING", "run", "--config",
                 str(box_config(tmp_path, lane, box, mosquitto.url, f"http://127.0.0.1:{port}")), "--until-done"],
                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            for lane, box in (("in1", "box-a"), ("out1", "box-b"))
        }
        outs = {box: p.communicate(timeout=600)[0] for box, p in procs.items()}
        for box, p in procs.items():
            assert p.returncode == 0, outs[box]
        stored: dict[str, str] = {}  # event_id -> box, from each box's own SQLite
        for box in procs:
            s = Store(tmp_path / f"{box}.db")
            try:
                stored.update({p.id: box for p in s.list_passages(limit=1000)})
            finally:
                s.close()
        assert wait_for(lambda: count(pg_dsn, "SELECT count(*) FROM passages") >= len(stored), 30)
    finally:
        hub.close()
    got = rows(pg_dsn, "SELECT event_id, box, lane, declaration_id, revision, body->'checks' FROM passages")
    assert {r[0]: r[1] for r in got} == stored  # every passage once, tagged with its box
    assert all(r[5] == {"containers": True, "cargo": True} for r in got)
    # One manifest, one truck: every matched passage holds its own claim, and no manifest twice.
    matched = {r[0]: r[3] for r in got if r[3] is not None}
    claims = dict(rows(pg_dsn, "SELECT event_id, declaration_id FROM declaration_matches"))
    assert claims == matched and len(set(matched.values())) == len(matched)
    assert len(matched) >= 8, outs  # the demo's manifests were found through the hub (README: most trucks match)
    # The clips' truth: one passage per truck per lane, and the report says so.
    truth = {lane: len(load_truth(REPO / "data_samples" / "clips" / "demo" / lane)["passages"])
             for lane in ("in1", "out1")}
    assert Counter(r[2] for r in got) == truth
    hub2 = Hub(hub_config(tmp_path, pg_dsn, None))
    try:
        with hub2.db.tx() as conn:
            day = datetime(2025, 6, 2, tzinfo=UTC).date()
            rep = compute(conn, day, day, "UTC")
    finally:
        hub2.close()
    assert {r["lane"]: r["vehicles"] for r in rep["by_lane"]} == truth
    assert rep["passages"] == sum(truth.values())
    flags = Counter(code for r in rows(pg_dsn, "SELECT reasons FROM passages WHERE status = 'flag'") for code in r[0])
    assert {r["reason"]: r["count"] for r in rep["flags_by_reason"]} == dict(flags)
    print(f"\nHUB-DEMO: {len(got)} passages from 2 boxes, {len(matched)} matched through the hub, "
          f"revisions {Counter(r[4] for r in got)}")
