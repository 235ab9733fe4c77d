"""The gate's policy and declaration matching settings (`policy:` and `declarations:` in the config)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, field_validator

from edge.domain import commodities
from edge.domain.settings import StrictModel


def _commodity(name: str) -> str:
    if not commodities.is_commodity(name):
        raise ValueError(f"unknown commodity {name!r}; known: {', '.join(commodities.COMMODITIES)}")
    return name


Commodity = Annotated[str, AfterValidator(_commodity)]


class PermittedConfig(StrictModel):
    """Smart-lane goods per direction (domain.md §1); the defaults are Lào Cai's lists."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    import_: list[Commodity] = Field(
        default_factory=lambda: ["fertilizer", "coke", "chemicals", "electronics", "ecommerce", "agricultural"],
        alias="import",
    )
    export: list[Commodity] = Field(default_factory=lambda: ["agricultural", "electronics"])

    def for_direction(self, direction: str) -> list[str]:
        return list(self.import_ if direction == "import" else self.export)


class PolicyConfig(StrictModel):
    """How a passage becomes clear or flag (docs/policy.md)."""

    permitted: PermittedConfig = Field(default_factory=PermittedConfig)
    min_confidence: float = Field(0.5, ge=0, le=1, description="reads below this are flagged low_confidence")
    closed_cargo: Literal["declaration", "flag"] = Field(
        "declaration", description="sealed cargo: trust the declared HS codes, or flag it as unverified"
    )
    require_declaration: bool = Field(True, description="flag every passage without a matched declaration")
    require_release: bool = Field(
        False, description="a declaration carrying no customs status (no channel, no released_at) is "
        "customs_not_released; false: such a declaration counts as released (a feed without the status)"
    )
    extra_chemical_chapters: list[int] = Field(
        default_factory=list, description="HS chapters counted as chemicals besides 28, 29, 38 (30-36, 39)"
    )

    @field_validator("extra_chemical_chapters")
    @classmethod
    def _chapters(cls, v: list[int]) -> list[int]:
        bad = [c for c in v if c not in commodities.OPTIONAL_CHEMICAL_CHAPTERS]
        if bad:
            raise ValueError(f"chapters {bad} cannot be chemicals; choose from "
                             f"{list(commodities.OPTIONAL_CHEMICAL_CHAPTERS)}")
        return v


class DeclarationsConfig(StrictModel):
    """Matching declarations (manifests) to passages (edge/decision/matching.py)."""

    match_window_h: float = Field(
        24.0, gt=0, le=24 * 30,
        description="prefer unmatched declarations received within this many hours before the passage",
    )
