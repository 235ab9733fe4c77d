"""docs/config.md must follow the code: every config key is documented."""

from __future__ import annotations

import types
import typing
from pathlib import Path

from pydantic import BaseModel

from edge.config import Config

DOC = (Path(__file__).resolve().parents[1] / "docs" / "config.md").read_text(encoding="utf-8")


def _models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        return [m for a in typing.get_args(annotation) for m in _models(a)]
    return []


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        out.append(key)
        for sub in _models(field.annotation):
            out += _keys(sub, f"{key}.")
    return out


def test_every_config_key_is_in_the_reference() -> None:
    missing = [k for k in _keys(Config) if k.rsplit(".", 1)[-1] not in DOC]
    assert not missing, f"document these keys in docs/config.md: {missing}"


def test_the_example_in_the_reference_is_a_valid_config() -> None:
    import yaml

    from edge.config import parse_config

    block = DOC.split("```yaml", 1)[1].split("```", 1)[0]
    cfg = parse_config(yaml.safe_load(block), "docs/config.md")
    assert cfg.policy.permitted.for_direction("import")
