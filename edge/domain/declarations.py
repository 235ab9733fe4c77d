"""Declarations: the manifest of one expected truck (plate or vehicle id, containers, HS codes, direction).

They arrive from the National Single Window side over the API (`POST /api/declarations`) or MQTT
(`<prefix>/<gate>/declarations`) and are matched to passages (`edge/decision/matching.py`). Everything is
normalised on the way in so that matching compares like with like: plates with the plate grammar's
normaliser, container codes as 11 bare characters whose ISO 6346 check digit must verify (a declared
code with a wrong check digit is a typing error at the sender and is refused, never guessed at).

`DeclarationIn` is what a client sends; `Declaration` adds what the gate sets (`received_at`,
`matched_passage_id`). `edge/comms/schemas/declaration.schema.json` is generated from `DeclarationIn`
(`python -m edge.domain.declarations` rewrites it; a test keeps the committed file equal to the model).

The payload is checked before it is parsed (`load_json`, shared by the API and MQTT): at most
MAX_BODY_BYTES, nested at most MAX_DEPTH deep (a cheap scan: 100,000 nested arrays used to raise
RecursionError), numbers finite (`1e999`, `NaN`, `Infinity` are refused, not stored as null). Text fields
refuse bidi and control characters (edge/domain/validation.py).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edge.domain import iso6346
from edge.domain.plate_grammar import normalise as normalise_plate_text
from edge.domain.types import Direction
from edge.domain.validation import check_text

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "comms" / "schemas" / "declaration.schema.json"
MAX_BODY_BYTES = 256 * 1024  # API and MQTT refuse bigger declarations (a manifest is a few kB)
MAX_DEPTH = 16  # nesting of JSON arrays/objects; a declaration needs 3

ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
GATE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
VEHICLE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
_HS_SEPARATORS = re.compile(r"[\s.\-]+")
_PLATE_OK = re.compile(r"^[0-9A-ZĐ\u4e00-\u9fff]{2,16}$")


def _no_unsafe_chars(v: Any, multiline: bool = False) -> Any:
    return check_text(v, multiline) if isinstance(v, str) else v


def identity_key(text: str) -> str:
    """Comparison key for vehicle ids (IGV-07 == igv07): uppercase letters and digits only."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


class DeclarationLine(BaseModel):
    """One goods line: an HS code (4-10 digits) and, for dangerous goods, the UN number."""

    model_config = ConfigDict(extra="forbid")

    hs_code: str = Field(description="HS code, 4-10 digits; dots and spaces are removed (8542.31 -> 854231)",
                         examples=["310210", "8542.31"])
    description: str | None = Field(None, max_length=500)
    quantity: float | None = Field(None, ge=0, allow_inf_nan=False)
    unit: str | None = Field(None, max_length=16, examples=["kg", "t", "pcs"])
    dangerous_goods_un: str | None = Field(
        None, description="UN number of dangerous goods, 4 digits (a leading 'UN' is accepted)", examples=["1203"]
    )
    ecommerce: bool = Field(False, description="cross-border e-commerce consignment")

    @field_validator("description", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return _no_unsafe_chars(v, multiline=True)

    @field_validator("unit", mode="before")
    @classmethod
    def _line(cls, v: Any) -> Any:
        return _no_unsafe_chars(v)

    @field_validator("hs_code", mode="before")
    @classmethod
    def _hs(cls, v: Any) -> Any:
        if isinstance(v, int):  # a JSON number loses leading zeros: 0603 arrives as 603
            raise ValueError("hs_code must be a string (a number loses leading zeros, e.g. 0603)")
        if not isinstance(v, str):
            return v
        _no_unsafe_chars(v)  # before the separators are removed
        s = _HS_SEPARATORS.sub("", v)
        if not re.fullmatch(r"\d{4,10}", s):
            raise ValueError(f"hs_code must be 4-10 digits (dots and spaces allowed), got {v!r}")
        return s

    @field_validator("dangerous_goods_un", mode="before")
    @classmethod
    def _un(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        _no_unsafe_chars(v)
        s = re.sub(r"^UN", "", v.strip().upper().replace(" ", ""))
        if not re.fullmatch(r"\d{4}", s):
            raise ValueError(f"dangerous_goods_un must be a 4-digit UN number, got {v!r}")
        return s

    @property
    def hs_chapter(self) -> str:
        return self.hs_code[:2]


class DeclarationIn(BaseModel):
    """A declaration as a client sends it (API body, MQTT payload)."""

    model_config = ConfigDict(extra="forbid", title="smartgate declaration")

    id: Annotated[str, Field(pattern=ID_PATTERN, description="the sender's reference, e.g. the National Single "
                             "Window number; resending the same id replaces the declaration")]
    gate: Annotated[str | None, Field(pattern=GATE_PATTERN, description="gate id; when given it must be this gate")] = None
    direction: Direction
    plate: str | None = Field(None, description="licence plate; case and separators are ignored (29C-123.45)")
    vehicle_id: Annotated[str | None, Field(pattern=VEHICLE_ID_PATTERN,
                                            description="AI-IGV (autonomous vehicle) id instead of a plate")] = None
    containers: list[str] = Field(default_factory=list, max_length=8,
                                  description="ISO 6346 codes (11 characters; spaces allowed); "
                                  "the check digit must verify")
    lines: list[DeclarationLine] = Field(default_factory=list, max_length=500,
                                         description="goods lines; at least one unless `empty` is true")
    empty: bool = Field(False, description="the truck crosses empty (no goods lines)")
    expected_at: datetime | None = Field(None, description="expected arrival time, ISO-8601 (UTC if no zone)")
    channel: Literal["green", "yellow", "red"] | None = Field(
        None, description="customs channel (luồng): green, yellow (documents checked) or red (physical "
        "inspection); red is never cleared by the smart lane"
    )
    released_at: datetime | None = Field(
        None, description="when customs released the goods (thông quan), ISO-8601 (UTC if no zone); absent: "
        "not released yet when a channel is given"
    )

    @field_validator("id", "gate", "vehicle_id", mode="before")
    @classmethod
    def _line(cls, v: Any) -> Any:
        return _no_unsafe_chars(v)

    @field_validator("plate", mode="before")
    @classmethod
    def _plate(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        _no_unsafe_chars(v, multiline=True)  # before normalising (which drops them); a two-line plate may use \n
        s = normalise_plate_text(v)
        if not _PLATE_OK.fullmatch(s):
            raise ValueError(f"plate must be 2-16 letters/digits after removing separators, got {v!r}")
        return s

    @field_validator("containers", mode="before")
    @classmethod
    def _containers(cls, v: Any) -> Any:
        if not isinstance(v, list):
            return v
        out: list[str] = []
        for raw in v:
            if not isinstance(raw, str):
                raise ValueError(f"container codes must be strings, got {raw!r}")
            _no_unsafe_chars(raw)
            code = re.sub(r"[\s\-./]+", "", raw).upper()
            if not iso6346.CODE_RE.fullmatch(code):
                raise ValueError(f"{raw!r} is not an ISO 6346 code (3 letters, U/J/Z, 6 digits, check digit)")
            expected = iso6346.check_digit(code[:10])
            if int(code[10]) != expected:
                raise ValueError(f"{code}: ISO 6346 check digit should be {expected}, not {code[10]}")
            if code not in out:
                out.append(code)
        return out

    @model_validator(mode="after")
    def _complete(self) -> DeclarationIn:
        if not (self.plate or self.vehicle_id or self.containers):
            raise ValueError("give at least one of plate, vehicle_id, containers (else nothing can be matched)")
        if self.empty and self.lines:
            raise ValueError("an empty truck (empty: true) declares no goods lines")
        if not self.empty and not self.lines:
            raise ValueError("lines: at least one goods line is needed unless empty is true")
        if self.expected_at is not None and self.expected_at.tzinfo is None:
            self.expected_at = self.expected_at.replace(tzinfo=UTC)
        if self.released_at is not None and self.released_at.tzinfo is None:
            self.released_at = self.released_at.replace(tzinfo=UTC)
        return self


class Declaration(DeclarationIn):
    """A stored declaration: what the client sent plus what the gate recorded."""

    model_config = ConfigDict(extra="forbid", title="smartgate stored declaration")

    received_at: datetime | None = Field(None, description="when the gate received it (set by the gate)")
    matched_passage_id: str | None = Field(None, description="the passage it was matched to (set by the gate)")

    @classmethod
    def received(cls, d: DeclarationIn, at: datetime | None = None) -> Declaration:
        """Stamp a client's declaration with the receive time."""
        return cls(**d.model_dump(), received_at=at or datetime.now(UTC))

    @property
    def vehicle_key(self) -> str | None:
        return identity_key(self.vehicle_id) if self.vehicle_id else None


_NESTING = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_depth(data: bytes) -> int:
    """Deepest nesting of arrays/objects in a JSON text (strings skipped); regex-driven, no recursion."""
    depth = deepest = 0
    for m in _NESTING.finditer(data):
        c = m.group()
        if c in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
        elif c in (b"]", b"}"):
            depth -= 1
    return deepest


def _finite(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise ValueError(f"number {text[:40]} is out of range (numbers must be finite)")
    return x


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (numbers must be finite)")


def load_json(data: str | bytes, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH,
              what: str = "declaration") -> Any:
    """JSON text -> Python value, refusing (ValueError) more than `max_bytes`, nesting deeper than
    `max_depth` (checked before parsing, so no RecursionError), non-finite numbers and NaN/Infinity."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise ValueError(f"{what} is larger than {max_bytes // 1024} kB")
    if json_depth(raw) > max_depth:
        raise ValueError(f"{what}: JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:  # not reachable after the depth scan; kept as a guard
        raise ValueError(f"{what}: JSON nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError:
        raise ValueError(f"{what}: invalid JSON (not UTF-8 text)") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{what}: invalid JSON: {e}") from None
    except ValueError as e:  # from _finite / _no_constant
        raise ValueError(f"{what}: {e}") from None


def parse_declaration(data: str | bytes) -> DeclarationIn:
    """Parse a JSON payload; raises pydantic.ValidationError or ValueError (too big, too deep, not JSON,
    a number that is not finite)."""
    load_json(data)  # the guards; pydantic then parses the same text in JSON mode
    return DeclarationIn.model_validate_json(data)


def error_message(exc: Exception) -> str:
    """One line per problem, `field.path: message` (the API's 422 `detail` and MQTT's rejection)."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for e in errors():
        loc = ".".join(str(p) for p in e.get("loc", ()))
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        if e.get("type") == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{loc or 'declaration'}: {msg}")
    return "; ".join(parts)


def declaration_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of what clients send, generated from `DeclarationIn`."""
    schema = DeclarationIn.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://smartgate.example/schemas/declaration.schema.json",
        **schema,
        "description": "Manifest of one expected truck. POST /api/declarations or publish (QoS 1) on "
        "<prefix>/<gate>/declarations. Plates and container codes are normalised by the gate; a container "
        "code must carry a valid ISO 6346 check digit; at least one of plate, vehicle_id, containers; at "
        "least one line unless empty is true.",
    }


def schema_text() -> str:
    return json.dumps(declaration_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # rewrite the committed schema after changing the model
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
