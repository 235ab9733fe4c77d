"""API: the local HTTP interface and the inspectors' review page.

Owns the FastAPI app (health, metrics, passages, declarations), the hardened HTTP server it runs on, and the
review page (accounts, roles, decisions, audit, live events). May import `edge.domain`, `edge.storage` and
`edge.comms` (payloads); the daemon wires it to the live pipeline.
"""
