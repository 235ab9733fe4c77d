"""The readers' settings (the `ocr:` section of the config)."""

from __future__ import annotations

from pydantic import Field

from edge.domain.settings import StrictModel


class OcrConfig(StrictModel):
    threads: int = Field(2, ge=1, le=64)
