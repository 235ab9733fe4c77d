"""The sinks a decided passage goes to, in the order the daemon lists them.

Evidence is written before the passage is stored (the stored passage names its files); the store comes before
MQTT (a subscriber may fetch the passage back from the API); the review page and the console are non-critical:
their failure is logged, never retried, and never holds a verdict back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from edge.sinks.delivery import Delivery

if TYPE_CHECKING:
    from edge.api.review.sse import ReviewEvents
    from edge.comms.mqtt import MqttPublisher
    from edge.domain.types import Passage
    from edge.metrics import Metrics
    from edge.storage.evidence import EvidenceStore
    from edge.storage.store import Store

log = logging.getLogger("smartgate.sinks")


class EvidenceSink:
    """Writes the passage's crops; a full disk or a bad crop loses that picture, never the verdict."""

    name, critical = "evidence", True

    def __init__(self, evidence: EvidenceStore) -> None:
        self.evidence = evidence

    def deliver(self, d: Delivery) -> None:
        p = d.passage
        for img in d.images:
            try:
                p.evidence.append(self.evidence.save(img.image, img.kind, img.camera, p.id, img.frame_time,
                                                     key=img.key))
            except (OSError, ValueError) as e:
                log.error("passage %s: evidence %s not saved: %s", p.id, img.kind, e)


class StoreSink:
    """The box's SQLite store: the verdict's record of truth on the box."""

    name, critical = "store", True

    def __init__(self, store: Store) -> None:
        self.store = store

    def deliver(self, d: Delivery) -> None:
        self.store.save_passage(d.passage)


class ReviewEventsSink:
    """Pushes the passage to open review pages (server-sent events); none open, nothing to do."""

    name, critical = "review_events", False

    def __init__(self, events: Callable[[], ReviewEvents | None]) -> None:
        self.events = events  # the API starts after the sinks are built

    def deliver(self, d: Delivery) -> None:
        if (events := self.events()) is not None:
            events.passage(d.passage)


class DeclarationSink:
    """Marks the declaration matched on this box as used by this passage (a hub-linked box has none)."""

    name, critical = "declaration", True

    def __init__(self, store: Store) -> None:
        self.store = store

    def deliver(self, d: Delivery) -> None:
        if d.declaration_id is not None and not self.store.mark_declaration_matched(
            d.declaration_id, d.passage.id, only_if_unmatched=True
        ):
            log.warning("declaration %s was matched by another passage meanwhile", d.declaration_id)


class CountSink:
    """Counts delivered passages (metrics and the daemon's end-of-run line)."""

    name, critical = "count", True

    def __init__(self, metrics: Metrics, on_count: Callable[[], None]) -> None:
        self.metrics = metrics
        self.on_count = on_count

    def deliver(self, d: Delivery) -> None:
        p = d.passage
        self.metrics.passages_total.labels(lane=p.lane, status=p.verdict.status).inc()
        self.on_count()


class MqttSink:
    """Queues the passage in the durable outbox; the publisher drains it whenever the broker is reachable."""

    name, critical = "mqtt_outbox", True

    def __init__(self, publisher: MqttPublisher, evidence_base_url: str | None) -> None:
        self.publisher = publisher
        self.evidence_base_url = evidence_base_url

    def deliver(self, d: Delivery) -> None:
        self.publisher.publish_passage(d.passage, self.evidence_base_url)


class ConsoleSink:
    """One line per passage on stdout (the demo, journald)."""

    name, critical = "console", False

    def deliver(self, d: Delivery) -> None:
        print(format_passage_line(d.passage), flush=True)


def format_passage_line(p: Passage) -> str:
    plate = p.plate.display or p.plate.text if p.plate and p.plate.text else "—"
    if p.plate and p.plate.text:
        plate = f"{plate} ({p.plate.country}, {p.plate.confidence:.2f})"
    codes = " ".join(f"{c.code}{'' if c.check_digit_ok else '(check digit failed)'}" for c in p.containers) or "—"
    cargo = f"{p.cargo.cls} {p.cargo.confidence:.2f}" if p.cargo else "—"
    reasons = ", ".join(r.code for r in p.verdict.reasons)
    t = p.started_at.strftime("%H:%M:%S")
    verdict = p.verdict.status.upper() + (f" [{reasons}]" if reasons else "")
    return f"[{p.lane}] {t} plate {plate} · containers {codes} · cargo {cargo} → {verdict}"
