"""`smartgate report` and GET /api/hub/report: every figure equals the count computed from what was sent."""

from __future__ import annotations

import csv
import io
import json
import statistics
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hub_helpers import GATE, TOKEN, hub_config, passage

from edge.comms.payload import passage_payload
from edge.domain.types import Reason, Verdict
from edge.hub.core import HubCore
from edge.hub.db import HubDb
from edge.hub.report import compute, to_csv

REPO = Path(__file__).resolve().parents[1]
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
REASONS = ["no_declaration", "cargo_unverified", "plate_unread", "customs_not_released"]


def _percentile(xs: list[float], q: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    xs = sorted(xs)
    pos = (len(xs) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@pytest.fixture
def filled(tmp_path, pg_dsn, monkeypatch):
    """Passages over three local days on four lanes of two boxes, some flagged, some decided."""
    monkeypatch.setenv("SG_HUB_TOKEN", TOKEN)
    cfg = hub_config(tmp_path, pg_dsn, None)
    db = HubDb(pg_dsn, 1, 2)
    db.migrate()
    core = HubCore(cfg)
    sent, decided = [], []
    start = datetime(2025, 3, 1, 0, 0, tzinfo=TZ)  # local midnight, 17:00 UTC the day before
    with db.tx() as conn:
        for i in range(120):
            lane = ["in-1", "in-2", "in-3", "out-1"][i % 4]
            box = "box-a" if lane in ("in-1", "in-2") else "box-b"
            t = start + timedelta(minutes=37 * i)  # spreads over ~3 days and many hours
            reasons = [REASONS[i % 4]] + ([REASONS[(i + 1) % 4]] if i % 5 == 0 else []) if i % 3 else []
            v = Verdict(status="flag" if reasons else "clear",
                        reasons=[Reason(code=c, message_en="x.", message_vi="y.") for c in reasons])
            p = passage(lane, box, t.astimezone(UTC), plate=f"29C{i:05d}", direction="export" if lane == "out-1"
                        else "import").model_copy(update={"verdict": v})
            core.ingest_passage(conn, passage_payload(p, None))
            sent.append(p)
        # Inspectors decide some flags; the decision time is measured from the box's decision (created_at).
        flags = [p for p in sent if p.verdict.status == "flag"]
        for k, p in enumerate(flags[:30]):
            user, action = ("lan.nguyen", "approve") if k % 3 else ("minh.le", "reject")
            at = p.created_at + timedelta(seconds=20 + 13 * k)
            conn.execute("INSERT INTO decisions (source, gate, lane, event_id, at, user_name, role, via, action)"
                         " VALUES ('hub', %s, %s, %s, %s, %s, 'inspector', 'session', %s)",
                         (GATE, p.lane, p.id, at, user, action))
            conn.execute("UPDATE passages SET review_status = %s, decided_at = %s, decided_by = %s WHERE event_id = %s",
                         ("approved" if action == "approve" else "rejected", at, user, p.id))
            decided.append((p, user, action, (at - p.created_at).total_seconds()))
    yield cfg, db, sent, decided
    db.close()


def expected(sent, decided, d_from: date, d_to: date) -> dict:
    lo = datetime.combine(d_from, datetime.min.time(), TZ)
    hi = datetime.combine(d_to + timedelta(days=1), datetime.min.time(), TZ)
    inside = [p for p in sent if lo <= p.started_at < hi]
    hours = Counter((p.lane, p.started_at.astimezone(TZ).strftime("%Y-%m-%d %H:00")) for p in inside)
    status = Counter(p.verdict.status for p in inside)
    reasons = Counter(r.code for p in inside if p.verdict.status == "flag" for r in p.verdict.reasons)
    times = [s for p, _, _, s in decided if lo <= p.started_at < hi]
    users: dict[str, Counter] = {}
    for _, user, action, _ in decided:
        users.setdefault(user, Counter())[action] += 1
    return {"n": len(inside), "hours": hours, "status": status, "reasons": reasons, "times": times, "users": users}


def test_report_figures_equal_what_was_sent(filled):
    cfg, db, sent, decided = filled
    d_from, d_to = date(2025, 3, 1), date(2025, 3, 2)
    with db.tx() as conn:
        rep = compute(conn, d_from, d_to, "Asia/Ho_Chi_Minh")
    exp = expected(sent, decided, d_from, d_to)
    assert 0 < rep["passages"] == exp["n"] < len(sent)  # the third day is outside the range
    assert {(r["lane"], r["hour"]): r["vehicles"] for r in rep["by_lane_hour"]} == dict(exp["hours"])
    assert {r["lane"]: r["vehicles"] for r in rep["by_lane"]} == dict(Counter(lane for lane, _ in exp["hours"].elements()))
    assert rep["status"]["clear"] == exp["status"]["clear"] and rep["status"]["flag"] == exp["status"]["flag"]
    assert rep["status"]["flag_share"] == round(exp["status"]["flag"] / exp["n"], 4)
    assert {r["reason"]: r["count"] for r in rep["flags_by_reason"]} == dict(exp["reasons"])
    t = rep["flag_to_decision_s"]
    assert t["decided"] == len(exp["times"])
    assert t["p50"] == round(statistics.median(exp["times"]), 1)
    assert t["p95"] == round(_percentile(exp["times"], 0.95), 1)


def test_decisions_per_inspector_and_csv(filled):
    cfg, db, sent, decided = filled
    with db.tx() as conn:
        rep = compute(conn, date(2025, 2, 28), date(2025, 3, 10), "Asia/Ho_Chi_Minh")
    users = Counter((u, a) for _, u, a, _ in decided)
    got = {(r["user"], a): r[a] for r in rep["decisions_by_inspector"] for a in ("approve", "reject") if r[a]}
    assert got == dict(users)
    assert rep["passages"] == len(sent)
    rows = list(csv.DictReader(io.StringIO(to_csv(rep))))
    assert {r["section"] for r in rows} >= {"vehicles_per_lane_hour", "flags_by_reason", "flag_to_decision_s",
                                              "decisions_by_inspector", "status"}
    total = sum(int(r["value"]) for r in rows if r["section"] == "vehicles_per_lane_hour")
    assert total == len(sent)


def test_report_cli_json_csv_and_api(filled, tmp_path, pg_dsn):
    cfg, db, sent, decided = filled
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({"database": {"dsn": pg_dsn}, "api": {"enabled": False}}), encoding="utf-8")
    base = [sys.executable, "-m", "edge.cli", "report", "--config", str(path), "--from", "2025-03-01",
            "--to", "2025-03-03"]
    out = subprocess.run([*base, "--json"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    with db.tx() as conn:
        assert rep == compute(conn, date(2025, 3, 1), date(2025, 3, 3), "Asia/Ho_Chi_Minh")
    out = subprocess.run([*base, "--csv"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("section,gate,lane,hour,name,value\n")
    out = subprocess.run(base, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "flags by reason:" in out.stdout
    bad = subprocess.run([*base[:-4], "--from", "2025-03-05", "--to", "2025-03-01"], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "before" in bad.stderr

    from fastapi.testclient import TestClient

    from edge.hub.api import create_hub_app
    from edge.hub.main import Hub

    hub = Hub(cfg, start_api=False)
    try:
        with TestClient(create_hub_app(hub)) as client:
            r = client.get("/api/hub/report", params={"from": "2025-03-01", "to": "2025-03-03"},
                           headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 200 and r.json() == rep
            assert client.get("/api/hub/report", params={"from": "2025-03-01", "to": "2025-03-03"}).status_code == 401
    finally:
        hub.close()
