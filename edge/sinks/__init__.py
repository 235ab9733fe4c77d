"""Sinks: where a decided passage goes (store, evidence, MQTT outbox, review page, console), delivered in order,
each once, retried while it fails, never dropped. `delivery.py` is the engine, `outputs.py` the sinks.

Wiring layer: may import everything below it (storage, comms, api); only the daemon imports it.
"""

from edge.sinks.delivery import (
    RESCUE_DIR,
    Delivery,
    Sink,
    SinkHealth,
    Step,
    StepFailed,
    backoff_s,
    deliver,
    load_rescued,
    rescue,
)

__all__ = ["RESCUE_DIR", "Delivery", "Sink", "SinkHealth", "Step", "StepFailed", "backoff_s", "deliver",
           "load_rescued", "rescue"]
