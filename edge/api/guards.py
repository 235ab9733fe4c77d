"""Who may call the box's machine API: the read guard (`/api/*` except health, evidence images) and the write
guard (declarations, lane triggers), both as FastAPI dependencies over the gate's shared token and the review
page's personal tokens.

Reading is open when no token is configured (localhost); writing never is.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edge.api.review.auth import Auth
from edge.api.state import ApiState

# Module level: with postponed annotations FastAPI resolves Depends(...) in module globals.
_bearer = HTTPBearer(auto_error=False, description="Required when the gate is configured with api.token_env")


@dataclass(frozen=True)
class Guards:
    """Route `dependencies=` lists: `read` for the token-protected reads, `write` for the mutating routes."""

    read: list[Any]
    write: list[Any]


def make_guards(state: ApiState, review_auth: Auth) -> Guards:
    def require_token(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        if state.token is None:
            return
        given = creds.credentials if creds is not None else ""
        if hmac.compare_digest(given.encode(), state.token.encode()):
            return
        # A personal machine token (`smartgate user token NAME`, any role) is accepted too.
        if review_auth.token_principal(given) is None:
            raise HTTPException(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})

    def require_writer(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        """Mutating machine routes (declarations, lane triggers) are never anonymous, even on an open
        localhost API: they need the gate's shared token or a personal token of an inspector or admin."""
        given = creds.credentials if creds is not None else ""
        if state.token is not None and hmac.compare_digest(given.encode(), state.token.encode()):
            return
        who = review_auth.token_principal(given)
        if who is None:
            raise HTTPException(401, "writing needs a bearer token (api.token_env, or `smartgate user token NAME`)",
                                headers={"WWW-Authenticate": "Bearer"})
        if not who.has("inspector"):
            raise HTTPException(403, f"role {who.role!r} cannot write; inspector or admin needed")

    return Guards(read=[Depends(require_token)], write=[Depends(require_writer)])
