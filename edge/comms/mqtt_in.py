"""Inbound MQTT: declarations (manifests) and external lane triggers sent to the gate box.

Declarations arrive on `<prefix>/<gate>/declarations`, lane triggers (loop, barrier, AI-IGV) on
`<prefix>/<gate>/<lane>/trigger`. A bad message is logged and answered on `<prefix>/<gate>/declarations/rejected`;
nothing a sender publishes can stop the network loop. A *retained* trigger is ignored (with a warning, once per
topic): the broker would replay it on every reconnect, opening or closing a passage that no vehicle caused. A
retained declaration is accepted (it is still a declaration, and storing is idempotent by id).

The box has one MQTT connection (edge/comms/mqtt.py owns it): it subscribes to `subscriptions()` on every
connect and hands each message to `handle`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

from edge.domain.declarations import (
    VEHICLE_ID_PATTERN,
    Declaration,
    error_message,
    load_json,
    parse_declaration,
)

log = logging.getLogger(__name__)

_VEHICLE_ID = re.compile(VEHICLE_ID_PATTERN)
_DECL_ID = re.compile(rb'"id"\s*:\s*"([A-Za-z0-9._-]{1,64})"')


class MqttInbound:
    def __init__(
        self,
        base: str,
        gate_id: str,
        publish: Callable[[str, str, int, bool], None],
        on_declaration: Callable[[Declaration], None] | None = None,
        on_trigger: Callable[[str, str, str | None], None] | None = None,
        lanes: list[str] | None = None,
    ) -> None:
        """`base`: `<prefix>/<gate>`; `publish(topic, payload, qos, retain)` sends rejections.
        `on_declaration` gets each valid declaration (received_at set) and must store it; raising ValueError
        rejects it with that message. `on_trigger(lane, state, vehicle_id)`; `lanes` (if given) limits the
        lanes that accept triggers. Callbacks run on paho's network thread: keep them short."""
        self.base = base
        self.gate_id = gate_id
        self.publish = publish
        self.declarations_topic = f"{base}/declarations"
        self.rejected_topic = f"{base}/declarations/rejected"
        self.on_declaration = on_declaration
        self.on_trigger = on_trigger
        self.lanes = set(lanes) if lanes is not None else None
        self._retained_warned: set[str] = set()  # trigger topics whose retained message was reported

    def subscriptions(self) -> list[tuple[str, int]]:
        subs = []
        if self.on_declaration is not None:
            subs.append((self.declarations_topic, 1))
        if self.on_trigger is not None:
            subs.append((f"{self.base}/+/trigger", 1))
        return subs

    def handle(self, topic: str, payload: bytes, retain: bool) -> None:
        """One received message (on paho's network thread): never raises."""
        try:
            if topic == self.declarations_topic and self.on_declaration is not None:
                self._handle_declaration(payload)
            elif topic.endswith("/trigger") and self.on_trigger is not None:
                if retain:
                    self._ignore_retained_trigger(topic)
                    return
                self._handle_trigger(topic, payload)
        except Exception:  # never let a message (or a callback) kill paho's network thread
            log.exception("MQTT: failed to handle a message on %s", topic)

    def _reject(self, decl_id: str | None, error: str) -> None:
        log.warning("MQTT: declaration %s rejected: %s", decl_id or "(no id)", error)
        body = json.dumps({"id": decl_id, "error": error}, ensure_ascii=False, separators=(",", ":"))
        self.publish(self.rejected_topic, body, 1, False)

    def _ignore_retained_trigger(self, topic: str) -> None:
        if topic not in self._retained_warned and len(self._retained_warned) < 1000:
            self._retained_warned.add(topic)
            log.warning("MQTT: retained trigger on %s ignored (a trigger must be published with retain=false; "
                        "clear it with an empty retained message)", topic)

    def _handle_declaration(self, payload: bytes) -> None:
        decl_id = None
        try:  # the id, for the rejection message; the same guards as parse_declaration (size, depth, numbers)
            raw = load_json(payload)
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                decl_id = raw["id"][:64]
        except ValueError:  # not loadable: still name the declaration when its id is plain to see
            m = _DECL_ID.search(payload[:4096])
            decl_id = m.group(1).decode() if m else None
        try:
            din = parse_declaration(payload)
        except ValueError as e:  # pydantic.ValidationError is a ValueError
            self._reject(decl_id, error_message(e))
            return
        if din.gate is not None and din.gate != self.gate_id:
            self._reject(din.id, f"gate: declaration is for gate {din.gate!r}, this is {self.gate_id!r}")
            return
        assert self.on_declaration is not None
        try:
            self.on_declaration(Declaration.received(din))
        except ValueError as e:
            self._reject(din.id, str(e))
        except Exception:
            log.exception("MQTT: storing declaration %s failed", din.id)
            self._reject(din.id, "internal error: the declaration was not stored; send it again")

    def _handle_trigger(self, topic: str, payload: bytes) -> None:
        lane = topic[len(self.base) + 1:].split("/")[0]
        if self.lanes is not None and lane not in self.lanes:
            log.warning("MQTT: trigger for unknown lane %r ignored", lane)
            return
        try:
            body = load_json(payload, max_bytes=4096, max_depth=4, what="trigger")
        except ValueError:
            body = None
        if payload.strip() in (b"start", b"end"):  # plain-text form, easy for a PLC gateway
            body = {"state": payload.strip().decode()}
        state = body.get("state") if isinstance(body, dict) else None
        vehicle_id = body.get("vehicle_id") if isinstance(body, dict) else None
        if state not in ("start", "end") or not (
                vehicle_id is None or (isinstance(vehicle_id, str) and _VEHICLE_ID.fullmatch(vehicle_id))):
            log.warning("MQTT: invalid trigger on %s ignored (want {\"state\": \"start\"|\"end\", "
                        "\"vehicle_id\"?: str}): %r", topic, payload[:200])
            return
        assert self.on_trigger is not None
        try:
            self.on_trigger(lane, state, vehicle_id)
        except ValueError as e:  # e.g. a vehicle_id on a lane that takes no AI-IGVs
            log.warning("MQTT: trigger on %s refused: %s", topic, e)
