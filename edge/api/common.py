"""Pieces the box's routers share: the error body model, list query parameters and the 422 handler.

The 422 handler (`install_error_handlers`) is the hub's too, so that both APIs answer a bad request with the
same `{"detail": "...", "errors": [...]}` shape.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from edge.domain.validation import MAX_OFFSET

IDENT = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_LIMIT = 500

# the list endpoints' shared query parameters (passages, declarations): one definition, one OpenAPI description
PlateQuery = Annotated[
    str | None, Query(min_length=1, max_length=32, description="plate text, partial; separators ignored")
]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


class ErrorOut(BaseModel):
    detail: str


def validation_message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("query", "path", "body")]
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{'.'.join(loc) or 'request'}: {msg}")
    return "; ".join(parts)


def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": validation_message(errors), "errors": errors})


def install_error_handlers(app: FastAPI) -> None:
    """422 answers as `{"detail": one line in words, "errors": [{loc, msg, type}, ...]}`."""
    app.exception_handler(RequestValidationError)(_invalid)
