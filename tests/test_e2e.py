"""End to end: sample footage → daemon (real process) → verdicts on a real Mosquitto broker, SQLite and the API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml
from conftest import MqttCollector, free_port

from data_samples import load_truth
from edge.comms.payload import load_schema
from edge.domain.declarations import Declaration, DeclarationIn
from edge.storage.store import Store

REPO = Path(__file__).resolve().parents[1]
TEST_YAML = REPO / "data_samples" / "test.yaml"
TRUTH = load_truth(REPO / "data_samples" / "clips" / "test" / "in1")
GATE = TRUTH["gate"]
PREFIX = "sg"
PASSAGE_TOPIC = f"{PREFIX}/{GATE}/in1/passage"
AVAILABLE_TOPIC = f"{PREFIX}/{GATE}/available"

pytestmark = pytest.mark.slow


def _config(tmp_path: Path, broker_url: str, api_port: int, live: bool = False, token_env: str | None = None) -> Path:
    cfg = yaml.safe_load(TEST_YAML.read_text(encoding="utf-8"))
    for cam in cfg["cameras"]:
        cam["source"] = str((TEST_YAML.parent / cam["source"]).resolve())
        if live:
            cam["live"] = True
    cfg["mqtt"] = {"url": broker_url, "topic_prefix": PREFIX, "client_id": f"e2e-{api_port}"}
    cfg["storage"] = {"database": str(tmp_path / "gate.db"), "evidence_dir": str(tmp_path / "evidence")}
    cfg["api"] = {"port": api_port, **({"token_env": token_env} if token_env else {})}
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def _declaration_for(truck: dict, decl_id: str) -> dict:
    return {
        "id": decl_id,
        "direction": TRUTH["direction"],
        "plate": truck["plate"],
        "containers": [c["code"] for c in truck["containers"]],
        "lines": [{"hs_code": "31021000", "description": "urea fertilizer"}],
    }


def _daemon(config: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "--log-level", "WARNING", "run", "--config", str(config), *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "SMARTGATE_TEST_TOKEN": "e2e-token"},
    )


def test_footage_to_verdicts_on_mqtt_and_sqlite(tmp_path: Path, mosquitto) -> None:
    truck1, truck2 = TRUTH["passages"]
    config = _config(tmp_path, mosquitto.url, free_port())
    # Truck 1's manifest is already on file (as if it came in through the Single Window earlier).
    store = Store(tmp_path / "gate.db")
    store.save_declaration(Declaration.received(DeclarationIn.model_validate(_declaration_for(truck1, "NSW-T1"))))
    store.close()

    collector = MqttCollector(mosquitto.url, topics=[f"{PREFIX}/#"])
    try:
        proc = _daemon(config, "--until-done")
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, out
        msgs = collector.wait_for(2, topic=PASSAGE_TOPIC, timeout=10)
        avail = collector.wait_until(lambda m: m.text == "offline", AVAILABLE_TOPIC, timeout=10)
    finally:
        collector.close()

    assert len(msgs) == len(TRUTH["passages"]) == 2, out
    schema = load_schema()
    payloads = [m.json() for m in msgs]
    for m, p in zip(msgs, payloads, strict=True):
        assert m.qos == 1
        jsonschema.validate(p, schema)
    assert len({p["event_id"] for p in payloads}) == 2
    assert avail is not None, "the daemon did not announce it went offline"
    assert sum(line.startswith("[in1]") for line in out.splitlines()) == 2, out

    p1, p2 = payloads
    # Identity and codes as the cameras read them, against the generator's ground truth.
    assert p1["plate"]["text"] == truck1["plate"] and p1["plate"]["country"] == truck1["plate_country"]
    assert p2["plate"]["text"] == truck2["plate"] and p2["plate"]["country"] == truck2["plate_country"]
    assert [c["code"] for c in p1["containers"]] == [c["code"] for c in truck1["containers"]]
    assert all(c["check_digit_ok"] for c in p1["containers"])
    assert p2["containers"] == []
    # Truck 1 matched its declaration; truck 2 had none and is flagged for it.
    assert p1["declaration_id"] == "NSW-T1"
    codes1 = {r["code"] for r in p1["verdict"]["reasons"]}
    assert not codes1 & {"plate_unread", "container_unread", "container_check_digit_failed", "no_declaration"}
    assert p2["declaration_id"] is None
    assert p2["verdict"]["status"] == "flag"
    assert "no_declaration" in {r["code"] for r in p2["verdict"]["reasons"]}
    for r in p2["verdict"]["reasons"]:
        assert r["message_en"] and r["message_vi"]

    # The same verdicts are in SQLite, the declaration is marked as used, evidence is on disk.
    store = Store(tmp_path / "gate.db")
    try:
        stored = {p.id: p for p in store.list_passages()}
        assert set(stored) == {p1["event_id"], p2["event_id"]}
        assert stored[p1["event_id"]].verdict.status == p1["verdict"]["status"]
        decl = store.get_declaration("NSW-T1")
        assert decl is not None and decl.matched_passage_id == p1["event_id"]
    finally:
        store.close()
    for ev in p1["evidence"]:
        assert (tmp_path / "evidence" / ev["path"]).stat().st_size > 1000


def test_live_paced_run_serves_api_takes_declarations_and_stops_cleanly(tmp_path: Path, mosquitto) -> None:
    truck2 = TRUTH["passages"][1]
    port = free_port()
    config = _config(tmp_path, mosquitto.url, port, live=True, token_env="SMARTGATE_TEST_TOKEN")
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": "Bearer e2e-token"}
    collector = MqttCollector(mosquitto.url, topics=[f"{PREFIX}/#"])
    proc = _daemon(config)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "API did not come up"
            time.sleep(0.1)
        # Truck 2's manifest arrives while the footage plays (the second truck enters after ~3 s).
        body = _declaration_for(truck2, "NSW-T2")
        assert httpx.post(f"{base}/api/declarations", json=body, timeout=5).status_code == 401
        r = httpx.post(f"{base}/api/declarations", json=body, headers=auth, timeout=5)
        assert r.status_code == 201, r.text
        bad = {**body, "id": "NSW-BAD", "containers": ["MSKU1234566"]}  # wrong check digit
        assert httpx.post(f"{base}/api/declarations", json=bad, headers=auth, timeout=5).status_code == 422
        assert httpx.post(f"{base}/api/lanes/nope/trigger", json={"state": "start"}, headers=auth,
                          timeout=5).status_code == 404

        msgs = collector.wait_for(2, topic=PASSAGE_TOPIC, timeout=120)
        assert len(msgs) == 2
        listed = httpx.get(f"{base}/api/passages", headers=auth, timeout=5).json()
        items = listed["items"] if isinstance(listed, dict) else listed
        assert {p["id"] for p in items} == {m.json()["event_id"] for m in msgs}
        by_plate = {m.json()["plate"]["text"]: m.json() for m in msgs if m.json()["plate"]}
        assert by_plate[truck2["plate"]]["declaration_id"] == "NSW-T2"
        one = by_plate[truck2["plate"]]
        detail = httpx.get(f"{base}/api/passages/{one['event_id']}", headers=auth, timeout=5)
        assert detail.status_code == 200 and detail.json()["id"] == one["event_id"]
        ev = next(e for e in one["evidence"] if e["kind"] == "plate")
        img = httpx.get(ev["url"], headers=auth, timeout=5)
        assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
        cams = httpx.get(f"{base}/api/cameras", headers=auth, timeout=5).json()
        assert {c["name"] for c in cams} == {"in1-plate", "in1-container", "in1-cargo"}
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert 'smartgate_passages_total{lane="in1"' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        offline = collector.wait_until(lambda m: m.text == "offline", AVAILABLE_TOPIC, timeout=10)
        collector.close()
    assert proc.returncode == 0, out
    assert offline is not None
