"""What every route of the hub's HTTP API shares (`HubContext`): the hub (PostgreSQL, consumer, config), its
accounts, who is calling and what they may do, as FastAPI dependencies, and `run_tx` (one transaction, the
core's NotFound/Conflict as 404/409, the outbox woken for the re-decisions it queued).

Roles: `viewer` reads; `inspector` decides (a personal account: `person`); machine writes take the shared
`api.token_env` token or an inspector's or admin's personal token (`write`).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Path, Request

from edge.api.review.auth import Auth, Principal, Role
from edge.api.review.context import caller_of, require_role
from edge.hub.errors import Conflict, NotFound

if TYPE_CHECKING:
    from edge.hub.main import Hub

# One logger for every hub route, under the name it had when they all lived in edge/hub/api.py.
log = logging.getLogger("smartgate.hub.api")

IDENT = r"^[a-z0-9][a-z0-9_-]{0,63}$"
EVENT_ID = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@dataclass
class HubContext:
    """The hub, its accounts (`auth`) and the shared machine token, handed to each hub router."""

    hub: Hub
    auth: Auth
    token: str | None

    def caller(self, request: Request) -> Principal | None:
        return caller_of(self.auth, request)

    def need(self, role: Role) -> Any:
        """A `Depends` giving the calling Principal when it holds `role` (a session's mutating request also
        needs its CSRF token; the hub checks no Origin)."""
        def dep(request: Request) -> Principal:
            return require_role(self.caller(request), request, role, check_origin=False)
        return Depends(dep)

    def write(self) -> Any:
        """A `Depends` for machine writes: the shared token, or a personal token of an inspector or admin."""
        auth, token = self.auth, self.token

        def writer(request: Request) -> Principal:
            """Machine writes: the shared token, or a personal token of an inspector or admin."""
            authz = request.headers.get("authorization") or ""
            scheme, _, tok = authz.partition(" ")
            tok = tok.strip() if scheme.lower() == "bearer" else ""
            if token is not None and tok and hmac.compare_digest(tok.encode(), token.encode()):
                return Principal(name="api-token", role="viewer", via="token")
            who = auth.token_principal(tok) if tok else None
            if who is None:
                raise HTTPException(401, "writing needs a bearer token (api.token_env, or `smartgate user token "
                                    "NAME`)", headers={"WWW-Authenticate": "Bearer"})
            if not who.has("inspector"):
                raise HTTPException(403, f"role {who.role!r} cannot write; inspector or admin needed")
            return who
        return Depends(writer)

    def run_tx(self, fn: Any, *args: Any) -> Any:
        """`fn(conn, *args)` in one transaction; NotFound → 404, Conflict → 409; wakes the outbox after."""
        hub = self.hub
        try:
            with hub.db.tx() as conn:
                out = fn(conn, *args)
        except NotFound as e:
            raise HTTPException(404, str(e)) from None
        except Conflict as e:
            raise HTTPException(409, str(e)) from None
        if hub.consumer is not None:
            hub.consumer._outbox_wake.set()  # noqa: SLF001 — re-decisions were queued in this transaction
        return out


def person(who: Principal) -> None:
    """403 unless the caller is a person (decisions name one; the shared token cannot decide)."""
    if who.user_id is None:
        raise HTTPException(403, "decisions need a personal account (the shared api token cannot decide)")
