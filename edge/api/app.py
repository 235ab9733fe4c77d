"""HTTP API of the gate: health, cameras, passages, declarations, lane triggers, evidence images, metrics.

Reads the Store and EvidenceStore the daemon writes; the only writes are declarations (stored here, then
handed to the daemon) and external lane triggers (handed to the daemon). Handlers are
plain `def` so FastAPI runs them in its thread pool (SQLite calls block).
When a token is configured every /api route except /api/health, and the
evidence images (plates are personal data), need `Authorization: Bearer`.

Each resource has its router module (`routes_status`, `routes_passages`, `routes_declarations`,
`routes_lanes`, the review page in `review/`); they share the daemon's `ApiState` (`state.py`) and the
token guards (`guards.py`). This module puts them together with the middleware (`middleware.py`).
"""

from __future__ import annotations

from fastapi import FastAPI

from edge.api.common import install_error_handlers
from edge.api.guards import make_guards
from edge.api.middleware import MAX_REQUEST_BYTES, BodyLimit, SecurityHeaders, security_headers
from edge.api.review.auth import Auth
from edge.api.review.routes import build_review_router
from edge.api.routes_declarations import declarations_router
from edge.api.routes_lanes import lanes_router
from edge.api.routes_passages import evidence_router, passages_router
from edge.api.routes_status import metrics_router, status_router
from edge.api.state import ApiState

# ApiState and the middleware were defined here before; the daemon, edge/api/server.py and tests import them
# from this module.
__all__ = ["MAX_REQUEST_BYTES", "ApiState", "BodyLimit", "SecurityHeaders", "create_app", "security_headers"]


def create_app(state: ApiState) -> FastAPI:
    app = FastAPI(
        title=f"smartgate — {state.gate_name or state.gate_id}",
        version=state.version,
        description="Edge inspection API of one smart border gate: passages (plate, containers, cargo, verdict), "
        "camera health, evidence images and Prometheus metrics.",
    )
    app.state.smartgate = state
    review_auth = Auth(state.store, shared_token=state.token)

    app.add_middleware(BodyLimit, max_bytes=MAX_REQUEST_BYTES)  # inner: its 413 gets the security headers too
    app.add_middleware(SecurityHeaders)
    install_error_handlers(app)

    guards = make_guards(state, review_auth)
    # In this order: it is the order of the OpenAPI document's paths.
    for router in (status_router(state, guards), passages_router(state, guards), declarations_router(state, guards),
                   lanes_router(state, guards), evidence_router(state, guards), metrics_router(state),
                   build_review_router(state, review_auth)):  # /review page, /api/review/*, /api/audit
        app.include_router(router)
    return app
