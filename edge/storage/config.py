"""Where the box keeps verdicts and evidence, and for how long (the `storage:` section of the config)."""

from __future__ import annotations

from pydantic import Field

from edge.domain.settings import StrictModel


class StorageConfig(StrictModel):
    database: str = "var/smartgate.db"
    evidence_dir: str = "var/evidence"
    retention_days: int = Field(30, ge=1, description="evidence images older than this many days are deleted")
    evidence_max_mb: float | None = Field(
        None, gt=0, description="disk budget of the evidence images; the oldest are deleted beyond it (none: no cap)"
    )
    min_free_mb: float = Field(
        256, ge=0, description="below this much free disk no new evidence is saved and the oldest is deleted, "
        "so the verdicts (SQLite) keep room"
    )
    purge_interval_s: float = Field(300, gt=0, le=86400, description="how often retention runs")
    sink_backlog: int = Field(
        200, ge=1, le=100_000, description="closed passages that may wait in memory while storage fails; "
        "beyond it the lanes are held back (nothing is dropped)"
    )
    retry_min_s: float = Field(0.5, gt=0, le=60, description="first retry delay of a failing sink (doubles each try)")
    retry_max_s: float = Field(30, gt=0, le=3600, description="longest delay between retries of a failing sink")
    drain_timeout_s: float = Field(
        30, ge=0, le=3600, description="at shutdown, how long a failing sink is retried before the waiting "
        "passages are written to rescue files beside the database (stored at the next start)"
    )
