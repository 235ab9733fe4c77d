"""Prometheus metrics for one daemon, in a registry of its own.

A private CollectorRegistry (not prometheus_client's global one) so that tests
and several daemons in one process never see each other's counts.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Reader stages run from a few ms (voting) to seconds (OCR on a slow CPU).
STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.frames_total = Counter("smartgate_frames", "Frames decoded", ["camera"], registry=r)
        self.corrupt_frames_total = Counter(
            "smartgate_corrupt_frames", "Frames that could not be decoded and were skipped", ["camera"], registry=r
        )
        self.passages_total = Counter("smartgate_passages", "Passages closed", ["lane", "status"], registry=r)
        self.reads_total = Counter(
            "smartgate_reads", "Reader results by kind (plate, container, cargo) and result (ok, no_read, ...)",
            ["kind", "result"], registry=r,
        )
        self.stage_seconds = Histogram(
            "smartgate_stage_seconds", "Time spent per pipeline stage", ["stage"], buckets=STAGE_BUCKETS, registry=r
        )
        self.camera_up = Gauge("smartgate_camera_up", "1 when the camera delivers frames", ["camera"], registry=r)
        self.mqtt_published_total = Counter(
            "smartgate_mqtt_published", "MQTT messages acknowledged by the broker (PUBACK)", registry=r
        )
        self.mqtt_connected = Gauge("smartgate_mqtt_connected", "1 while connected to the MQTT broker", registry=r)
        self.outbox_depth = Gauge("smartgate_outbox_depth", "MQTT events stored and not yet acknowledged", registry=r)
        self.outbox_oldest_age = Gauge(
            "smartgate_outbox_oldest_age_seconds", "Age of the oldest unacknowledged MQTT event", registry=r
        )
        self.evidence_dropped_total = Counter(
            "smartgate_evidence_dropped", "Evidence images not saved (disk full, below storage.min_free_mb, error)",
            ["reason"], registry=r,
        )
        self.evidence_purged_total = Counter(
            "smartgate_evidence_purged", "Evidence files removed by retention", ["reason"], registry=r
        )
        self.evidence_bytes = Gauge("smartgate_evidence_bytes", "Disk used by evidence images", registry=r)
        self.sink_errors_total = Counter(
            "smartgate_sink_errors", "Failed attempts to deliver a passage, by step (retried)", ["step"], registry=r
        )
        self.sink_backlog = Gauge(
            "smartgate_sink_backlog", "Closed passages waiting to be stored and published", registry=r
        )

    def render(self) -> bytes:
        """Prometheus text exposition format (serve with CONTENT_TYPE)."""
        return generate_latest(self.registry)
