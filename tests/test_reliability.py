"""Faults injected into real processes: the broker restarts, the daemon is killed with SIGKILL, a camera
drops off the network. Every verdict stored must reach a subscriber (deduplicated by event id).

Footage: a generated folder of small frames, one "truck" (a bright block) every 14 frames, read by one
overview camera that triggers passages and runs no OCR, so a lane produces a passage every 0.35 s of
paced replay and the tests measure delivery, not reading speed. Figures go to docs/reliability.md
(`pytest tests/test_reliability.py -s` prints a RELIABILITY line per test).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
import yaml
from conftest import Mosquitto, MqttCollector, free_port
from test_cameras import MjpegServer

from edge.storage.outbox import Outbox
from edge.storage.store import Store

REPO = Path(__file__).resolve().parents[1]
GATE = "rel-gate"
PREFIX = "sg"
FPS = 40
TRUCK_FRAMES, GAP_FRAMES = 6, 8
LEAD_FRAMES = 40  # 1 s of empty lane first: the daemon learns the empty lane (pipeline.warmup_s) before a truck

pytestmark = pytest.mark.slow


def make_footage(folder: Path, trucks: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    bg = np.full((96, 128, 3), 40, np.uint8)
    truck = bg.copy()
    truck[20:80, 10:118] = 220
    frames = [bg] * LEAD_FRAMES + ([truck] * TRUCK_FRAMES + [bg] * GAP_FRAMES) * trucks
    ok_bg, ok_truck = cv2.imencode(".png", bg)[1].tobytes(), cv2.imencode(".png", truck)[1].tobytes()
    for i, f in enumerate(frames):
        (folder / f"f{i:05d}.png").write_bytes(ok_truck if f is truck else ok_bg)
    return folder


def write_config(tmp: Path, broker_url: str, cameras: list[dict], lanes: list[str], api_port: int | None = None,
                 client_id: str = "rel-edge", **mqtt_extra: object) -> Path:
    cfg = {
        "gate": {"id": GATE},
        "lanes": [{"id": lane, "direction": "import"} for lane in lanes],
        "cameras": cameras,
        "mqtt": {"url": broker_url, "topic_prefix": PREFIX, "client_id": client_id, "keepalive_s": 5, **mqtt_extra},
        "api": {"enabled": api_port is not None, **({"port": api_port} if api_port else {})},
        "storage": {"database": str(tmp / "gate.db"), "evidence_dir": str(tmp / "evidence")},
        "pipeline": {"passage_gap_s": 0.1, "post_s": 0.05},
        "policy": {"require_declaration": False},
    }
    path = tmp / "gate.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def folder_camera(name: str, lane: str, folder: Path, live: bool) -> dict:
    return {"name": name, "source": str(folder), "role": "overview", "lane": lane, "fps": FPS, "trigger": True,
            "live": live, "start_time": "2025-06-02T02:00:00Z"}


def start_daemon(config: Path, log: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    f = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "--log-level", "INFO", "run", "--config", str(config), *extra],
        cwd=REPO, stdout=f, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
    )


def stored_ids(db: Path) -> list[str]:
    s = Store(db)
    try:
        return [p.id for p in s.list_passages(limit=100_000)]
    finally:
        s.close()


def outbox_depth(db: Path) -> int:
    box = Outbox(db)
    try:
        return box.depth()
    finally:
        box.close()


def event_ids(col: MqttCollector, topic: str) -> list[str]:
    return [m.json()["event_id"] for m in col.messages.get(topic, [])]


def wait(pred, timeout: float, step: float = 0.05) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def test_broker_restart_mid_run_loses_no_verdict(tmp_path: Path, mosquitto_persistent: Mosquitto) -> None:
    broker = mosquitto_persistent
    trucks = 30
    footage = make_footage(tmp_path / "frames", trucks)
    config = write_config(tmp_path, broker.url, [folder_camera("in1-overview", "in1", footage, live=True)], ["in1"])
    topic = f"{PREFIX}/{GATE}/in1/passage"
    col = MqttCollector(broker.url, topics=[f"{PREFIX}/#"], persistent=True)
    proc = start_daemon(config, tmp_path / "daemon.log", "--until-done")
    try:
        assert wait(lambda: len(event_ids(col, topic)) >= 5, 30), (tmp_path / "daemon.log").read_text()
        broker.stop()
        outage_t0 = time.monotonic()
        stored_before = len(stored_ids(tmp_path / "gate.db"))
        time.sleep(3.0)  # passages keep closing while the broker is away
        stored_during = len(stored_ids(tmp_path / "gate.db")) - stored_before
        depth_during = outbox_depth(tmp_path / "gate.db")
        broker.start()
        outage_s = time.monotonic() - outage_t0
        assert proc.wait(60) == 0, (tmp_path / "daemon.log").read_text()
        ids = stored_ids(tmp_path / "gate.db")
        assert wait(lambda: set(event_ids(col, topic)) >= set(ids), 20)
    finally:
        if proc.poll() is None:
            proc.kill()
        col.close()
    got = event_ids(col, topic)
    dups = sum(n - 1 for n in Counter(got).values())
    print(f"\nRELIABILITY broker_restart: produced={len(ids)} received={len(got)} unique={len(set(got))} "
          f"duplicates={dups} outage_s={outage_s:.1f} stored_during_outage={stored_during} "
          f"outbox_depth_during_outage={depth_during}")
    assert len(ids) == trucks
    assert set(got) == set(ids)  # every verdict, nothing else
    assert stored_during > 0 and depth_during > 0  # the outage really held verdicts back
    assert dups == 0, "no event id arrives twice"
    assert outbox_depth(tmp_path / "gate.db") == 0
    # Order within the lane: the backlog drained in the order the passages were stored.
    by_time = [p for p in stored_ids(tmp_path / "gate.db")][::-1]
    assert got == by_time


def test_kill_9_mid_run_then_restart_loses_nothing(tmp_path: Path, mosquitto_persistent: Mosquitto) -> None:
    """SIGKILL while the broker is away (a backlog only in SQLite), broker back, daemon restarted on the same
    database: every passage the killed process stored is delivered. A file replay restarts from its first
    frame, so its passages come again with new ids (documented in docs/reliability.md)."""
    broker = mosquitto_persistent
    trucks = 30
    footage = make_footage(tmp_path / "frames", trucks)
    config = write_config(tmp_path, broker.url, [folder_camera("in1-overview", "in1", footage, live=True)], ["in1"])
    db = tmp_path / "gate.db"
    topic = f"{PREFIX}/{GATE}/in1/passage"
    col = MqttCollector(broker.url, topics=[topic], persistent=True)
    first = start_daemon(config, tmp_path / "daemon.log", "--until-done")
    second = None
    try:
        assert wait(lambda: len(event_ids(col, topic)) >= 3, 30), (tmp_path / "daemon.log").read_text()
        broker.stop()
        time.sleep(2.0)
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        killed_ids = stored_ids(db)
        backlog = outbox_depth(db)
        received_before_restart = len(set(event_ids(col, topic)))
        assert 3 <= len(killed_ids) < trucks and backlog > 0
        broker.start()
        # The restart replays the footage at full speed (not paced) and exits when it is done.
        config2 = write_config(tmp_path, broker.url, [folder_camera("in1-overview", "in1", footage, live=False)],
                               ["in1"])
        second = start_daemon(config2, tmp_path / "daemon.log", "--until-done")
        assert second.wait(60) == 0, (tmp_path / "daemon.log").read_text()
        all_ids = stored_ids(db)
        assert wait(lambda: set(event_ids(col, topic)) >= set(all_ids), 20)
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
        col.close()
    got = event_ids(col, topic)
    dups = sum(n - 1 for n in Counter(got).values())
    print(f"\nRELIABILITY kill9: stored_by_killed={len(killed_ids)} backlog_at_kill={backlog} "
          f"received_before_restart={received_before_restart} stored_total={len(all_ids)} received={len(got)} "
          f"unique={len(set(got))} duplicates={dups}")
    assert set(killed_ids) <= set(got)  # nothing the killed process stored is lost
    assert set(got) == set(all_ids)
    assert len(all_ids) == len(killed_ids) + trucks  # the replay's passages, with new ids
    assert outbox_depth(db) == 0


def test_camera_disconnect_goes_offline_then_online_while_other_lane_runs(tmp_path: Path, mosquitto: Mosquitto) -> None:
    cam = MjpegServer(fps=20)
    cam.up.set()
    footage = make_footage(tmp_path / "frames", 40)  # lane in1: ~14 s of paced replay
    port = free_port()
    cameras = [
        folder_camera("in1-overview", "in1", footage, live=True),
        {"name": "in2-live", "source": cam.url, "role": "overview", "lane": "in2", "trigger": True,
         "reconnect_min_s": 0.1, "reconnect_max_s": 0.2},
    ]
    config = write_config(tmp_path, mosquitto.url, cameras, ["in1", "in2"], api_port=port)
    status_topic = f"{PREFIX}/{GATE}/camera/in2-live/status"
    passages = f"{PREFIX}/{GATE}/in1/passage"
    col = MqttCollector(mosquitto.url, topics=[f"{PREFIX}/#"])
    proc = start_daemon(config, tmp_path / "daemon.log")
    base = f"http://127.0.0.1:{port}"

    def states() -> list[str]:
        return [m.json()["state"] for m in col.messages.get(status_topic, [])]

    def api_state() -> str | None:
        try:
            cams = httpx.get(f"{base}/api/cameras", timeout=2).json()
        except httpx.HTTPError:
            return None
        return next((c["state"] for c in cams if c["name"] == "in2-live"), None)

    try:
        assert wait(lambda: "online" in states(), 30), (tmp_path / "daemon.log").read_text()
        assert wait(lambda: api_state() == "online", 10)
        before = len(col.messages.get(passages, []))
        cam.up.clear()  # the camera drops off
        t_down = time.monotonic()
        assert wait(lambda: "offline" in states(), 20), states()
        offline_after_s = time.monotonic() - t_down
        assert api_state() == "offline"
        metrics = httpx.get(f"{base}/metrics", timeout=2).text
        assert 'smartgate_camera_up{camera="in2-live"} 0.0' in metrics
        assert 'smartgate_camera_up{camera="in1-overview"} 1.0' in metrics
        time.sleep(1.0)
        during = len(col.messages.get(passages, [])) - before
        assert during > 0, "lane in1 stopped while lane in2's camera was down"
        cam.up.set()  # back
        t_up = time.monotonic()
        assert wait(lambda: states()[-1] == "online", 20), states()
        online_after_s = time.monotonic() - t_up
        assert api_state() == "online"
        assert all(m.json()["camera"] == "in2-live" for m in col.messages[status_topic])
        late = MqttCollector(mosquitto.url, topics=[status_topic])  # retained: a newcomer learns the state
        try:
            last = late.wait_for(1, status_topic, timeout=5)
            assert [(m.json()["state"], m.retain) for m in last] == [("online", True)]
        finally:
            late.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        cam.shutdown()
    assert wait(lambda: states()[-1] == "ended", 5)
    col.close()
    seq = [s for i, s in enumerate(states()) if i == 0 or s != states()[i - 1]]
    print(f"\nRELIABILITY camera_disconnect: states={'>'.join(seq)} offline_after_s={offline_after_s:.1f} "
          f"online_after_s={online_after_s:.1f} other_lane_passages_during_outage={during}")
    assert rc == 0
    assert seq.index("online") < seq.index("offline") < len(seq) - 1 - seq[::-1].index("online")
    log = (tmp_path / "daemon.log").read_text()
    assert "camera in2-live: offline" in log


def _tls_files(d: Path) -> None:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=smartgate-test-ca")
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for who, cn in (("server", "127.0.0.1"), ("client", "gate-edge")):
        run("req", *ec, "-keyout", f"{who}.key", "-out", f"{who}.csr", "-subj", f"/CN={cn}")
        run("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{who}.crt", "-days", "2", "-extfile", f"{who}.ext")


def test_daemon_over_mutual_tls_with_password_never_logs_secrets(tmp_path: Path) -> None:
    """A real daemon to a TLS-only broker that wants a client certificate AND a password; secrets come from
    the environment and appear nowhere in its DEBUG log."""
    work = tmp_path / "broker"
    work.mkdir()
    try:
        _tls_files(work)
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"openssl cannot make test certificates: {e}")
    pw = "pw-" + os.urandom(8).hex()
    token = "tok-" + os.urandom(8).hex()
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(work / "passwd"), "gate", pw], check=True,
                   capture_output=True)
    broker = Mosquitto(work, extra_conf=[
        f"cafile {work}/ca.crt", f"certfile {work}/server.crt", f"keyfile {work}/server.key",
        "require_certificate true", "allow_anonymous false", f"password_file {work}/passwd",
    ])
    broker.start()
    footage = make_footage(tmp_path / "frames", 3)
    port = free_port()
    url = f"mqtts://127.0.0.1:{broker.port}"
    config = write_config(
        tmp_path, url, [folder_camera("in1-overview", "in1", footage, live=False)], ["in1"], api_port=port,
        username_env="SG_MQTT_USER", password_env="SG_MQTT_PASS", ca_file=str(work / "ca.crt"),
        cert_file=str(work / "client.crt"), key_file=str(work / "client.key"),
    )
    cfg = yaml.safe_load(config.read_text())
    cfg["api"]["token_env"] = "SG_API_TOKEN"
    config.write_text(yaml.safe_dump(cfg))
    env = {"SG_MQTT_USER": "gate", "SG_MQTT_PASS": pw, "SG_API_TOKEN": token}
    log = tmp_path / "daemon.log"
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "--log-level", "DEBUG", "run", "--config", str(config), "--until-done"],
            cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT, env={**os.environ, **env},
        )
        assert proc.wait(60) == 0, log.read_text()
        text = log.read_text()
        assert "tls=True, auth=True" in text and "connected to 127.0.0.1" in text, text
        assert outbox_depth(tmp_path / "gate.db") == 0  # every event acknowledged over TLS
        assert len(stored_ids(tmp_path / "gate.db")) == 3
        broker_log = broker.log_text()
        assert pw not in text and token not in text
        assert pw not in broker_log
        # Without the client certificate the broker refuses the TLS handshake.
        cfg["mqtt"].pop("cert_file")
        cfg["mqtt"].pop("key_file")
        cfg["mqtt"]["client_id"] = "rel-edge-nocert"
        cfg["storage"]["database"] = str(tmp_path / "nocert.db")
        config.write_text(yaml.safe_dump(cfg))
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "--log-level", "INFO", "run", "--config", str(config), "--until-done"],
            cwd=REPO, stdout=(tmp_path / "nocert.log").open("wb"), stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
        assert proc.wait(60) == 0
        assert outbox_depth(tmp_path / "nocert.db") == 3  # kept for later, not lost
        assert "connected to 127.0.0.1" not in (tmp_path / "nocert.log").read_text()
    finally:
        broker.stop()


def test_api_listens_on_localhost_only_by_default(tmp_path: Path, mosquitto: Mosquitto) -> None:
    import socket

    footage = make_footage(tmp_path / "frames", 1)
    port = free_port()
    config = write_config(tmp_path, mosquitto.url, [folder_camera("in1-overview", "in1", footage, live=False)],
                          ["in1"], api_port=port)
    proc = start_daemon(config, tmp_path / "daemon.log")  # stays up serving the API after the footage
    try:
        assert wait(lambda: httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200
                    if _open("127.0.0.1", port) else False, 30)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # this host's address on its network
            try:
                s.connect(("192.0.2.1", 9))
                lan_ip = s.getsockname()[0]
            except OSError:
                lan_ip = None
        if lan_ip is None or lan_ip.startswith("127."):
            pytest.skip("no non-loopback address on this machine")
        assert not _open(lan_ip, port), f"API reachable on {lan_ip}:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def _open(host: str, port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def test_status_payloads_match_the_schema(tmp_path: Path, mosquitto: Mosquitto) -> None:
    import jsonschema

    schema = json.loads((REPO / "edge" / "comms" / "schemas" / "camera_status.schema.json").read_text())
    footage = make_footage(tmp_path / "frames", 1)
    config = write_config(tmp_path, mosquitto.url, [folder_camera("in1-overview", "in1", footage, live=False)],
                          ["in1"])
    col = MqttCollector(mosquitto.url, topics=[f"{PREFIX}/{GATE}/camera/+/status"])
    try:
        proc = start_daemon(config, tmp_path / "daemon.log", "--until-done")
        assert proc.wait(60) == 0
        msgs = col.wait_until(lambda m: m.json()["state"] == "ended", f"{PREFIX}/{GATE}/camera/in1-overview/status")
    finally:
        col.close()
    assert msgs is not None
    for m in col.messages[f"{PREFIX}/{GATE}/camera/in1-overview/status"]:
        jsonschema.validate(m.json(), schema)
