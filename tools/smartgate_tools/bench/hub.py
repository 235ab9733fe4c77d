"""Scale figures of the gate hub (docs/benchmarks.md, "Gate hub"):

* `ingest`: boxes (the project's MqttPublisher with its SQLite outbox, one per 2 lanes) replay passages at a given
  rate into a hub (in-process consumer) through a broker; latency from the box's publish call (the passage's
  `created_at`, just before the outbox commit) to the hub's PostgreSQL commit, p50/p95/p99/max.
* `load`: fill PostgreSQL with N realistic passages (COPY, through the same columns and JSON bodies the hub writes)
  spread over `--days`, for the query figures.
* `query`: the review list and searches through the hub's HTTP API (uvicorn, real sockets), p50/p95 per query.

    python -m smartgate_tools.bench.hub ingest --dsn DSN --mqtt mqtt://127.0.0.1:1883 --rate 0.081 --passages 200
    python -m smartgate_tools.bench.hub load --dsn DSN --passages 1000000
    python -m smartgate_tools.bench.hub query --dsn DSN --repeat 40

2030 peak (domain.md §1): Hữu Nghị 3,000-3,500 vehicles a day on 8 lanes; "twice the average" is
2 x 3,500 / 86,400 s = 0.081 passages/s for the gate, 4 boxes of 2 lanes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import string
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PEAK_2030_RATE = 2 * 3500 / 86400  # passages per second for the gate, twice the 2030 daily average
GATE = "huu-nghi"
LANES = [("in-1", "import"), ("in-2", "import"), ("in-3", "import"), ("in-4", "import"),
         ("out-1", "export"), ("out-2", "export"), ("out-3", "export"), ("out-4", "export")]
CN_PROV = "云桂"
LETTERS = "ABCDEFGHKLMNPSTUVXYZ"
OWNERS = ["MSKU", "CSQU", "TGHU", "OOLU", "MWCU", "TCNU", "CMAU", "HLXU"]
REASON_MIX = [("no_declaration", 0.35), ("cargo_unverified", 0.25), ("plate_unread", 0.1), ("low_confidence", 0.1),
              ("container_check_digit_failed", 0.08), ("cargo_mismatch_declaration", 0.07),
              ("customs_not_released", 0.05)]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(xs: list[float]) -> dict[str, float]:
    return {"n": len(xs), "p50_ms": round(1000 * pct(xs, 0.5), 1), "p95_ms": round(1000 * pct(xs, 0.95), 1),
            "p99_ms": round(1000 * pct(xs, 0.99), 1), "max_ms": round(1000 * max(xs), 1) if xs else float("nan"),
            "mean_ms": round(1000 * statistics.fmean(xs), 1) if xs else float("nan")}


def _plate(rng: random.Random) -> str:
    if rng.random() < 0.55:
        return f"{rng.choice(['12', '24', '14', '11', '23'])}{rng.choice(LETTERS)}{rng.randrange(10000, 99999)}"
    return f"{rng.choice(CN_PROV)}{rng.choice(LETTERS)}{''.join(rng.choices(string.digits + 'ABCDEFGHJK', k=5))}"


def _container(rng: random.Random) -> str:
    from edge.domain import iso6346

    base = f"{rng.choice(OWNERS)}{rng.randrange(100000, 999999)}"
    return base + str(iso6346.check_digit(base))


def make_passage(rng: random.Random, lane: str, direction: str, box: str, t0: datetime) -> Any:
    """A passage decided by the real policy against no declaration (so it is flagged, as most are on a box)."""
    from edge.decision.policy import LaneExpectations, PassageFacts, PolicyRules, decide
    from edge.domain.types import CargoRead, ContainerRead, LaneChecks, Passage, PlateRead

    plate = _plate(rng)
    pr = PlateRead(text=plate, display=plate, country="CN" if plate[0] in CN_PROV else "VN", format="vn_truck",
                   confidence=round(rng.uniform(0.7, 1.0), 3), raw=plate)
    containers = [ContainerRead(code=_container(rng), check_digit_ok=True, confidence=0.9, layout="horizontal",
                                size_type="45G1") for _ in range(rng.choice([0, 1, 1, 2]))]
    cargo = CargoRead(cls=rng.choice(["closed", "electronics", "agricultural", "fertilizer"]), confidence=0.85)
    expect = LaneExpectations(containers=True, cargo=True)
    verdict = decide(PassageFacts(direction=direction, expect=expect, plate=pr, containers=containers,  # type: ignore[arg-type]
                                  cargo=cargo, at=t0), None, PolicyRules.from_config())
    return Passage(id=uuid.uuid4().hex, gate=GATE, lane=lane, direction=direction, started_at=t0,  # type: ignore[arg-type]
                   ended_at=t0 + timedelta(seconds=7), frames=70, plate=pr, containers=containers, cargo=cargo,
                   verdict=verdict, created_at=datetime.now(UTC), box=box,
                   checks=LaneChecks(containers=True, cargo=True))


# -- ingest -----------------------------------------------------------------------------------------------


def run_ingest(dsn: str, mqtt_url: str, rate: float, passages: int, boxes: int = 4, seed: int = 7) -> dict[str, Any]:
    from edge.comms.mqtt import MqttPublisher
    from edge.config import MqttConfig
    from edge.hub.config import parse_hub_config
    from edge.hub.main import Hub
    from edge.storage.outbox import Outbox

    tmp = Path(tempfile.mkdtemp(prefix="sg-hub-bench-"))
    cfg = parse_hub_config({"database": {"dsn": dsn, "pool_min": 2, "pool_max": 6},
                            "mqtt": {"url": mqtt_url, "topic_prefix": "bench", "client_id": f"bench-hub-{seed}"},
                            "api": {"enabled": False}, "accounts_db": str(tmp / "acc.db")})
    hub = Hub(cfg, start_api=False)
    hub.start()
    assert hub.consumer is not None
    if not hub.consumer.wait_connected(15):
        raise RuntimeError("hub could not connect to the broker")
    with hub.db.tx() as conn:
        before = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
    pubs = [MqttPublisher(MqttConfig(url=mqtt_url, topic_prefix="bench", client_id=f"bench-box-{i}-{seed}"), GATE,
                          outbox=Outbox(tmp / f"box{i}.db")) for i in range(boxes)]
    for p in pubs:
        p.wait_connected(15)
    hub.consumer.lags.clear()
    per_box = passages // boxes
    start = time.monotonic()

    def box(i: int) -> None:
        rng = random.Random(seed * 100 + i)
        lanes = LANES[2 * i: 2 * i + 2] or LANES[:2]
        next_t = time.monotonic()
        for k in range(per_box):
            # Poisson arrivals at rate/boxes per box: bursts happen, as at a real gate.
            next_t += rng.expovariate(rate / boxes)
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            lane, direction = lanes[k % len(lanes)]
            pubs[i].publish_passage(make_passage(rng, lane, direction, f"box-{i + 1}", datetime.now(UTC)), None)

    threads = [threading.Thread(target=box, args=(i,)) for i in range(boxes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = per_box * boxes
    deadline = time.monotonic() + 120
    while len(hub.consumer.lags) < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    lags = list(hub.consumer.lags)
    for p in pubs:
        p.close()
    with hub.db.tx() as conn:
        after = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
    hub.close()
    return {"rate_per_s": rate, "boxes": boxes, "sent": sent, "stored": int(after - before),
            "duplicates": hub.consumer.duplicates, "elapsed_s": round(elapsed, 1),
            "publish_to_commit": summary(lags)}


# -- load -------------------------------------------------------------------------------------------------


def run_load(dsn: str, passages: int, days: int = 400, seed: int = 11, chunk: int = 20_000) -> dict[str, Any]:
    """COPY `passages` rows (and their revision rows) spread over `days` up to now, 8 lanes, 4 boxes."""
    import psycopg
    from psycopg.types.json import Jsonb

    from edge.comms.payload import passage_payload
    from edge.hub.db import HubDb

    db = HubDb(dsn, 1, 1)
    db.migrate()
    db.close()
    rng = random.Random(seed)
    now = datetime.now(UTC)
    span = days * 86400.0
    t_start = time.monotonic()
    done = 0
    template_cache: list[Any] = []
    with psycopg.connect(dsn) as conn:
        while done < passages:
            n = min(chunk, passages - done)
            with conn.cursor() as cur, cur.copy(
                    "COPY passages (event_id, gate, lane, box, direction, started_at, ended_at, created_at,"
                    " received_at, updated_at, plate_text, containers, declaration_id, status, reasons, first_status,"
                    " flagged_at, revision, review_status, decided_at, decided_by, body) FROM STDIN") as cp:
                cp.set_types(["text", "text", "text", "text", "text", "timestamptz", "timestamptz", "timestamptz",
                              "timestamptz", "timestamptz", "text", "text", "text", "text", "text[]", "text",
                              "timestamptz", "int4", "text", "timestamptz", "text", "jsonb"])
                for _ in range(n):
                    k = rng.randrange(8)
                    lane, direction = LANES[k]
                    t0 = now - timedelta(seconds=rng.random() * span)
                    if len(template_cache) < 500:  # the policy and pydantic are slow: reuse 500 shapes
                        template_cache.append(passage_payload(make_passage(rng, lane, direction, f"box-{k // 2 + 1}",
                                                                           t0), None))
                    body = dict(rng.choice(template_cache))
                    plate = _plate(rng)
                    codes = [_container(rng) for _ in range(len(body["containers"]))]
                    eid = uuid.uuid4().hex
                    flag = rng.random() < 0.3
                    reasons = ([rng.choices([r for r, _ in REASON_MIX], [w for _, w in REASON_MIX])[0]]
                               if flag else [])
                    decl = None if flag and "no_declaration" in reasons else f"NSW-{rng.randrange(10**9):09d}"
                    body.update({"event_id": eid, "lane": lane, "direction": direction, "box": f"box-{k // 2 + 1}",
                                 "started_at": t0.isoformat(), "declaration_id": decl,
                                 "plate": {**(body["plate"] or {}), "text": plate, "display": plate},
                                 "containers": [{**c, "code": code} for c, code in zip(body["containers"], codes,
                                                                                        strict=True)],
                                 "verdict": {"status": "flag" if flag else "clear",
                                             "reasons": [{"code": r, "message_en": r, "message_vi": r}
                                                         for r in reasons]}})
                    created = t0 + timedelta(seconds=8)
                    decided = created + timedelta(seconds=rng.uniform(20, 900)) if flag and t0 < now - timedelta(
                        hours=1) else None
                    review = ("approved" if rng.random() < 0.8 else "rejected") if decided else "pending"
                    cp.write_row((eid, GATE, lane, f"box-{k // 2 + 1}", direction, t0, t0 + timedelta(seconds=7),
                                  created, created, created, plate, " ".join(codes), decl,
                                  "flag" if flag else "clear", reasons, "flag" if flag else "clear",
                                  created if flag else None, 1, review, decided,
                                  rng.choice(["lan.nguyen", "minh.le", "hoa.pham", "tuan.vo"]) if decided else None,
                                  Jsonb(body)))
            conn.commit()
            done += n
            print(f"load: {done}/{passages} rows, {time.monotonic() - t_start:.0f} s", file=sys.stderr, flush=True)
        conn.execute("ANALYZE passages")
        conn.commit()
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('passages'))").fetchone()[0]
        total = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
    return {"rows": int(total), "loaded": passages, "days": days, "seconds": round(time.monotonic() - t_start, 1),
            "table_size": size}


# -- query ------------------------------------------------------------------------------------------------


def run_query(dsn: str, repeat: int = 40, seed: int = 5) -> dict[str, Any]:
    import socket

    import httpx

    from edge.api.review.auth import Auth
    from edge.hub.config import parse_hub_config
    from edge.hub.main import Hub
    from edge.storage.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="sg-hub-q-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ["SG_BENCH_TOKEN"] = uuid.uuid4().hex
    cfg = parse_hub_config({"database": {"dsn": dsn, "pool_min": 2, "pool_max": 8},
                            "api": {"port": port, "token_env": "SG_BENCH_TOKEN"}, "accounts_db": str(tmp / "acc.db")})
    store = Store(tmp / "acc.db")
    auth = Auth(store)
    auth.add_user("bench.viewer", "viewer", "Bench-viewer-2030!")
    token = auth.new_token("bench.viewer")
    store.close()
    hub = Hub(cfg)
    hub.start()
    rng = random.Random(seed)
    with hub.db.tx() as conn:
        total = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        sample = conn.execute("SELECT event_id, plate_text, containers, declaration_id, started_at FROM passages"
                              " TABLESAMPLE SYSTEM (1) LIMIT 2000").fetchall()
    now = datetime.now(UTC)
    with_decl = [r for r in sample if r[3]]
    with_box = [r for r in sample if r[2]]
    recent = [r for r in sample if r[4] >= now - timedelta(days=30)] or sample

    def day(t: datetime) -> tuple[str, str]:
        a = t - timedelta(days=3)
        return a.isoformat(), (a + timedelta(days=7)).isoformat()

    def container_week(r: tuple[Any, ...]) -> dict[str, str]:
        since, until = day(r[4])
        return {"q": r[2].split()[0][:8], "since": since, "until": until}

    queries: dict[str, Any] = {
        "queue (flag, pending, newest 50)": lambda: {"status": "flag", "review": "pending"},
        "lane + verdict, last 24 h": lambda: {"lane": rng.choice(LANES)[0], "status": "flag",
                                              "since": (now - timedelta(days=1)).isoformat()},
        "box, a week last month": lambda: {"box": f"box-{rng.randrange(1, 5)}",
                                           "since": (now - timedelta(days=35)).isoformat(),
                                           "until": (now - timedelta(days=28)).isoformat()},
        "plate (partial) over 30 days": lambda: {"q": rng.choice(recent)[1][-5:],
                                                 "since": (now - timedelta(days=30)).isoformat()},
        "plate (full) over all time": lambda: {"q": rng.choice(sample)[1]},
        "container (partial) over a week": lambda: container_week(rng.choice(with_box)),
        "container (full) over all time": lambda: {"q": rng.choice(with_box)[2].split()[0]},
        "declaration id over all time": lambda: {"q": rng.choice(with_decl)[3]},
        "reason, last 7 days": lambda: {"reason": "cargo_unverified",
                                        "since": (now - timedelta(days=7)).isoformat()},
    }
    out: dict[str, Any] = {"rows": int(total), "repeat": repeat}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
        client.get("/api/hub/passages", params={"limit": 1})  # warm the pool
        for name, make in queries.items():
            times, hits = [], []
            for _ in range(repeat):
                params = make()
                t = time.perf_counter()
                r = client.get("/api/hub/passages", params=params)
                times.append(time.perf_counter() - t)
                r.raise_for_status()
                hits.append(r.json()["total"])
            out[name] = {**summary(times), "median_hits": statistics.median(hits)}
            print(f"query: {name}: p95 {out[name]['p95_ms']} ms", file=sys.stderr, flush=True)
        times = []
        for _ in range(repeat):
            eid = rng.choice(sample)[0]
            t = time.perf_counter()
            client.get(f"/api/hub/passages/{eid}").raise_for_status()
            times.append(time.perf_counter() - t)
        out["passage detail"] = summary(times)
    hub.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m smartgate_tools.bench.hub", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("ingest")
    i.add_argument("--dsn", required=True)
    i.add_argument("--mqtt", required=True)
    i.add_argument("--rate", type=float, default=PEAK_2030_RATE, help="passages per second for the gate")
    i.add_argument("--passages", type=int, default=200)
    i.add_argument("--boxes", type=int, default=4)
    ld = sub.add_parser("load")
    ld.add_argument("--dsn", required=True)
    ld.add_argument("--passages", type=int, default=1_000_000)
    ld.add_argument("--days", type=int, default=400)
    q = sub.add_parser("query")
    q.add_argument("--dsn", required=True)
    q.add_argument("--repeat", type=int, default=40)
    for s in (i, ld, q):
        s.add_argument("--json", help="append the result to this JSON file")
    args = p.parse_args(argv)
    if args.cmd == "ingest":
        res = run_ingest(args.dsn, args.mqtt, args.rate, args.passages, args.boxes)
    elif args.cmd == "load":
        res = run_load(args.dsn, args.passages, args.days)
    else:
        res = run_query(args.dsn, args.repeat)
    res = {"bench": args.cmd, "at": datetime.now(UTC).isoformat(timespec="seconds"), **res}
    print(json.dumps(res, ensure_ascii=False, indent=2))
    if args.json:
        path = Path(args.json)
        old = json.loads(path.read_text()) if path.exists() else []
        path.write_text(json.dumps([*old, res], ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
