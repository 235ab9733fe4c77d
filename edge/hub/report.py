"""Gate figures from the hub's PostgreSQL over a date range (the monthly report, the daily look):

* vehicles per lane per hour (and per lane),
* clear / flag share (the current verdict, i.e. after re-decisions; the boxes' first verdicts beside it),
* flags by reason,
* flag -> decision time, p50 and p95 (from the first flag to the inspector's approve/reject),
* decisions per inspector (approve, reject, correct, link).

Days and hours are in `report.timezone` (default Asia/Ho_Chi_Minh): `--from 2025-03-01 --to 2025-03-31` is
March, local time, both days included. `smartgate report --config hub.yaml --from D --to D [--csv|--json]`;
the hub serves the same as `GET /api/hub/report` and the page `/hub/report`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from edge.hub.db import HubDb

ACTIONS = ("approve", "reject", "correct", "link")


def day_range(d_from: date, d_to: date, tz: str) -> tuple[datetime, datetime]:
    """[local midnight of d_from, local midnight after d_to) as aware datetimes."""
    if d_to < d_from:
        raise ValueError("--to is before --from")
    zone = ZoneInfo(tz)
    return (datetime.combine(d_from, time(0), zone), datetime.combine(d_to + timedelta(days=1), time(0), zone))


def compute(conn: psycopg.Connection, d_from: date, d_to: date, tz: str = "Asia/Ho_Chi_Minh",
            gate: str | None = None) -> dict[str, Any]:
    a, b = day_range(d_from, d_to, tz)
    where = "started_at >= %(a)s AND started_at < %(b)s" + (" AND gate = %(gate)s" if gate else "")
    args = {"a": a, "b": b, "tz": tz, "gate": gate}
    hours = conn.execute(
        f"SELECT gate, lane, to_char(date_trunc('hour', started_at AT TIME ZONE %(tz)s), 'YYYY-MM-DD HH24:00'),"
        f" count(*) FROM passages WHERE {where} GROUP BY 1, 2, 3 ORDER BY 3, 1, 2", args).fetchall()
    by_lane: dict[tuple[str, str], int] = {}
    for g, lane, _, n in hours:
        by_lane[(g, lane)] = by_lane.get((g, lane), 0) + int(n)
    status = dict(conn.execute(f"SELECT status, count(*) FROM passages WHERE {where} GROUP BY status",
                               args).fetchall())
    first = dict(conn.execute(f"SELECT first_status, count(*) FROM passages WHERE {where} GROUP BY first_status",
                              args).fetchall())
    revised = conn.execute(f"SELECT count(*) FROM passages WHERE {where} AND revision > 1", args).fetchone()
    reasons = conn.execute(
        f"SELECT r, count(*) FROM passages, unnest(reasons) AS r WHERE status = 'flag' AND {where}"
        " GROUP BY r ORDER BY 2 DESC, 1", args).fetchall()
    timing = conn.execute(
        "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY s), percentile_cont(0.95) WITHIN GROUP"
        f" (ORDER BY s) FROM (SELECT extract(epoch FROM decided_at - flagged_at) AS s FROM passages WHERE {where}"
        " AND flagged_at IS NOT NULL AND decided_at IS NOT NULL AND decided_at >= flagged_at) t", args).fetchone()
    dwhere = "at >= %(a)s AND at < %(b)s" + (" AND gate = %(gate)s" if gate else "")
    per_user: dict[str, dict[str, int]] = {}
    for user, action, n in conn.execute(f"SELECT user_name, action, count(*) FROM decisions WHERE {dwhere}"
                                        " GROUP BY 1, 2 ORDER BY 1, 2", args).fetchall():
        per_user.setdefault(user, dict.fromkeys(ACTIONS, 0))[action] = int(n)
    total = sum(int(n) for n in status.values())
    clear, flag = int(status.get("clear", 0)), int(status.get("flag", 0))
    return {
        "from": d_from.isoformat(), "to": d_to.isoformat(), "timezone": tz, "gate": gate,
        "passages": total,
        "status": {"clear": clear, "flag": flag,
                   "clear_share": round(clear / total, 4) if total else None,
                   "flag_share": round(flag / total, 4) if total else None,
                   "box_first_verdict": {"clear": int(first.get("clear", 0)), "flag": int(first.get("flag", 0))},
                   "revised": int(revised[0]) if revised else 0},
        "by_lane": [{"gate": g, "lane": lane, "vehicles": n} for (g, lane), n in sorted(by_lane.items())],
        "by_lane_hour": [{"gate": g, "lane": lane, "hour": h, "vehicles": int(n)} for g, lane, h, n in hours],
        "flags_by_reason": [{"reason": r, "count": int(n)} for r, n in reasons],
        "flag_to_decision_s": {
            "decided": int(timing[0]) if timing else 0,
            "p50": round(float(timing[1]), 1) if timing and timing[1] is not None else None,
            "p95": round(float(timing[2]), 1) if timing and timing[2] is not None else None,
        },
        "decisions_by_inspector": [{"user": u, **c, "total": sum(c.values())} for u, c in per_user.items()],
    }


def to_csv(rep: dict[str, Any]) -> str:
    """Long format, one figure per row: section, gate, lane, hour, name, value."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["section", "gate", "lane", "hour", "name", "value"])
    w.writerow(["range", "", "", "", "from", rep["from"]])
    w.writerow(["range", "", "", "", "to", rep["to"]])
    w.writerow(["range", "", "", "", "timezone", rep["timezone"]])
    w.writerow(["total", "", "", "", "passages", rep["passages"]])
    for k in ("clear", "flag", "clear_share", "flag_share", "revised"):
        w.writerow(["status", "", "", "", k, rep["status"][k]])
    for row in rep["by_lane"]:
        w.writerow(["vehicles_per_lane", row["gate"], row["lane"], "", "vehicles", row["vehicles"]])
    for row in rep["by_lane_hour"]:
        w.writerow(["vehicles_per_lane_hour", row["gate"], row["lane"], row["hour"], "vehicles", row["vehicles"]])
    for row in rep["flags_by_reason"]:
        w.writerow(["flags_by_reason", "", "", "", row["reason"], row["count"]])
    t = rep["flag_to_decision_s"]
    for k in ("decided", "p50", "p95"):
        w.writerow(["flag_to_decision_s", "", "", "", k, "" if t[k] is None else t[k]])
    for row in rep["decisions_by_inspector"]:
        for k in (*ACTIONS, "total"):
            w.writerow(["decisions_by_inspector", "", "", "", f"{row['user']}:{k}", row[k]])
    return out.getvalue()


def to_text(rep: dict[str, Any]) -> str:
    s = rep["status"]
    lines = [f"smartgate report {rep['from']} .. {rep['to']} ({rep['timezone']})",
             f"passages: {rep['passages']}  clear {s['clear']} ({_pct(s['clear_share'])})  flag {s['flag']} "
             f"({_pct(s['flag_share'])})  re-decided {s['revised']}", "", "vehicles per lane:"]
    lines += [f"  {r['gate']}/{r['lane']}: {r['vehicles']}" for r in rep["by_lane"]] or ["  —"]
    lines += ["", "flags by reason:"]
    lines += [f"  {r['reason']}: {r['count']}" for r in rep["flags_by_reason"]] or ["  —"]
    t = rep["flag_to_decision_s"]
    lines += ["", f"flag -> decision: {t['decided']} decided, p50 {t['p50']} s, p95 {t['p95']} s", "",
              "decisions per inspector:"]
    lines += [f"  {r['user']}: " + ", ".join(f"{k} {r[k]}" for k in ACTIONS if r[k]) for r in
              rep["decisions_by_inspector"]] or ["  —"]
    lines += ["", "vehicles per lane per hour:"]
    lines += [f"  {r['hour']}  {r['gate']}/{r['lane']}: {r['vehicles']}" for r in rep["by_lane_hour"]] or ["  —"]
    return "\n".join(lines) + "\n"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="the hub's YAML config (its database section is used)")
    p.add_argument("--from", dest="d_from", required=True, type=date.fromisoformat, help="first day, YYYY-MM-DD")
    p.add_argument("--to", dest="d_to", required=True, type=date.fromisoformat, help="last day, YYYY-MM-DD")
    p.add_argument("--gate", help="only this gate")
    p.add_argument("--tz", help="time zone of days and hours (default: report.timezone of the config)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="CSV, one figure per row")
    fmt.add_argument("--json", action="store_true", help="JSON")


def main_report(args: argparse.Namespace) -> int:
    from edge.config import ConfigError
    from edge.hub.config import load_hub_config

    try:
        cfg = load_hub_config(args.config)
        tz = args.tz or cfg.report.timezone
        ZoneInfo(tz)
        day_range(args.d_from, args.d_to, tz)
    except (ConfigError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        db = HubDb(cfg.database.conninfo(), 1, 1, cfg.database.connect_timeout_s, name="report")
    except Exception as e:
        print(f"error: cannot reach the hub database: {e}", file=sys.stderr)
        return 1
    try:
        with db.tx() as conn:
            rep = compute(conn, args.d_from, args.d_to, tz, args.gate)
    finally:
        db.close()
    if args.json:
        sys.stdout.write(json.dumps(rep, ensure_ascii=False, indent=2) + "\n")
    elif args.csv:
        sys.stdout.write(to_csv(rep))
    else:
        sys.stdout.write(to_text(rep))
    return 0
