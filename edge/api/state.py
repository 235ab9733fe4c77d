"""What the daemon hands the gate's HTTP API (`ApiState`), in a module of its own.

Both `edge.api.app` (the machine API) and `edge.api.review` (the review page) read it; keeping it here lets
each import it without importing the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from edge.api.review.sse import ReviewEvents
from edge.domain.declarations import Declaration
from edge.metrics import Metrics
from edge.storage.evidence import EvidenceStore
from edge.storage.store import Store


@dataclass
class ApiState:
    """What the daemon hands the API; callables give live snapshots."""

    store: Store
    evidence: EvidenceStore
    metrics: Metrics
    gate_id: str
    gate_name: str
    version: str
    cameras: Callable[[], list[dict[str, Any]]] = field(default=lambda: [])
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    token: str | None = None
    mqtt_connected: Callable[[], bool] | None = None  # None: MQTT not configured
    # Called after a declaration is stored (e.g. to match it to a waiting passage); errors are logged.
    on_declaration: Callable[[Declaration], None] | None = None
    # External trigger (loop detector): (lane, "start" | "end", vehicle_id or None).
    on_trigger: Callable[[str, str, str | None], None] | None = None
    lanes: list[str] = field(default_factory=list)  # lane ids that accept triggers
    # Review page (edge/api/review): inspectors' decisions go to MQTT through this (MqttPublisher.publish_decision);
    # the daemon calls review_events.passage(p) after storing a passage so new flags reach open pages.
    publish_decision: Callable[[dict[str, Any]], None] | None = None
    review_events: ReviewEvents = field(default_factory=ReviewEvents)
    # The daemon's own alarms (a sink that keeps failing, a full backlog): each makes /api/health `degraded`.
    problems: Callable[[], list[str]] | None = None
