"""The edge daemon: wires cameras → lane pipelines → verdicts → sinks (store, evidence, MQTT, API).

Threads: one per lane (decode + read + assemble; onnxruntime releases the GIL
so lanes run in parallel), one sink thread (the list of `build_sinks`: evidence, SQLite, review events,
declaration, count, MQTT outbox, console; edge/sinks/),
and uvicorn for the API. A finished passage is stored before it is published,
and the sink queue is drained before exit, so no verdict is dropped.
"""

from __future__ import annotations

import argparse
import logging
import queue
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cameras.base import FrameSource
from edge import __version__
from edge.config import Config, ConfigError, load_config
from edge.decision.finalize import Voted, build_passage, vote_draft
from edge.decision.matching import MatchResult, match_declaration
from edge.decision.policy import LaneExpectations, PolicyRules
from edge.domain.declarations import Declaration
from edge.domain.types import Direction, LaneChecks
from edge.lane.frames import merged_frames
from edge.lane.passage import PassageDraft
from edge.lane.pipeline import LaneProcessor
from edge.readers.factory import build_readers
from edge.sinks import Delivery, Sink, SinkHealth, StepFailed, backoff_s, deliver, load_rescued, rescue
from edge.sinks.outputs import (
    ConsoleSink,
    CountSink,
    DeclarationSink,
    EvidenceSink,
    MqttSink,
    ReviewEventsSink,
    StoreSink,
)

log = logging.getLogger("smartgate")

INTEGRITY_CHECK_S = 3600.0  # PRAGMA quick_check reads the whole file: hourly, not per health probe
DEMO_CONFIG = Path(__file__).resolve().parent.parent / "data_samples" / "demo.yaml"


@dataclass
class Finished:
    """A closed passage on its way to the sink, which matches its declaration and decides."""

    draft: PassageDraft
    voted: Voted
    direction: Direction
    expect: LaneExpectations


class Daemon:
    def __init__(self, cfg: Config) -> None:
        from cameras.factory import open_source
        from edge.metrics import Metrics
        from edge.storage.evidence import EvidenceStore
        from edge.storage.store import Store

        self.cfg = cfg
        self.stop = threading.Event()
        self.metrics = Metrics()
        Path(cfg.storage.database).parent.mkdir(parents=True, exist_ok=True)
        self.store = Store(cfg.storage.database)
        if (bad := self.store.check_integrity()) is not None:  # keep running: verdicts still need a place to go
            log.critical("database %s failed its integrity check: %s — restore it from a backup (docs/deploy.md)",
                         cfg.storage.database, bad)
        self.evidence = EvidenceStore(
            cfg.storage.evidence_dir, min_free_mb=cfg.storage.min_free_mb,
            on_dropped=lambda reason: self.metrics.evidence_dropped_total.labels(reason=reason).inc(),
        )
        self.sources: dict[str, FrameSource] = {c.name: open_source(c) for c in cfg.cameras}
        self.readers = build_readers(cfg)
        self.rules = PolicyRules.from_config(cfg.policy)
        self.box = cfg.gate.box or (cfg.mqtt.client_id if cfg.mqtt is not None else None)
        self.hub = None
        if cfg.hub is not None:  # declarations live in the hub: ask it at decision time (docs/hub.md)
            from edge.hub.client import HubClient

            self.hub = HubClient(cfg.hub.url, cfg.hub.token(), cfg.hub.timeout_s, cfg.hub.retry_after_s, self.box)
        self.lanes: dict[str, LaneProcessor] = {}
        # Bounded: when storage is down the head passage waits and the lanes block here instead of memory growing.
        self.sink_q: queue.Queue[Finished | None] = queue.Queue(maxsize=cfg.storage.sink_backlog)
        self.sink_health = SinkHealth(self.sink_q.qsize, cfg.storage.sink_backlog)
        self._drain_deadline: float | None = None
        self.mqtt = None
        self.outbox = None
        if cfg.mqtt is not None:
            from edge.comms.mqtt import MqttPublisher
            from edge.storage.outbox import Outbox

            self.outbox = Outbox(cfg.storage.database)  # events survive a broker outage and a crash
            self.mqtt = MqttPublisher(
                cfg.mqtt,
                cfg.gate.id,
                metrics=self.metrics,
                on_declaration=self._on_mqtt_declaration if self.hub is None else None,
                on_trigger=self.on_trigger,
                lanes=[lane.id for lane in cfg.lanes],
                outbox=self.outbox,
            )
        self.api_url = (cfg.api.public_url or f"http://{cfg.api.bind}:{cfg.api.port}") if cfg.api.enabled else None
        self._server = None
        self.api_state = None
        self.passages_done = 0
        self._camera_states: dict[str, str] = {}
        self._camera_lock = threading.Lock()
        self.sinks = self.build_sinks()

    # -- set-up ------------------------------------------------------------------------------
    def camera_health(self) -> list[dict]:
        return [s.health().model_dump(mode="json") for s in self.sources.values()]

    def _observe_stage(self, stage: str, seconds: float) -> None:
        self.metrics.stage_seconds.labels(stage=stage).observe(seconds)

    def _start_api(self) -> None:
        if not self.cfg.api.enabled:
            return
        from edge.api.app import ApiState, create_app
        from edge.api.server import build_server

        state = ApiState(
            store=self.store,
            evidence=self.evidence,
            metrics=self.metrics,
            gate_id=self.cfg.gate.id,
            gate_name=self.cfg.gate.name,
            version=__version__,
            cameras=self.camera_health,
            started_at=datetime.now(UTC),
            token=self.cfg.api.token(),
            mqtt_connected=(lambda: self.mqtt.connected) if self.mqtt is not None else None,
            on_declaration=lambda d: log.info("declaration %s stored (API)", d.id),
            on_trigger=self.on_trigger,
            lanes=[lane.id for lane in self.cfg.lanes],
            publish_decision=self.mqtt.publish_decision if self.mqtt is not None else None,
            problems=self.problems,
        )
        self.api_state = state
        self._server = build_server(create_app(state), self.cfg.api)  # limits: edge/api/server.py
        t = threading.Thread(target=self._server.run, name="api", daemon=True)
        t.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline and t.is_alive():
            time.sleep(0.05)
        if not self._server.started:
            raise RuntimeError(f"API could not start on {self.cfg.api.bind}:{self.cfg.api.port} (port in use?)")

    # -- lanes -------------------------------------------------------------------------------
    def _lane_worker(self, lane_id: str) -> None:
        lane = self.cfg.lane(lane_id)
        cams = [c for c in self.cfg.cameras if c.lane == lane_id]
        proc = LaneProcessor(lane_id, cams, self.readers, self.cfg.pipeline, on_stage=self._observe_stage)
        expect = LaneExpectations(
            containers=any(c.role == "container" for c in cams),
            cargo=any(c.role == "cargo" for c in cams),
        )
        sources = [self.sources[c.name] for c in cams]

        self.lanes[lane_id] = proc

        def emit(drafts: list[PassageDraft]) -> None:
            for d in drafts:
                self.sink_q.put(Finished(d, vote_draft(d), lane.direction, expect))  # blocks while the backlog is full
                self.metrics.sink_backlog.set(self.sink_q.qsize())

        try:
            for frame in merged_frames(sources, self.stop):
                self.metrics.frames_total.labels(camera=frame.camera).inc()
                emit(proc.process(frame))
        except Exception:
            log.exception("lane %s: pipeline failed", lane_id)
        finally:
            emit(proc.finish())

    # -- sinks -------------------------------------------------------------------------------
    def _sink_worker(self) -> None:
        """Deliver passages in order; a failing sink holds the head and is retried (edge/sinks.py), so a storage
        outage delays verdicts but never drops one. An exception here must not end the thread: it is the only
        way verdicts leave the box."""
        while True:
            item = self.sink_q.get()
            if item is None:
                return
            try:
                self._deliver_until_done(item)
            except Exception:  # a bug, not a sink outage: keep serving the next passages
                log.exception("lane %s: passage started %s could not be delivered", item.draft.lane,
                              item.draft.started_at.isoformat())
            finally:
                self.metrics.sink_backlog.set(self.sink_q.qsize())

    def _deliver_until_done(self, item: Finished) -> None:
        st = self.cfg.storage
        delivery: Delivery | None = None
        attempt = 0
        while True:
            try:
                if delivery is None:
                    delivery = self._decide(item, with_declarations=True)
                deliver(delivery, self.sinks)
                self.sink_health.succeeded(delivery.passage.id)
                return
            except Exception as e:
                err = e if isinstance(e, StepFailed) else StepFailed("decide", e)
                attempt += 1
                wait = backoff_s(attempt, st.retry_min_s, st.retry_max_s)
                self.metrics.sink_errors_total.labels(step=err.step).inc()
                pid = delivery.passage.id if delivery is not None else f"({item.draft.lane} {item.draft.started_at:%H:%M:%S})"
                self.sink_health.failed(pid, err, wait)
                if self._drain_deadline is not None and time.monotonic() >= self._drain_deadline:
                    if delivery is None:  # decided without declarations (they are unreadable), flagged as such
                        delivery = self._decide(item, with_declarations=False)
                    rescue(delivery.passage, st.database)
                    return
                if self._drain_deadline is not None:  # stopping: the last retry falls at the deadline, not after it
                    wait = min(wait, max(0.0, self._drain_deadline - time.monotonic()))
                time.sleep(wait)

    def build_sinks(self) -> list[Sink]:
        """Where every decided passage goes, in order (edge/sinks/outputs.py); add a sink here."""
        sinks: list[Sink] = [
            EvidenceSink(self.evidence),
            StoreSink(self.store),
            ReviewEventsSink(lambda: self.api_state.review_events if self.api_state is not None else None),
            DeclarationSink(self.store),
            CountSink(self.metrics, self._counted),
        ]
        if self.mqtt is not None:
            sinks.append(MqttSink(self.mqtt, self.api_url))
        sinks.append(ConsoleSink())
        return sinks

    def _counted(self) -> None:
        self.passages_done += 1

    def _decide(self, item: Finished, with_declarations: bool) -> Delivery:
        d, voted = item.draft, item.voted
        pid = uuid.uuid4().hex  # before matching: the hub claims the manifest for this passage id
        match = self._match(voted, item.direction, d.started_at, pid, d.lane) if with_declarations else None
        p, images = build_passage(
            d, voted, self.cfg.gate.id, item.direction, item.expect, self.rules,
            match.declaration if match else None, match.declaration.id if match else None, datetime.now(UTC),
        )
        p = p.model_copy(update={"id": pid, "box": self.box, "checks": LaneChecks(
            containers=item.expect.containers, cargo=item.expect.cargo)})
        # A hub-linked box does not mark declarations: the hub claimed the manifest while matching.
        local_decl = match.declaration.id if match is not None and self.hub is None else None
        return Delivery(p, images=images, declaration_id=local_decl)

    def problems(self) -> list[str]:
        """Why the box is degraded beyond cameras/DB/MQTT (for /api/health)."""
        return self.sink_health.problems()

    def _store_rescued(self) -> None:
        """Passages a previous run could not store (edge/sinks.py rescue files) are stored and published now."""
        again = [s for s in self.sinks if s.name in ("store", "mqtt_outbox")]  # its evidence was written before
        for path, p in load_rescued(self.cfg.storage.database):
            deliver(Delivery(p), again)
            path.unlink()
            log.warning("passage %s from a previous run's rescue file stored and queued", p.id)

    def _match(self, voted: Voted, direction: Direction, started_at: datetime, pid: str = "",
               lane: str = "") -> MatchResult | None:
        if self.hub is not None:  # the hub matches and claims across every box; unreachable: no declaration
            return self.hub.match(pid, self.cfg.gate.id, lane, direction, started_at, voted.plate, voted.vehicle_id,
                                  list(voted.containers))
        window = timedelta(hours=self.cfg.declarations.match_window_h)
        codes = [c.code for c in voted.containers]
        candidates = self.store.declaration_candidates(
            since=min(started_at, datetime.now(UTC)) - window,
            plate=voted.plate.text if voted.plate else None,
            vehicle_id=voted.vehicle_id,
            containers=codes,
        )
        return match_declaration(
            voted.plate, voted.vehicle_id, voted.containers, candidates, direction,
            gate=self.cfg.gate.id, now=started_at, window_h=self.cfg.declarations.match_window_h,
        )

    # -- inbound -----------------------------------------------------------------------------
    def on_trigger(self, lane: str, state: str, vehicle_id: str | None) -> None:
        """An external trigger; raises ValueError for a vehicle_id on a lane not configured for AI-IGVs (an
        announced id becomes the passage's identity, so only an IGV lane may take one)."""
        if vehicle_id and not any(ln.id == lane and ln.igv for ln in self.cfg.lanes):
            raise ValueError(f"lane {lane} does not take AI-IGVs (lanes[].igv is false): a trigger there may not "
                             "carry a vehicle_id")
        proc = self.lanes.get(lane)
        if proc is None:
            log.warning("trigger for lane %s ignored: lane not running", lane)
            return
        proc.trigger(state, vehicle_id)

    def _on_mqtt_declaration(self, d: Declaration) -> None:
        self.store.save_declaration(d)
        log.info("declaration %s stored (MQTT)", d.id)

    # -- run ---------------------------------------------------------------------------------
    def run(self, until_done: bool) -> int:
        self._start_api()
        if self.api_url:
            print(f"API: {self.api_url}/api/health · passages {self.api_url}/api/passages · docs {self.api_url}/docs"
                  f" · review page {self.api_url}/review (accounts: smartgate user add)", flush=True)
        sink = threading.Thread(target=self._sink_worker, name="sink", daemon=True)
        sink.start()
        self._store_rescued()
        if self.mqtt is not None:
            self.mqtt.resume_passages(self.api_url)
        threading.Thread(target=self._camera_watch, name="camera-watch", daemon=True).start()
        threading.Thread(target=self._housekeeping, name="housekeeping", daemon=True).start()
        lanes = [
            threading.Thread(target=self._lane_worker, args=(lane.id,), name=f"lane-{lane.id}", daemon=True)
            for lane in self.cfg.lanes
        ]
        t0 = time.monotonic()
        for t in lanes:
            t.start()
        try:
            while any(t.is_alive() for t in lanes) and not self.stop.is_set():
                time.sleep(0.2)
            for t in lanes:
                t.join()
        except KeyboardInterrupt:
            self.stop.set()
            for t in lanes:
                t.join(timeout=10)
        self._drain_deadline = time.monotonic() + self.cfg.storage.drain_timeout_s
        self.sink_q.put(None)
        sink.join()
        elapsed = time.monotonic() - t0
        frames = sum(int(s.health().frames) for s in self.sources.values())
        print(f"done: {self.passages_done} passage(s), {frames} frame(s) in {elapsed:.1f} s", flush=True)
        if not until_done and self._server is not None and not self.stop.is_set():
            print(f"footage finished; API still serving at {self.api_url} — Ctrl-C to stop", flush=True)
            try:
                while not self.stop.is_set():
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
        self.close()
        return 0

    # -- camera status and storage housekeeping (own threads) --------------------------------
    def _camera_watch(self, period_s: float = 0.25) -> None:
        """Publish each camera's state (retained) on every change and keep the camera_up gauge."""
        while not self.stop.is_set():
            self._publish_camera_states()
            self.stop.wait(period_s)

    def _publish_camera_states(self) -> None:
        with self._camera_lock:
            for name, src in self.sources.items():
                h = src.health()
                self.metrics.camera_up.labels(camera=name).set(1 if h.state == "online" else 0)
                if self._camera_states.get(name) == h.state:
                    continue
                if self._camera_states.get(name) is not None or h.state != "starting":
                    log.log(logging.WARNING if h.state in ("reconnecting", "offline") else logging.INFO,
                            "camera %s: %s%s", name, h.state, f" ({h.last_error})" if h.last_error else "")
                self._camera_states[name] = h.state
                if self.mqtt is not None:
                    detail = h.model_dump(mode="json", include={
                        "role", "lane", "frames", "corrupt_frames", "dropped_frames", "reconnects",
                        "last_frame_at", "last_error"})
                    self.mqtt.publish_camera_status(name, h.state, detail)

    def _housekeeping(self) -> None:
        """Evidence retention (age, disk budget, free space) and an hourly database integrity check; first run at
        start-up."""
        st = self.cfg.storage
        max_bytes = int(st.evidence_max_mb * 2**20) if st.evidence_max_mb else None
        last_check = time.monotonic()
        while not self.stop.is_set():
            if time.monotonic() - last_check >= INTEGRITY_CHECK_S:
                last_check = time.monotonic()
                if (bad := self.store.check_integrity()) is not None:
                    log.critical("database %s failed its integrity check: %s", st.database, bad)
            try:
                res = self.evidence.purge(st.retention_days, max_bytes)
                for reason, n in (("age", res.by_age), ("budget", res.by_budget), ("free_space", res.by_free_space)):
                    if n:
                        self.metrics.evidence_purged_total.labels(reason=reason).inc(n)
                self.metrics.evidence_bytes.set(res.bytes_left)
                if res.removed:
                    log.info("evidence retention: removed %d file(s), %d MB left", res.removed, res.bytes_left >> 20)
            except Exception:
                log.exception("evidence retention failed")
            self.stop.wait(st.purge_interval_s)

    def close(self) -> None:
        self.stop.set()
        for s in self.sources.values():
            s.close()
        self._publish_camera_states()  # `ended`, retained, before the broker connection goes
        if self.mqtt is not None:
            self.mqtt.wait_published(10)
            self.mqtt.close()
        if self.outbox is not None:
            self.outbox.close()
        if self.api_state is not None:
            self.api_state.review_events.close()  # end open SSE streams so shutdown does not wait on them
        if self._server is not None:
            self._server.should_exit = True
        self.store.close()


def _demo_inspector(daemon: Daemon) -> None:
    """The demo's review page needs someone to log in: create a `demo` inspector with a fresh random
    password when the demo database has no users yet (never done for a real config)."""
    import secrets

    from edge.api.review.auth import Auth

    auth = Auth(daemon.store)
    if auth.list_users():
        return
    password = secrets.token_urlsafe(9)
    auth.add_user("demo", "inspector", password)
    print(f"demo review login: user 'demo', password '{password}' (inspector; demo database only)", flush=True)


def _demo_declarations(daemon: Daemon, path: Path) -> None:
    """Load the demo footage's manifests (what the Single Window feed would have sent) unless present, and
    re-arm those a previous demo run matched: every run replays the same trucks, and without this a second
    `make demo` would flag them all `no_declaration` (demo database only; a real gate never does this)."""
    import json

    from edge.domain.declarations import Declaration, DeclarationIn

    items = json.loads(path.read_text(encoding="utf-8"))["declarations"]
    fresh, rearmed = 0, 0
    for d in items:
        known = daemon.store.get_declaration(d["id"])
        if known is None:
            daemon.store.save_declaration(Declaration.received(DeclarationIn.model_validate(d)))
            fresh += 1
        elif known.matched_passage_id is not None:
            daemon.store.mark_declaration_matched(d["id"], None)
            rearmed += 1
    if fresh or rearmed:
        print(f"demo: {fresh} declaration(s) loaded, {rearmed} re-armed from {path.name}", flush=True)


def main_run(args: argparse.Namespace) -> int:
    path = DEMO_CONFIG if args.demo else Path(args.config)
    try:
        cfg = load_config(path)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        daemon = Daemon(cfg)
    except Exception as e:
        print(f"error: cannot start: {e}", file=sys.stderr)
        return 1
    if args.demo:
        _demo_inspector(daemon)
        _demo_declarations(daemon, DEMO_CONFIG.parent / "declarations.json")

    def _term(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        daemon.stop.set()

    signal.signal(signal.SIGTERM, _term)
    return daemon.run(until_done=args.until_done)
