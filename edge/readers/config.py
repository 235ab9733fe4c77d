"""The readers' settings (the `ocr:` section of the config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from edge.domain.settings import StrictModel

PlateCountry = Literal["VN", "CN", "OTHER"]


class OcrConfig(StrictModel):
    threads: int = Field(2, ge=1, le=64)
    plate_countries: list[PlateCountry] = Field(
        default_factory=lambda: ["VN", "CN", "OTHER"], description="plate grammars the reader may answer with; "
        "a gate where only VN and CN vehicles cross can leave OTHER out: a CN plate whose province glyph was "
        "read as a Latin letter (沪KH9680 as PKH9680) then is a no-read instead of a foreign plate"
    )

    plate_recogniser_veto: bool = Field(
        True, description="the plate-trained recogniser (models/plate_rec) checks each plate read: one it "
        "reads as another text, sure of every character where it differs, becomes a `recogniser_disagrees` "
        "no-read; where PP-OCR's reads were refused, its own sure VN/CN read of the place stands "
        "(docs/accuracy.md). false: neither"
    )

    @field_validator("plate_countries")
    @classmethod
    def _some(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("name at least one of VN, CN, OTHER")
        return sorted(set(v), key=["VN", "CN", "OTHER"].index)
