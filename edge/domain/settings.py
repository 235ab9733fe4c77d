"""Building blocks of the configuration models: strict models and readable errors.

Every package owns the pydantic model of its own settings (cameras/config.py, edge/lane/config.py, ...);
edge/config.py composes them into the gate's one YAML file. They share these pieces so that an unknown key is an
error everywhere and every error names the dotted path of the offending key.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in a gate's config must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ConfigError(Exception):
    """A config file that cannot be used; the message lists every problem with its key path."""


def format_errors(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"  {path}: {msg}")
    return "\n".join(lines)
