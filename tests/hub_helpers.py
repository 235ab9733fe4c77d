"""Helpers for the hub tests: a hub config on a test database and broker, box publishers built from the project's
own MqttPublisher + SQLite Outbox, and passages decided by the real policy."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.comms.mqtt import MqttPublisher
from edge.config import MqttConfig
from edge.decision.policy import LaneExpectations, PassageFacts, PolicyRules, decide
from edge.domain.declarations import Declaration
from edge.domain.types import CargoRead, ContainerRead, LaneChecks, Passage, PlateRead
from edge.hub.config import HubConfig, parse_hub_config
from edge.storage.outbox import Outbox

GATE = "huu-nghi"
PREFIX = "sg"
TOKEN = "hub-shared-token-for-tests-0123456789"
FULL = LaneExpectations(containers=True, cargo=True)


def hub_config(tmp: Path, dsn: str, broker_url: str | None, api_port: int | None = None,
               client_id: str | None = None, **extra: Any) -> HubConfig:
    data: dict[str, Any] = {
        "id": "test-hub",
        "database": {"dsn": dsn, "pool_min": 1, "pool_max": 4},
        "api": {"enabled": api_port is not None, "port": api_port or 8090, "token_env": "SG_HUB_TOKEN"},
        "accounts_db": str(tmp / "hub-accounts.db"),
        "redecide": {"window_min": 30},
        **extra,
    }
    if broker_url is not None:
        data["mqtt"] = {"url": broker_url, "topic_prefix": PREFIX,
                        "client_id": client_id or f"hub-{uuid.uuid4().hex[:8]}", "keepalive_s": 5}
    return parse_hub_config(data)


def box_publisher(tmp: Path, broker_url: str, name: str) -> MqttPublisher:
    """A lane box's publishing side exactly as the daemon builds it: durable SQLite outbox + MqttPublisher."""
    cfg = MqttConfig(url=broker_url, topic_prefix=PREFIX, client_id=name, keepalive_s=5)
    return MqttPublisher(cfg, GATE, reconnect_min_s=1, reconnect_max_s=1, outbox=Outbox(tmp / f"{name}.db"))


def passage(lane: str, box: str, started_at: datetime | None = None, plate: str | None = "29C12345",
            containers: tuple[str, ...] = (), vehicle_id: str | None = None, cargo: str = "electronics",
            declaration: Declaration | None = None, direction: str = "import", **kw: Any) -> Passage:
    """A passage as a box would decide it (the real policy, Hữu Nghị defaults: no declaration -> flag)."""
    t0 = started_at or datetime.now(UTC)
    pr = PlateRead(text=plate, display=plate, country="VN", format="vn_truck", confidence=0.95) if plate else None
    reads = [ContainerRead(code=c, check_digit_ok=True, confidence=0.9) for c in containers]
    cr = CargoRead(cls=cargo, confidence=0.9)
    facts = PassageFacts(direction=direction, expect=FULL, plate=pr, vehicle_id=vehicle_id,  # type: ignore[arg-type]
                         containers=reads, cargo=cr, at=t0)
    verdict = decide(facts, declaration, PolicyRules.from_config())
    return Passage(id=kw.pop("id", uuid.uuid4().hex), gate=GATE, lane=lane, direction=direction,  # type: ignore[arg-type]
                   started_at=t0, ended_at=t0 + timedelta(seconds=6), frames=60, plate=pr, vehicle_id=vehicle_id,
                   containers=reads, cargo=cr, declaration_id=declaration.id if declaration else None,
                   verdict=verdict, created_at=t0 + timedelta(seconds=7), box=box,
                   checks=LaneChecks(containers=True, cargo=True), **kw)


def declaration_body(id: str, **kw: Any) -> dict[str, Any]:
    return {"id": id, "gate": GATE, "direction": "import", "lines": [{"hs_code": "8542.31", "description": "ICs"}],
            **kw}


def wait_for(pred: Any, timeout: float = 20.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def count(dsn: str, sql: str, *args: Any) -> int:
    import psycopg

    with psycopg.connect(dsn) as c:
        row = c.execute(sql, args).fetchone()
    return int(row[0]) if row else 0


def rows(dsn: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn) as c:
        return list(c.execute(sql, args).fetchall())
