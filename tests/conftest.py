"""Shared fixtures: a real Mosquitto broker on a free localhost port, and an MQTT collector."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Mosquitto:
    """A mosquitto process we own; stop()/start() keep the same port (for reconnect tests).

    With persistence=True the broker saves sessions and queued QoS 1 messages on
    stop and reloads them on start, like a production broker.
    """

    def __init__(self, workdir: Path, persistence: bool = False, extra_conf: list[str] | None = None) -> None:
        assert MOSQUITTO is not None
        self.host = "127.0.0.1"
        self.port = free_port()
        self.url = f"mqtt://{self.host}:{self.port}"
        self.workdir = workdir
        self.log_path = workdir / "mosquitto.log"
        self.conf = workdir / "mosquitto.conf"
        extra = extra_conf or []
        lines = [
            f"listener {self.port} 127.0.0.1",
            *([] if any(x.startswith("allow_anonymous") for x in extra) else ["allow_anonymous true"]),
            *extra,  # right after the listener: listener options (TLS files) apply to it
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {workdir}/",
            f"log_dest file {self.log_path}",
            "log_type all",
        ]
        if os.geteuid() == 0:
            # As root mosquitto would switch to user "mosquitto", which cannot write our tmp dir.
            lines.append("user root")
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {err}\n{self.log_text()}")
            if _port_open(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not open port {self.port} within {timeout}s")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: clean shutdown, persistence saved
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _make_broker(tmp_path_factory: pytest.TempPathFactory, persistence: bool) -> Iterator[Mosquitto]:
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto); MQTT tests need a real broker")
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"), persistence=persistence)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A fresh broker per test (start-up is ~50 ms), so retained messages never leak between tests."""
    yield from _make_broker(tmp_path_factory, persistence=False)


@pytest.fixture
def mosquitto_persistent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """Like `mosquitto`, but sessions and queued messages survive stop()/start()."""
    yield from _make_broker(tmp_path_factory, persistence=True)


@dataclass
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)

    @property
    def text(self) -> str:
        return self.payload.decode()


@dataclass
class MqttCollector:
    """A real subscriber that records every message per topic.

    `persistent=True` uses a fixed client id with clean_session=False so that the
    broker queues QoS 1 messages for it while it is disconnected.
    """

    url: str
    topics: list[str] = field(default_factory=lambda: ["#"])
    qos: int = 1
    persistent: bool = False
    client_id: str = field(default_factory=lambda: f"collector-{uuid.uuid4().hex[:8]}")

    def __post_init__(self) -> None:
        self.messages: dict[str, list[Received]] = defaultdict(list)
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        host, port = self.url.split("://", 1)[1].rsplit(":", 1)
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=not self.persistent,
        )
        self._client.reconnect_delay_set(1, 1)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_disconnect = lambda *a: self._subscribed.clear()
        self._client.connect_async(host, int(port), keepalive=10)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            self.close()
            raise RuntimeError(f"collector could not subscribe at {self.url}")

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        # Re-subscribe on every connect: a restarted non-persistent broker forgot us.
        client.subscribe([(t, self.qos) for t in self.topics])

    def _on_subscribe(self, *args: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages[msg.topic].append(Received(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))
            self._cond.notify_all()

    def wait_for(self, n: int = 1, topic: str | None = None, timeout: float = 10.0) -> list[Received]:
        """Wait until `n` messages arrived (on `topic`, or on any topic); returns them (possibly fewer on timeout)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = self.messages.get(topic, []) if topic else [m for ms in self.messages.values() for m in ms]
                left = deadline - time.monotonic()
                if len(got) >= n or left <= 0:
                    return list(got)
                self._cond.wait(left)

    def wait_until(self, predicate: Any, topic: str, timeout: float = 10.0) -> Received | None:
        """The first message on `topic` for which predicate(msg) is true, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self.messages.get(topic, []):
                    if predicate(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def mqtt_collector(mosquitto: Mosquitto) -> Iterator[MqttCollector]:
    c = MqttCollector(mosquitto.url)
    yield c
    c.close()


def make_passage(**overrides: Any) -> Any:
    """A realistic flagged passage (plate + one container with a bad check digit); override any field."""
    from datetime import UTC, datetime, timedelta

    from edge.domain.reasons import reason
    from edge.domain.types import CargoRead, ContainerRead, Evidence, Passage, PlateRead, Verdict

    t0 = overrides.pop("started_at", datetime(2025, 3, 4, 1, 2, 3, 456000, tzinfo=UTC))
    fields: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "gate": "huu-nghi",
        "lane": "in-1",
        "direction": "import",
        "started_at": t0,
        "ended_at": t0 + timedelta(seconds=7),
        "frames": 70,
        "plate": PlateRead(text="29C12345", display="29C-123.45", country="VN", format="vn_truck",
                           confidence=0.93, raw="29C-12345"),
        "containers": [ContainerRead(code="MSKU1234566", check_digit_ok=False, size_type="42G1",
                                     layout="horizontal", confidence=0.8)],
        "cargo": CargoRead(cls="closed", confidence=0.7),
        "verdict": Verdict(status="flag", reasons=[reason("container_check_digit_failed", "MSKU1234566")]),
        "evidence": [Evidence(kind="plate", camera="plate-in-1", path="2025-03-04/x/plate-plate-in-1.jpg",
                              frame_time=t0 + timedelta(seconds=2))],
        "created_at": t0 + timedelta(seconds=8),
    }
    fields.update(overrides)
    return Passage(**fields)


# -- PostgreSQL for the hub tests (tests/pg_server.py) ------------------------------------------------------


def _pg_or_skip() -> Any:
    from pg_server import PostgresServer, pg_bin

    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql); the hub tests need a real server")
    return PostgresServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """One PostgreSQL cluster for the session (initdb takes seconds); each test gets its own database."""
    server = _pg_or_skip()()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_dsn(postgres: Any) -> str:
    """A fresh, empty database on the session's cluster."""
    return postgres.create_database(f"t{uuid.uuid4().hex[:12]}")


@pytest.fixture
def postgres_own() -> Iterator[Any]:
    """A cluster of this test's own, for tests that stop or kill the server."""
    server = _pg_or_skip()()
    server.start()
    try:
        yield server
    finally:
        server.destroy()
