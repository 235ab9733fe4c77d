"""The review page and its JSON API (mounted by `edge.api.app.create_app`).

Who may do what (see docs/review.md):
* reading (`/api/review/queue`, passages, evidence, events, `/api/audit`): `viewer` and up;
* deciding (approve, reject, correct): `inspector` and up; `/api/review/users`: `admin`.
A caller is a session cookie (the page; mutating requests also need the session's CSRF token in
`X-CSRF-Token`) or `Authorization: Bearer` (a personal token from `smartgate user token`, with its user's
role; the gate's shared api token reads as `viewer` and can never decide: every decision names a person).
There is no route that changes or deletes a decision; the table's triggers refuse it anyway.

The routes live in one module per resource (`routes_pages`, `routes_session`, `routes_passages`,
`routes_events`) over a shared `ReviewContext` (`context.py`); this module puts them together.
"""

from __future__ import annotations

from fastapi import APIRouter

from edge.api.review.audit import AuditLog
from edge.api.review.auth import Auth
from edge.api.review.context import LoginIn, ReviewContext, login_response
from edge.api.review.routes_events import events_router
from edge.api.review.routes_pages import STATIC, pages_router
from edge.api.review.routes_passages import CorrectIn, DecideIn, decisions_router, passages_router
from edge.api.review.routes_session import accounts_router, session_router
from edge.api.state import ApiState

# Names that lived here before the split (edge/hub imported LoginIn, DecideIn and login_response from here).
__all__ = ["STATIC", "CorrectIn", "DecideIn", "LoginIn", "build_review_router", "login_response"]


def build_review_router(state: ApiState, auth: Auth | None = None) -> APIRouter:
    """Every review route, in the order the OpenAPI document lists them."""
    ctx = ReviewContext(state, auth or Auth(state.store, shared_token=state.token), AuditLog(state.store))
    router = APIRouter()
    for part in (pages_router(ctx), session_router(ctx), passages_router(ctx), events_router(ctx),
                 accounts_router(ctx), decisions_router(ctx)):
        router.include_router(part)
    return router
