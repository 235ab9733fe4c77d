"""The hub core's two refusals, which the hub's HTTP API answers as 404 and 409 (`HubContext.run_tx`).

In a module of their own so that core.py and decisions.py both raise them without importing each other;
`edge.hub.core` re-exports them.
"""

from __future__ import annotations


class Conflict(Exception):
    """A request that contradicts the stored state (HTTP 409)."""


class NotFound(Exception):
    """HTTP 404."""
