"""The hub's HTTP API and review page (one queue for every box and lane of the gate).

Accounts, sessions and tokens are the review page's (edge/api/review/auth.py: argon2 passwords, HttpOnly session
cookie + CSRF token, personal `sgt_` tokens), kept in the small SQLite file `accounts_db`
(`smartgate user add NAME --role inspector --db var/hub-accounts.db`). Passages, declarations and decisions are
in PostgreSQL.

Roles: `viewer` reads (queue, search, passage, report); `inspector` approves, rejects and links a manifest by
hand (every such decision names a person: the shared token cannot decide). Machine writes (a box asking for a
match, the Single Window posting a declaration) need the shared `api.token_env` token or a personal token of an
inspector or admin.

Each resource has its router module (`routes_status`, `routes_declarations`, `routes_passages`,
`routes_report`, `routes_session`) over a shared `HubContext` (`http_context.py`); this module puts them
together with the box API's middleware.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from edge import __version__
from edge.api.common import install_error_handlers
from edge.api.middleware import MAX_REQUEST_BYTES, BodyLimit, SecurityHeaders
from edge.api.review.auth import Auth
from edge.hub.http_context import HubContext
from edge.hub.routes_declarations import declarations_router
from edge.hub.routes_passages import decisions_router, passages_router
from edge.hub.routes_report import report_router
from edge.hub.routes_session import pages_router, session_router
from edge.hub.routes_status import status_router
from edge.storage.store import Store

if TYPE_CHECKING:
    from edge.hub.main import Hub


def create_hub_app(hub: Hub) -> FastAPI:
    cfg = hub.cfg
    app = FastAPI(title=f"smartgate hub — {cfg.name or cfg.id}", version=__version__,
                  description="The gate hub: every box's passages in PostgreSQL, declarations and matching, "
                  "re-decisions, one review queue, reports (docs/hub.md).")
    token = cfg.api.token()
    accounts = Store(cfg.accounts_db)
    auth = Auth(accounts, shared_token=token)
    app.add_middleware(BodyLimit, max_bytes=MAX_REQUEST_BYTES)
    app.add_middleware(SecurityHeaders)
    install_error_handlers(app)

    hub.closers.append(accounts.close)

    ctx = HubContext(hub, auth, token)
    # In this order: it is the order of the OpenAPI document's paths.
    for router in (status_router(ctx), declarations_router(ctx), passages_router(ctx), decisions_router(ctx),
                   report_router(ctx), session_router(ctx), pages_router(ctx)):
        app.include_router(router)
    return app
