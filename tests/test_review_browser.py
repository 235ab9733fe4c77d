"""The review page in real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

The daemon's API runs under uvicorn over a tmp Store seeded with flagged passages whose evidence JPEGs are
frames cut from the committed sample footage, next to a real Mosquitto broker and MqttPublisher. An
inspector logs in, opens a flagged passage, corrects its container code, approves it, and sees the decision
in the page's audit list and on MQTT with the passage's event id. A new flag appears without a reload.

Screenshots go to tmp_path, or to $SMARTGATE_SCREENSHOTS (docs/img for the documentation).
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import pytest
from conftest import MqttCollector, free_port, make_passage

from edge.api.app import ApiState, create_app
from edge.api.review.auth import Auth
from edge.comms.mqtt import MqttPublisher
from edge.config import MqttConfig
from edge.domain.declarations import Declaration, DeclarationIn
from edge.domain.reasons import reason
from edge.domain.types import CargoRead, ContainerRead, PlateRead, Verdict
from edge.metrics import Metrics
from edge.storage.evidence import EvidenceStore
from edge.storage.store import Store

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CLIPS = Path(__file__).resolve().parent.parent / "data_samples" / "clips" / "demo"
GATE = "lao-cai-kim-thanh"
PASSWORD = "Cua-khau-2025!"
NOW = datetime.now(UTC).replace(microsecond=0)


def _frames(path: Path, wanted: set[int]) -> dict[int, object]:
    cap = cv2.VideoCapture(str(path))
    out, i = {}, 0
    try:
        while i <= max(wanted):
            ok, f = cap.read()
            if not ok:
                break
            if i in wanted:
                out[i] = f
            i += 1
    finally:
        cap.release()
    return out


def _seed(store: Store, evidence: EvidenceStore) -> str:
    """Flagged passages built from the sample clips' ground truth; returns the id of the one under test."""
    specs = [  # (lane, truth index, age in minutes, how the cameras got it wrong)
        ("in1", 0, 1, "check_digit"), ("out1", 4, 4, "not_declared"), ("in1", 1, 9, "no_declaration"),
        ("in1", 4, 15, "mismatch"), ("out1", 2, 22, "plate_unread"),
    ]
    target = ""
    for lane, k, age, fault in specs:
        truth = json.loads((CLIPS / lane / "truth.json").read_text())
        t = truth["passages"][k]
        fps = truth["fps"]
        mid = int((t["t_enter_s"] + t["t_exit_s"]) / 2 * fps)
        pf = _frames(CLIPS / lane / "plate.mp4", {t["plate_best"]["frame"]})[t["plate_best"]["frame"]]
        x, y, w, h = t["plate_best"]["box"]
        plate_crop = pf[max(0, y - 12):y + h + 12, max(0, x - 16):x + w + 16]
        # About three quarters through the passage the container's code is in the camera's view.
        code_frame = round((t["t_enter_s"] + 0.72 * (t["t_exit_s"] - t["t_enter_s"])) * fps)
        cont = _frames(CLIPS / lane / "container.mp4", {code_frame})[code_frame]
        cargo = _frames(CLIPS / lane / "cargo.mp4", {mid})[mid]
        started = NOW - timedelta(minutes=age)
        pid = f"{t['id']}-{age:02d}"
        plate = PlateRead(text=t["plate"], display=t["plate_display"], country=t["plate_country"],
                          format=t["plate_format"], confidence=0.94)
        containers = [ContainerRead(code=c["code"], check_digit_ok=True, size_type=c["size_type"],
                                    size_type_text=c["size_type_text"], layout=c["layout"], confidence=0.9)
                      for c in t["containers"]]
        decl = None
        if fault == "check_digit":  # the last digit read as 0: the check digit (9) does not hold
            c0 = containers[0]
            containers[0] = c0.model_copy(update={"code": c0.code[:10] + "0", "check_digit_ok": False,
                                                  "confidence": 0.71})
            reasons = [reason("container_check_digit_failed", containers[0].code)]
            decl = DeclarationIn(id="NSW-2025-000124", direction="import", plate=t["plate"],
                                 containers=[t["containers"][0]["code"]],
                                 lines=[{"hs_code": "8542.31", "description": "Mạch tích hợp / integrated circuits"}])
        elif fault == "not_declared":
            reasons = [reason("container_not_declared", containers[0].code)]
        elif fault == "no_declaration":
            reasons = [reason("no_declaration")]
        elif fault == "mismatch":
            reasons = [reason("cargo_mismatch_declaration")]
        else:
            plate = PlateRead(reason="no_text")
            reasons = [reason("plate_unread")]
        p = make_passage(id=pid, gate=GATE, lane=lane, direction=truth["direction"], started_at=started,
                         ended_at=started + timedelta(seconds=t["t_exit_s"] - t["t_enter_s"]), plate=plate,
                         containers=containers, cargo=CargoRead(cls=t["cargo"], confidence=0.88),
                         verdict=Verdict(status="flag", reasons=reasons), evidence=[],
                         declaration_id=decl.id if decl else None, created_at=started + timedelta(seconds=8))
        cam = f"{lane}-"
        p.evidence.append(evidence.save(plate_crop, "plate", cam + "plate", pid, started + timedelta(seconds=2)))
        if containers:
            p.evidence.append(evidence.save(cont[0:170, 250:690], "container", cam + "container", pid,
                                            started + timedelta(seconds=4)))
        p.evidence.append(evidence.save(cargo, "cargo", cam + "cargo", pid, started + timedelta(seconds=3)))
        store.save_passage(p)
        if decl is not None:
            store.save_declaration(Declaration.received(decl))
            store.mark_declaration_matched(decl.id, pid)
            target = pid
    return target


class Server:
    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started, "uvicorn did not start"
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def chromium():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the `test` extra)")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_inspector_corrects_and_approves_a_flagged_passage(tmp_path, mosquitto, chromium):
    shots = Path(os.environ.get("SMARTGATE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    store = Store(tmp_path / "gate.db")
    evidence = EvidenceStore(tmp_path / "evidence")
    target = _seed(store, evidence)
    Auth(store).add_user("lan.nguyen", "inspector", PASSWORD)
    pub = MqttPublisher(MqttConfig(url=mosquitto.url, client_id="gate-browser-test"), GATE)
    col = MqttCollector(mosquitto.url, topics=[f"smartgate/{GATE}/+/decision"])
    state = ApiState(store=store, evidence=evidence, metrics=Metrics(), gate_id=GATE,
                     gate_name="Lào Cai – Kim Thành road bridge", version="0.1.0", lanes=["in1", "out1"],
                     publish_decision=pub.publish_decision)
    server = Server(create_app(state))
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, locale="vi-VN",
                                   timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "Failed to load" not in m.text
            else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        # Log in (the page sends anonymous visitors to the login form).
        page.goto(f"{server.url}/review")
        page.wait_for_url("**/review/login")
        page.fill("#name", "lan.nguyen")
        page.fill("#password", PASSWORD)
        page.click("#submit")
        page.wait_for_url("**/review")
        page.wait_for_selector(".q-item >> nth=4")
        assert page.locator(".q-item").count() == 5
        assert page.inner_text("#q-count") == "5"
        assert page.locator(".q-item").first.get_attribute("data-id") == target  # newest first
        assert "Duyệt phương tiện" in page.inner_text(".title")  # Vietnamese by default

        # Open the flagged passage: evidence side by side, reasons in plain language, the declaration.
        page.click(f'.q-item[data-id="{target}"]')
        page.wait_for_selector("#passage:not([hidden])")
        assert page.inner_text("#p-plate") == "桂A·473T7"
        assert "số kiểm tra ISO 6346 không khớp" in page.inner_text("#p-reasons")
        assert page.inner_text("#ev-container .code") == "MWCU0044290"
        assert "sai" in page.inner_text("#ev-container .cd.bad")
        assert "NSW-2025-000124" in page.inner_text("#declaration")
        page.wait_for_function("[...document.querySelectorAll('.imgs img')].every(i => i.complete && i.naturalWidth > 0)")
        assert page.locator(".imgs img").count() == 3
        page.screenshot(path=str(shots / "review_queue.png"))

        # Correct the container code (keyboard: c), with the mandatory comment.
        page.keyboard.press("c")
        page.wait_for_selector("#dlg-correct[open]")
        assert page.input_value("#c-field") == "container:0"  # starts on the code whose check digit fails
        page.fill("#c-value", "MWCU0044299")
        page.click("#c-ok")
        assert page.inner_text("#c-error") != ""  # no comment, no correction
        page.fill("#c-comment", "Đối chiếu số trên cửa container: MWCU 004429 9")
        page.click("#c-ok")
        page.wait_for_selector('#audit tr[data-action="correct"]')
        assert page.inner_text("#ev-container .code") == "MWCU0044299"
        assert page.locator("#ev-container .cd.ok").count() == 1

        # A new flag reaches the open page without a reload (SSE).
        late = make_passage(id="late-flag-01", gate=GATE, lane="out1", direction="export", started_at=NOW,
                            plate=PlateRead(text="24C12345", display="24C-123.45", country="VN"), containers=[],
                            verdict=Verdict(status="flag", reasons=[reason("cargo_not_permitted")]))
        store.save_passage(late)
        state.review_events.passage(late)
        page.wait_for_selector('.q-item[data-id="late-flag-01"]', timeout=10_000)
        page.click(f'.q-item[data-id="{target}"]')
        page.wait_for_selector('#audit tr[data-action="correct"]')
        page.screenshot(path=str(shots / "review_passage.png"))

        # Approve (keyboard: a, then Enter confirms).
        page.keyboard.press("a")
        page.wait_for_selector("#dlg-decide[open]")
        page.keyboard.press("Enter")
        page.wait_for_selector('#audit tr[data-action="approve"]')
        assert page.locator("#p-review.rs-approved").count() == 1
        assert page.is_disabled("#btn-approve") and page.is_disabled("#btn-correct")
        rows = page.locator("#audit tr").all_inner_texts()
        assert "lan.nguyen" in rows[0] and "MWCU0044290" in rows[0] and "MWCU0044299" in rows[0]
        assert "Đối chiếu số trên cửa container" in rows[0]

        # English is one click away.
        page.click('button.lang[data-lang="en"]')
        assert page.inner_text("#btn-approve span") == "Clear"
        assert "check digit does not match" in page.inner_text("#p-reasons")

        # The decisions on MQTT, with the passage's event id.
        msgs = col.wait_for(2, topic=f"smartgate/{GATE}/in1/decision", timeout=10)
        got = [(m.json()["event_id"], m.json()["action"], m.json()["user"], m.qos) for m in msgs]
        assert got == [(target, "correct", "lan.nguyen", 1), (target, "approve", "lan.nguyen", 1)]
        assert msgs[0].json()["new"] == "MWCU0044299" and msgs[1].json()["review_status"] == "approved"
        assert problems == []  # no script errors, no CSP violations
    finally:
        context.close()
        state.review_events.close()
        server.stop()
        col.close()
        pub.close()
        store.close()
