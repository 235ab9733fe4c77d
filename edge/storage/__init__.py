"""Storage: what the gate box keeps on its own disk.

Owns the SQLite store (passages, verdicts, audit, accounts), the durable outbox for MQTT, and evidence images.
May import `edge.domain`, `edge.decision` and `edge.lane` types; never the network layers above it.
"""
