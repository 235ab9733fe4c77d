"""The hub's HTTP API and review page (one queue for every box and lane of the gate).

Accounts, sessions and tokens are the review page's (edge/api/review/auth.py: argon2 passwords, HttpOnly session
cookie + CSRF token, personal `sgt_` tokens), kept in the small SQLite file `accounts_db`
(`smartgate user add NAME --role inspector --db var/hub-accounts.db`). Passages, declarations and decisions are
in PostgreSQL.

Roles: `viewer` reads (queue, search, passage, report); `inspector` approves, rejects and links a manifest by
hand (every such decision names a person: the shared token cannot decide). Machine writes (a box asking for a
match, the Single Window posting a declaration) need the shared `api.token_env` token or a personal token of an
inspector or admin.
"""

from __future__ import annotations

import hmac
import logging
import re
from datetime import UTC, date, datetime
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from edge import __version__
from edge.api.app import MAX_REQUEST_BYTES, BodyLimit, SecurityHeaders, _read_limited, _validation_message
from edge.api.review.auth import CSRF_HEADER, SESSION_COOKIE, Auth, Principal, Role
from edge.api.review.routes import DecideIn, LoginIn, login_response
from edge.comms.payload import iso_utc
from edge.domain.declarations import MAX_BODY_BYTES, Declaration, error_message, parse_declaration
from edge.domain.reasons import known_codes, sentences
from edge.domain.validation import MAX_OFFSET, QueryTime, SafeText
from edge.hub.core import Conflict, NotFound
from edge.hub.report import compute as compute_report
from edge.hub.report import to_csv
from edge.storage.store import Store, normalise_plate

if TYPE_CHECKING:
    from edge.hub.main import Hub

log = logging.getLogger("smartgate.hub.api")

STATIC = FsPath(__file__).with_name("static")
REVIEW_STATIC = FsPath(__file__).resolve().parent.parent / "api" / "review" / "static"
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(js|css|svg)$")
_MEDIA = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8", "svg": "image/svg+xml"}
_SAFE = {"GET", "HEAD", "OPTIONS"}
IDENT = r"^[a-z0-9][a-z0-9_-]{0,63}$"
EVENT_ID = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
SEARCH = re.compile(r"^[A-Za-z0-9._\- \u00c0-\u1ef9\u4e00-\u9fff·]{1,64}$")


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    declaration_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    comment: SafeText = Field(min_length=1, max_length=2000, description="why; mandatory")


class PlateIn(BaseModel):
    text: str | None = Field(None, max_length=32)
    raw: str | None = Field(None, max_length=64)
    confidence: float = Field(0.0, ge=0, le=1)
    country: Literal["VN", "CN", "OTHER"] | None = None
    format: str | None = Field(None, max_length=32)
    display: str | None = Field(None, max_length=32)
    reason: str | None = Field(None, max_length=64)


class ContainerIn(BaseModel):
    code: str = Field(pattern=r"^[A-Z0-9]{4,11}$")
    check_digit_ok: bool
    corrected: bool = False
    confidence: float = Field(0.0, ge=0, le=1)
    layout: Literal["horizontal", "two_line", "vertical", "unknown"] = "unknown"
    size_type: str | None = Field(None, max_length=8)


class MatchIn(BaseModel):
    """A box asking for the declaration of a passage it is deciding (edge/hub/client.py)."""

    model_config = ConfigDict(extra="forbid")
    event_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    gate: str = Field(pattern=IDENT)
    lane: str = Field(pattern=IDENT)
    direction: Literal["import", "export"]
    box: str | None = Field(None, max_length=64)
    started_at: str = Field(max_length=40)
    plate: PlateIn | None = None
    vehicle_id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
    containers: list[ContainerIn] = Field(default_factory=list, max_length=8)


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

    hub.closers.append(accounts.close)

    def caller(request: Request) -> Principal | None:
        authz = request.headers.get("authorization")
        if authz is not None:
            scheme, _, tok = authz.partition(" ")
            return auth.token_principal(tok.strip()) if scheme.lower() == "bearer" else None
        return auth.session_principal(request.cookies.get(SESSION_COOKIE))

    def need(role: Role) -> Any:
        def dep(request: Request) -> Principal:
            who = caller(request)
            if who is None:
                raise HTTPException(401, "log in (session cookie) or send Authorization: Bearer <token>",
                                    headers={"WWW-Authenticate": "Bearer"})
            if request.method not in _SAFE and who.via == "session":
                sent = request.headers.get(CSRF_HEADER, "").encode("utf-8", "surrogateescape")
                if not who.csrf or not hmac.compare_digest(sent, who.csrf.encode()):
                    raise HTTPException(403, f"CSRF check failed: send the session's token in {CSRF_HEADER}")
            if not who.has(role):
                raise HTTPException(403, f"this needs the {role} role; {who.name} is {who.role}")
            return who
        return Depends(dep)

    def writer(request: Request) -> Principal:
        """Machine writes: the shared token, or a personal token of an inspector or admin."""
        authz = request.headers.get("authorization") or ""
        scheme, _, tok = authz.partition(" ")
        tok = tok.strip() if scheme.lower() == "bearer" else ""
        if token is not None and tok and hmac.compare_digest(tok.encode(), token.encode()):
            return Principal(name="api-token", role="viewer", via="token")
        who = auth.token_principal(tok) if tok else None
        if who is None:
            raise HTTPException(401, "writing needs a bearer token (api.token_env, or `smartgate user token NAME`)",
                                headers={"WWW-Authenticate": "Bearer"})
        if not who.has("inspector"):
            raise HTTPException(403, f"role {who.role!r} cannot write; inspector or admin needed")
        return who

    viewer, inspector = need("viewer"), need("inspector")
    write = Depends(writer)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": _validation_message(errors), "errors": errors})

    def run_tx(fn: Any, *args: Any) -> Any:
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

    # -- status --------------------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/hub")

    @app.get("/api/health", tags=["status"])
    def health() -> dict[str, Any]:
        problems = hub.problems()
        c = hub.consumer
        return {"status": "ok" if not problems else "degraded", "problems": problems, "db_ok": hub.db.ping(),
                "mqtt_connected": c.connected if c is not None else None,
                "ingested": c.ingested if c else 0, "duplicates": c.duplicates if c else 0,
                "rejected": c.rejected if c else 0, "redecided": c.redecided if c else 0,
                "backlog": c.backlog() if c else 0, "schema_version": hub.db.schema_version}

    # -- machines: matching and declarations ---------------------------------------------------------------

    @app.post("/api/hub/match", tags=["matching"])
    def match(body: MatchIn, who: Principal = write) -> dict[str, Any]:
        """A box asks for the declaration of the passage it is deciding; the manifest is claimed for that
        passage id at once (a unique key in the database): no other passage of any box can get it."""
        return run_tx(hub.core.match_for_box, body.model_dump(mode="json"))

    @app.post("/api/declarations", status_code=201, tags=["declarations"])
    async def post_declaration(request: Request, who: Principal = write) -> dict[str, Any]:
        """Store a declaration (the box's format, docs/api.md); a resend replaces it. A late manifest re-decides
        the passage it fits (docs/hub.md)."""
        raw = await _read_limited(request, MAX_BODY_BYTES)
        try:
            din = parse_declaration(raw)
        except (ValidationError, ValueError) as e:
            raise HTTPException(422, error_message(e)) from None
        d, written = await run_in_threadpool(run_tx, hub.core.store_declaration, din)
        return {**d.model_dump(mode="json"), "redecided": [{"event_id": e, "revision": r} for e, r in written]}

    @app.get("/api/declarations", tags=["declarations"])
    def declarations(
        who: Principal = viewer,
        unmatched: bool = False,
        q: Annotated[str | None, Query(max_length=64, description="id or plate, partial")] = None,
        since: QueryTime | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        clauses, args = ["TRUE"], {"limit": limit, "offset": offset}
        if unmatched:
            clauses.append("m.declaration_id IS NULL")
        if since is not None:
            clauses.append("d.received_at >= %(since)s")
            args["since"] = since
        if q:
            clauses.append("(d.id ILIKE %(qid)s OR d.plate LIKE %(qp)s)")
            args["qid"] = f"%{_like(q)}%"
            args["qp"] = f"%{normalise_plate(q)}%"
        where = " AND ".join(clauses)
        with hub.db.tx() as conn:
            rows = conn.execute(
                f"SELECT d.body, d.received_at, m.event_id FROM declarations d LEFT JOIN declaration_matches m"
                f" ON m.declaration_id = d.id WHERE {where} ORDER BY d.received_at DESC, d.id DESC"
                " LIMIT %(limit)s OFFSET %(offset)s", args).fetchall()
        items = [Declaration.model_validate({**b, "received_at": r, "matched_passage_id": m}).model_dump(mode="json")
                 for b, r, m in rows]
        return {"limit": limit, "offset": offset, "items": items}

    @app.get("/api/declarations/{declaration_id}", tags=["declarations"])
    def declaration(declaration_id: Annotated[str, Path(max_length=64)], who: Principal = viewer) -> dict[str, Any]:
        with hub.db.tx() as conn:
            d = hub.core.get_declaration(conn, declaration_id)
        if d is None:
            raise HTTPException(404, f"no declaration with id {declaration_id!r}")
        return d.model_dump(mode="json")

    # -- review: queue and search --------------------------------------------------------------------------

    @app.get("/api/hub/passages", tags=["review"])
    def passages(
        who: Principal = viewer,
        gate: Annotated[str | None, Query(pattern=IDENT)] = None,
        lane: Annotated[str | None, Query(pattern=IDENT)] = None,
        box: Annotated[str | None, Query(max_length=64)] = None,
        status: Literal["clear", "flag"] | None = None,
        review: Literal["pending", "approved", "rejected", "decided"] | None = None,
        reason: Annotated[str | None, Query(pattern=r"^[a-z_]{1,64}$")] = None,
        revised: bool | None = None,
        q: Annotated[str | None, Query(max_length=64, description="plate, container code or declaration id "
                                                                  "(partial; case and separators ignored)")] = None,
        since: Annotated[QueryTime | None, Query(description="started at or after (UTC if no zone)")] = None,
        until: Annotated[QueryTime | None, Query(description="started before (UTC if no zone)")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
        count: bool = Query(True, description="also count the matches (up to 10,000)"),
    ) -> dict[str, Any]:
        """Passages of every box, newest first; the queue is `status=flag&review=pending`."""
        if q is not None and not SEARCH.fullmatch(q):
            raise HTTPException(422, "q: letters, digits, spaces, '.', '-', '_' only")
        where, args = _passage_where(gate, lane, box, status, review, reason, revised, q, since, until)
        with hub.db.tx() as conn:
            rows = conn.execute(
                f"SELECT event_id, gate, lane, box, direction, started_at, plate_text, containers, declaration_id,"
                f" status, reasons, revision, revision_reason, review_status, decided_by, decided_at,"
                f" body->'plate'->>'display', body->>'vehicle_id' FROM passages WHERE {where}"
                f" ORDER BY started_at DESC, event_id DESC LIMIT %(limit)s OFFSET %(offset)s",
                {**args, "limit": limit, "offset": offset}).fetchall()
            total = None
            if count:
                n = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM passages WHERE {where} LIMIT 10001) t",
                                 args).fetchone()
                total = int(n[0]) if n else 0
        items = [{"event_id": r[0], "gate": r[1], "lane": r[2], "box": r[3], "direction": r[4],
                  "started_at": iso_utc(r[5]), "plate": r[6], "plate_display": r[16], "vehicle_id": r[17],
                  "containers": r[7].split() if r[7] else [], "declaration_id": r[8], "status": r[9],
                  "reasons": r[10], "revision": r[11], "revision_reason": r[12], "review_status": r[13],
                  "decided_by": r[14], "decided_at": iso_utc(r[15]) if r[15] else None} for r in rows]
        return {"total": total, "total_capped": total is not None and total > 10_000, "limit": limit,
                "offset": offset, "items": items}

    @app.get("/api/hub/passages/{event_id}", tags=["review"])
    def passage(event_id: EVENT_ID, who: Principal = viewer) -> dict[str, Any]:
        """The current revision's payload, every revision with its reason, the declaration, the decisions."""
        with hub.db.tx() as conn:
            row = conn.execute("SELECT body, review_status, decided_by, decided_at, received_at FROM passages"
                               " WHERE event_id = %s", (event_id,)).fetchone()
            if row is None:
                raise HTTPException(404, f"no passage with id {event_id!r}")
            revs = conn.execute("SELECT revision, at, status, reasons, declaration_id, reason, actor"
                                " FROM passage_revisions WHERE event_id = %s ORDER BY revision", (event_id,)).fetchall()
            decs = conn.execute("SELECT id, source, at, user_name, role, action, field, item, previous, new, comment"
                                " FROM decisions WHERE event_id = %s ORDER BY at, id", (event_id,)).fetchall()
            body = row[0]
            decl = hub.core.get_declaration(conn, body["declaration_id"]) if body.get("declaration_id") else None
        return {
            "passage": body,
            "review": {"status": row[1], "decided_by": row[2], "decided_at": iso_utc(row[3]) if row[3] else None},
            "received_at": iso_utc(row[4]),
            "revisions": [{"revision": r[0], "at": iso_utc(r[1]), "status": r[2], "reasons": r[3],
                           "declaration_id": r[4], "reason": r[5], "actor": r[6]} for r in revs],
            "declaration": decl.model_dump(mode="json") if decl else None,
            "decisions": [{"id": d[0], "source": d[1], "at": iso_utc(d[2]), "user": d[3], "role": d[4],
                           "action": d[5], "field": d[6], "index": d[7], "previous": d[8], "new": d[9],
                           "comment": d[10]} for d in decs],
        }

    # -- review: acting ------------------------------------------------------------------------------------

    def person(who: Principal) -> None:
        if who.user_id is None:
            raise HTTPException(403, "decisions need a personal account (the shared api token cannot decide)")

    @app.post("/api/hub/passages/{event_id}/link", tags=["review"], responses={403: {}, 404: {}, 409: {}})
    def link(event_id: EVENT_ID, body: LinkIn, who: Principal = inspector) -> dict[str, Any]:
        """Link a manifest to a passage by hand (audited): the passage is re-decided with it (a new revision,
        published); 409 when the manifest is used by another passage or the passage has one."""
        person(who)
        rev = run_tx(hub.core.link_by_hand, event_id, body.declaration_id, who.name, who.role, who.via, body.comment)
        log.info("hub: %s linked declaration %s to passage %s (revision %d)", who.name, body.declaration_id,
                 event_id, rev)
        return passage(event_id, who)

    def decide(event_id: str, action: str, body: DecideIn, who: Principal) -> dict[str, Any]:
        person(who)
        run_tx(hub.core.decide_on_hub, event_id, action, who.name, who.role, who.via, body.comment)
        log.info("hub: %s %s passage %s", who.name, action, event_id)
        return passage(event_id, who)

    @app.post("/api/hub/passages/{event_id}/approve", tags=["review"], responses={403: {}, 404: {}, 409: {}})
    def approve(event_id: EVENT_ID, body: DecideIn, who: Principal = inspector) -> dict[str, Any]:
        """Clear the truck. Final."""
        return decide(event_id, "approve", body, who)

    @app.post("/api/hub/passages/{event_id}/reject", tags=["review"], responses={403: {}, 404: {}, 409: {}})
    def reject(event_id: EVENT_ID, body: DecideIn, who: Principal = inspector) -> dict[str, Any]:
        """Send the truck to traditional inspection. Final."""
        return decide(event_id, "reject", body, who)

    # -- report --------------------------------------------------------------------------------------------

    @app.get("/api/hub/report", tags=["report"])
    def report(
        who: Principal = viewer,
        d_from: Annotated[date, Query(alias="from")] = ...,  # type: ignore[assignment]
        d_to: Annotated[date, Query(alias="to")] = ...,  # type: ignore[assignment]
        gate: Annotated[str | None, Query(pattern=IDENT)] = None,
        format: Literal["json", "csv"] = "json",
    ) -> Any:
        """The report (docs/hub.md): JSON, or `format=csv` (one figure per row, as `smartgate report --csv`)."""
        if d_to < d_from:
            raise HTTPException(422, "to: before from")
        if (d_to - d_from).days > 400:
            raise HTTPException(422, "to: at most 400 days after from")
        with hub.db.tx() as conn:
            rep = compute_report(conn, d_from, d_to, cfg.report.timezone, gate)
        if format == "csv":
            return Response(to_csv(rep), media_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": f'attachment; filename="smartgate-report-{d_from}-{d_to}.csv"'})
        return rep

    # -- session and pages ---------------------------------------------------------------------------------

    @app.post("/api/hub/login", tags=["session"], responses={401: {}, 429: {}})
    def login(body: LoginIn, request: Request) -> JSONResponse:
        return login_response(auth, body, request)  # the box's review login, on the hub's accounts

    @app.post("/api/hub/logout", status_code=204, tags=["session"])
    def logout(request: Request, who: Principal = viewer) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        if who.via == "session" and cookie:
            auth.logout(cookie)
        resp = Response(status_code=204)
        resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return resp

    @app.get("/api/hub/me", tags=["session"])
    def me(who: Principal = viewer) -> dict[str, Any]:
        with hub.db.tx() as conn:
            lanes = conn.execute("SELECT DISTINCT gate, lane, box FROM passages WHERE started_at > now() - interval"
                                 " '30 days' ORDER BY 1, 2").fetchall()
        return {"user": who.name, "role": who.role, "via": who.via, "csrf": who.csrf, "hub": cfg.id,
                "name": cfg.name, "lanes": [{"gate": g, "lane": ln, "box": b} for g, ln, b in lanes],
                "reasons": [{"code": c, "en": sentences(c)[0], "vi": sentences(c)[1]} for c in known_codes()],
                "now": iso_utc(datetime.now(UTC))}

    def page(name: str, request: Request) -> Response:
        if auth.session_principal(request.cookies.get(SESSION_COOKIE)) is None:
            return RedirectResponse("/hub/login", status_code=303)
        return FileResponse(STATIC / name, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})

    @app.get("/hub", include_in_schema=False)
    def hub_page(request: Request) -> Response:
        return page("hub.html", request)

    @app.get("/hub/report", include_in_schema=False)
    def report_page(request: Request) -> Response:
        return page("report.html", request)

    @app.get("/hub/login", include_in_schema=False)
    def login_page() -> FileResponse:
        return FileResponse(STATIC / "login.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-store"})

    @app.get("/hub/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        for folder in (STATIC, REVIEW_STATIC):
            if _STATIC_NAME.fullmatch(name) and (folder / name).is_file():
                return FileResponse(folder / name, media_type=_MEDIA[name.rsplit(".", 1)[1]],
                                    headers={"Cache-Control": "no-cache"})
        raise HTTPException(404, "not found")

    return app


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _passage_where(gate: str | None, lane: str | None, box: str | None, status: str | None, review: str | None,
                   reason: str | None, revised: bool | None, q: str | None, since: datetime | None,
                   until: datetime | None) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    args: dict[str, Any] = {}
    for col, val in (("gate", gate), ("lane", lane), ("box", box), ("status", status)):
        if val is not None:
            clauses.append(f"{col} = %({col})s")
            args[col] = val
    if review == "decided":
        clauses.append("review_status <> 'pending'")
    elif review is not None:
        clauses.append("review_status = %(review)s")
        args["review"] = review
    if reason is not None:
        clauses.append("reasons @> ARRAY[%(reason)s]::text[]")  # the GIN index on reasons
        args["reason"] = reason
    if revised is not None:
        clauses.append("revision > 1" if revised else "revision = 1")
    if since is not None:
        clauses.append("started_at >= %(since)s")
        args["since"] = since
    if until is not None:
        clauses.append("started_at < %(until)s")
        args["until"] = until
    if q:
        key = normalise_plate(q)
        ors = ["declaration_id = %(q_exact)s"]
        args["q_exact"] = q.strip()
        if len(key) >= 3:  # trigram indexes need 3 characters to help
            ors += ["plate_text LIKE %(q_like)s", "containers LIKE %(q_like)s"]
            args["q_like"] = f"%{key}%"
        elif key:
            ors += ["plate_text = %(q_key)s"]
            args["q_key"] = key
        clauses.append("(" + " OR ".join(ors) + ")")
    return (" AND ".join(clauses) or "TRUE"), args
