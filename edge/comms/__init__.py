"""Comms: the gate box on the message bus.

Owns the MQTT publisher (outbound passages, verdicts, camera status, drained from the outbox), the inbound
MQTT listener (declarations and external triggers), the JSON payloads and their schemas. May import
`edge.domain` and `edge.storage`; the HTTP API and the daemon sit above it.
"""
