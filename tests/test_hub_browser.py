"""The hub's review page and report page in real headless Chromium (Debian's /usr/bin/chromium via Playwright),
served by a real hub on PostgreSQL: log in, search a plate over a date range, link a manifest by hand, see the new
revision, approve, open the report with its plots. No console errors, no CSP violations.

Screenshots go to tmp_path, or to $SMARTGATE_SCREENSHOTS (docs/img for the documentation)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import free_port
from hub_helpers import TOKEN, declaration_body, hub_config, passage

from edge.api.review.auth import Auth
from edge.comms.payload import passage_payload
from edge.domain.declarations import DeclarationIn
from edge.hub.main import Hub
from edge.storage.store import Store

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "Cua-khau-2025!"


@pytest.fixture
def chromium():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the `test` extra)")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_hub_queue_link_and_report_in_chromium(tmp_path, pg_dsn, chromium, monkeypatch):
    monkeypatch.setenv("SG_HUB_TOKEN", TOKEN)
    shots = Path(os.environ.get("SMARTGATE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    port = free_port()
    hub = Hub(hub_config(tmp_path, pg_dsn, None, api_port=port))
    store = Store(tmp_path / "hub-accounts.db")
    Auth(store).add_user("lan.nguyen", "inspector", PASSWORD)
    store.close()
    now = datetime.now(UTC).replace(microsecond=0)
    ps = [passage(lane, box, now - timedelta(hours=5 - i, minutes=7 * i), plate=plate,
                  containers=(("MSKU1234565",) if i == 1 else ()))
          for i, (lane, box, plate) in enumerate([("in-1", "box-a", "29C11111"), ("in-2", "box-a", "29C22222"),
                                                   ("in-3", "box-b", "29C33333"), ("out-1", "box-b", "29C44444")])]
    with hub.db.tx() as conn:
        for p in ps:
            hub.core.ingest_passage(conn, passage_payload(p, None))
        hub.core.store_declaration(conn, DeclarationIn.model_validate(declaration_body("NSW-PAGE", plate="29C22223")))
    hub.start()
    url = f"http://127.0.0.1:{port}"
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, locale="vi-VN",
                                   timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        page.goto(f"{url}/hub")
        page.wait_for_url("**/hub/login")
        page.fill("#name", "lan.nguyen")
        page.fill("#password", PASSWORD)
        page.click("#submit")
        page.wait_for_url("**/hub")
        page.wait_for_selector("#rows tr >> nth=3")
        assert page.locator("#rows tr").count() == 4  # every box's flags in one queue
        # Search a plate over today's date range.
        page.fill("#f-q", "29c-222")
        page.fill("#f-since", (now - timedelta(days=1)).astimezone().strftime("%Y-%m-%d"))
        page.click("#filters button[type=submit]")
        page.wait_for_function("() => document.querySelectorAll('#rows tr').length === 1")
        page.click("#rows tr")
        page.wait_for_selector("#decl-id")
        # Link the manifest by hand (the plate was mistyped at the Single Window).
        page.fill("#comment", "biển số gõ sai trên tờ khai; đã kiểm tra giấy tờ")
        page.fill("#decl-id", "NSW-PAGE")
        page.click("#detail .actions span button")
        page.wait_for_function("() => document.querySelector('#detail').innerText.includes('NSW-PAGE')")
        page.wait_for_function("() => document.querySelectorAll('.revs li').length === 2")
        text = page.inner_text("#detail")
        assert "lan.nguyen" in text and "linked by hand" in text
        page.screenshot(path=str(shots / "hub_queue.png"))
        page.fill("#comment", "")
        page.click("#detail .btn.approve")
        page.wait_for_function("() => document.querySelector('#detail').innerText.includes('Đã duyệt')")
        # The report page draws its plots.
        hcm = ZoneInfo("Asia/Ho_Chi_Minh")  # the report's days are the hub's report.timezone
        page.goto(f"{url}/hub/report?from={(now - timedelta(days=1)).astimezone(hcm):%Y-%m-%d}"
                  f"&to={(now + timedelta(days=1)).astimezone(hcm):%Y-%m-%d}")
        page.wait_for_selector("svg.bars rect")
        assert page.locator("svg.bars").count() == 3
        assert page.inner_text("#report h2 + p").startswith("Lượt xe: 4 ")
        page.screenshot(path=str(shots / "hub_report.png"), full_page=True)
    finally:
        context.close()
        hub.close()
    assert not problems, problems
