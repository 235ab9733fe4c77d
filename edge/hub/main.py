"""`smartgate hub --config hub.yaml`: PostgreSQL (migrated at start-up), the MQTT consumer, the API and review
page, and housekeeping (passage retention, stale claims)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from edge.config import ConfigError
from edge.hub.config import HubConfig, load_hub_config
from edge.hub.core import HubCore
from edge.hub.db import HubDb

log = logging.getLogger("smartgate.hub")


class Hub:
    def __init__(self, cfg: HubConfig, start_api: bool = True) -> None:
        self.cfg = cfg
        self.stop_event = threading.Event()
        self.db = HubDb(cfg.database.conninfo(), cfg.database.pool_min, cfg.database.pool_max,
                        cfg.database.connect_timeout_s)
        version = self.db.migrate()
        log.info("hub database ready (schema version %d)", version)
        self.core = HubCore(cfg)
        self.consumer = None
        if cfg.mqtt is not None:
            from edge.hub.consumer import HubConsumer

            self.consumer = HubConsumer(cfg, self.db, self.core)
        self._server = None
        self.closers: list = []  # what the API opened (the accounts database)
        self._start_api = start_api and cfg.api.enabled
        self.api_url = f"http://{cfg.api.bind}:{cfg.api.port}" if self._start_api else None

    def start(self) -> None:
        if self.consumer is not None:
            self.consumer.start()
        if self._start_api:
            from edge.api.server import build_server
            from edge.hub.api import create_hub_app

            self._server = build_server(create_hub_app(self), self.cfg.api)
            t = threading.Thread(target=self._server.run, name="hub-api", daemon=True)
            t.start()
            deadline = time.monotonic() + 10
            while not self._server.started and time.monotonic() < deadline and t.is_alive():
                time.sleep(0.05)
            if not self._server.started:
                raise RuntimeError(f"hub API could not start on {self.cfg.api.bind}:{self.cfg.api.port}")
        threading.Thread(target=self._housekeeping, name="hub-housekeeping", daemon=True).start()

    def _housekeeping(self, sweep_s: float = 30.0) -> None:
        """Every `sweep_s`: match passages left without a declaration inside the re-decision window; every
        purge interval: retention and stale box claims."""
        next_purge = 0.0
        while not self.stop_event.is_set():
            try:
                with self.db.tx() as conn:
                    if self.core.sweep_unmatched(conn) and self.consumer is not None:
                        self.consumer._outbox_wake.set()  # noqa: SLF001
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + min(self.cfg.retention.purge_interval_s,
                                                        60 * self.cfg.redecide.claim_ttl_min)
                    with self.db.tx() as conn:
                        self.core.release_stale_claims(conn)
                        n = self.core.purge(conn, self.cfg.retention.passage_days)
                    if n:
                        log.info("retention: %d passage row(s) older than %d days deleted", n,
                                 self.cfg.retention.passage_days)
            except Exception as e:
                log.error("hub housekeeping failed: %s", e)
            self.stop_event.wait(sweep_s)

    def problems(self) -> list[str]:
        out = []
        if not self.db.ping():
            out.append("database does not answer (messages wait at the broker, unacknowledged)")
        if self.consumer is not None and not self.consumer.connected:
            out.append("MQTT broker not connected")
        return out

    def close(self) -> None:
        self.stop_event.set()
        if self._server is not None:
            self._server.should_exit = True
        if self.consumer is not None:
            self.consumer.stop()
        for close in self.closers:
            close()
        self.db.close()


def main_hub(args: argparse.Namespace) -> int:
    try:
        cfg = load_hub_config(Path(args.config))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        hub = Hub(cfg)
        hub.start()
    except Exception as e:
        print(f"error: cannot start the hub: {e}", file=sys.stderr)
        return 1
    if hub.api_url:
        print(f"hub API: {hub.api_url}/api/health · review page {hub.api_url}/hub · report {hub.api_url}/hub/report",
              flush=True)

    def _term(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        hub.stop_event.set()

    signal.signal(signal.SIGTERM, _term)
    try:
        while not hub.stop_event.is_set():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    hub.close()
    return 0
