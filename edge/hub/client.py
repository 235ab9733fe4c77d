"""The box's side of matching at the hub: ask `POST /api/hub/match` for a passage being decided.

The hub matches and claims the manifest for the box's passage id in one transaction, so two boxes can never both
be given the same manifest. Short timeout, and after a failure the box stops asking for `retry_after_s`: a box
cut off from the hub decides at once without a declaration (`no_declaration`), and the hub re-decides the passage
when its event arrives (docs/hub.md). Standard library only (urllib): the box needs no extra HTTP client.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from edge.comms.payload import iso_utc
from edge.decision.matching import MatchResult
from edge.domain.declarations import Declaration
from edge.domain.types import ContainerRead, Direction, PlateRead

log = logging.getLogger("smartgate.hub.client")


class HubClient:
    def __init__(self, url: str, token: str | None, timeout_s: float = 1.5, retry_after_s: float = 30.0,
                 box: str | None = None) -> None:
        self.url = url.rstrip("/") + "/api/hub/match"
        self.token = token
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.box = box
        self._down_until = 0.0
        self._lock = threading.Lock()
        self.asked = 0
        self.failed = 0

    def match(self, event_id: str, gate: str, lane: str, direction: Direction, started_at: Any,
              plate: PlateRead | None, vehicle_id: str | None, containers: list[ContainerRead]) -> MatchResult | None:
        """The hub's match for this passage, or None (no fit, or the hub is unreachable: logged, not raised)."""
        with self._lock:
            if time.monotonic() < self._down_until:
                return None
        body = {
            "event_id": event_id, "gate": gate, "lane": lane, "direction": direction, "box": self.box,
            "started_at": iso_utc(started_at),
            "plate": plate.model_dump(mode="json", include={"text", "raw", "confidence", "country", "format",
                                                            "display", "reason"}) if plate is not None else None,
            "vehicle_id": vehicle_id,
            "containers": [c.model_dump(mode="json", include={"code", "check_digit_ok", "corrected", "confidence",
                                                              "layout", "size_type"}) for c in containers],
        }
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {self.token}"} if self.token else {})})
        self.asked += 1
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310 — configured URL
                answer = json.loads(resp.read())
        except (urllib.error.URLError, OSError, TimeoutError, ValueError) as e:
            self.failed += 1
            with self._lock:
                self._down_until = time.monotonic() + self.retry_after_s
            log.warning("hub not reachable for matching (%s); deciding without declarations for %.0f s — the hub "
                        "re-decides these passages when their events arrive", e, self.retry_after_s)
            return None
        decl = answer.get("declaration")
        if decl is None:
            log.info("declaration match (hub): %s", answer.get("note"))
            return None
        d = Declaration.model_validate(decl)
        note = str(answer.get("note") or "")
        return MatchResult(d, answer.get("matched_by") or "container", True, note)
