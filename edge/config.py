"""The gate's configuration: one YAML file validated with pydantic.

Each package owns the model of its own section (cameras/config.py, edge/lane/config.py, edge/readers/config.py,
edge/decision/config.py, edge/storage/config.py, edge/comms/config.py, edge/api/config.py); this module composes
them, checks the cross-references and loads the file. Unknown keys are errors (extra="forbid") and every error
names the dotted path of the offending key. Secrets never live in the file: the file names the environment
variables that hold them. The section models are re-exported here for the wiring code and the tests.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from cameras.config import CameraConfig, RectifyConfig
from edge.api.config import ApiConfig
from edge.comms.config import MqttConfig
from edge.decision.config import Commodity, DeclarationsConfig, PermittedConfig, PolicyConfig
from edge.domain.settings import ConfigError, StrictModel, format_errors
from edge.lane.config import PipelineConfig
from edge.readers.config import OcrConfig
from edge.storage.config import StorageConfig

__all__ = [
    "ApiConfig", "CameraConfig", "Commodity", "Config", "ConfigError", "DeclarationsConfig", "GateConfig",
    "HubLinkConfig", "LaneConfig", "MqttConfig", "OcrConfig", "PermittedConfig", "PipelineConfig", "PolicyConfig",
    "RectifyConfig", "StorageConfig", "load_config", "parse_config",
]



class GateConfig(StrictModel):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    name: str = ""
    box: Annotated[str | None, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")] = Field(
        None, description="this lane box's id when a gate has several (the hub filters by it); default: the MQTT "
        "client id"
    )


class LaneConfig(StrictModel):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    direction: Literal["import", "export"]
    igv: bool = Field(
        False, description="the lane takes AI-IGVs (autonomous vehicles): only then may an external trigger carry a "
        "vehicle_id, which becomes the passage's identity; elsewhere such a trigger is refused"
    )


























class HubLinkConfig(StrictModel):
    """The gate hub (docs/hub.md): the box asks it for the declaration of each passage it decides."""

    url: str = Field(description="the hub's API base URL, e.g. http://10.20.0.2:8090")
    token_env: str | None = Field(None, description="environment variable holding the hub's API token")
    timeout_s: float = Field(1.5, gt=0, le=30, description="how long one match request may take")
    retry_after_s: float = Field(
        30.0, gt=0, le=3600, description="after a failed request, decide without asking for this long (the hub "
        "re-decides those passages when their events arrive)"
    )

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not (v.startswith("http://") or v.startswith("https://")):
            raise ValueError("must start with http:// or https://")
        return v

    def token(self) -> str | None:
        return os.environ.get(self.token_env) if self.token_env else None


class Config(StrictModel):
    gate: GateConfig
    lanes: list[LaneConfig] = Field(min_length=1)
    cameras: list[CameraConfig] = Field(min_length=1)
    mqtt: MqttConfig | None = None
    api: ApiConfig = ApiConfig()
    storage: StorageConfig = StorageConfig()
    ocr: OcrConfig = OcrConfig()
    pipeline: PipelineConfig = PipelineConfig()
    declarations: DeclarationsConfig = DeclarationsConfig()
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    hub: HubLinkConfig | None = None

    @model_validator(mode="after")
    def _cross_refs(self) -> Config:
        lane_ids = [lane.id for lane in self.lanes]
        if len(set(lane_ids)) != len(lane_ids):
            raise ValueError(f"lanes: duplicate lane id in {lane_ids}")
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError(f"cameras: duplicate camera name in {names}")
        for i, cam in enumerate(self.cameras):
            if cam.lane not in lane_ids:
                raise ValueError(f"cameras.{i}.lane: unknown lane {cam.lane!r} (lanes: {', '.join(lane_ids)})")
        return self

    def lane(self, lane_id: str) -> LaneConfig:
        return next(lane for lane in self.lanes if lane.id == lane_id)

    def resolve_paths(self, base: Path) -> Config:
        """Make relative file paths relative to the config file's folder."""
        out = self.model_copy(deep=True)
        for cam in out.cameras:
            if "://" not in cam.source and not cam.source.startswith("usb:"):
                p = Path(cam.source)
                if not p.is_absolute():
                    cam.source = str((base / p).resolve())
            if cam.intrinsics and not Path(cam.intrinsics).expanduser().is_absolute():
                cam.intrinsics = str((base / cam.intrinsics).resolve())
        return out






def parse_config(data: object, source: str = "<config>") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{source}: {e.error_count()} error(s)\n{format_errors(e)}") from None


MAX_CONFIG_BYTES = 1024 * 1024  # a gate's config is a few kB


def load_config(path: str | Path) -> Config:
    # Regular files only: a FIFO or /dev/zero given as the config must not hang or fill memory.
    from cameras.imageio import read_regular

    path = Path(path)
    data_bytes = read_regular(path, MAX_CONFIG_BYTES, ConfigError)
    try:
        text = data_bytes.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    return parse_config(data, str(path)).resolve_paths(path.parent)
