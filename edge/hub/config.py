"""The hub's configuration: one YAML file validated with pydantic, like the box's (edge/config.py).

Unknown keys are errors naming their dotted path; secrets (the database password, MQTT credentials, API token)
come from environment variables named in the file, never from the file itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from edge.config import ApiConfig, ConfigError, MqttConfig, PolicyConfig
from edge.domain.settings import StrictModel, format_errors

IDENT = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class HubDatabaseConfig(StrictModel):
    dsn: str | None = Field(
        None, description="libpq connection string or URI without a password, e.g. "
        "'postgresql://smartgate@/smartgate?host=/run/postgresql'"
    )
    dsn_env: str | None = Field(None, description="environment variable holding the connection string (wins over dsn)")
    pool_min: int = Field(2, ge=1, le=64, description="connections kept open")
    pool_max: int = Field(8, ge=1, le=256, description="connections at most (ingest, API, housekeeping)")
    connect_timeout_s: float = Field(5.0, gt=0, le=120, description="giving up on one connection attempt")

    @field_validator("dsn")
    @classmethod
    def _no_password(cls, v: str | None) -> str | None:
        if v is not None and ("password=" in v or (":" in v.split("@", 1)[0].split("//", 1)[-1] and "@" in v)):
            raise ValueError("keep the password out of the file: use dsn_env, PGPASSWORD or ~/.pgpass")
        return v

    def conninfo(self) -> str:
        if self.dsn_env:
            value = os.environ.get(self.dsn_env)
            if not value:
                raise ConfigError(f"database.dsn_env: environment variable {self.dsn_env} is not set")
            return value
        if self.dsn:
            return self.dsn
        raise ConfigError("database: give dsn or dsn_env")


class HubMqttConfig(MqttConfig):
    client_id: str = "smartgate-hub"
    gates: list[Annotated[str, Field(pattern=IDENT)]] | None = Field(
        None, description="gate ids whose topics the hub consumes; null: every gate under topic_prefix (+)"
    )


class GatePolicy(StrictModel):
    """What the hub needs to re-decide a gate's passages: the same `policy` as the gate's boxes."""

    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    match_window_h: float = Field(24.0, gt=0, le=24 * 30, description="as the box's declarations.match_window_h")


class RedecideConfig(StrictModel):
    window_min: float = Field(
        30.0, ge=0, le=7 * 24 * 60, description="a declaration received up to this many minutes after a passage "
        "started re-decides that passage (0: never)"
    )
    claim_ttl_min: float = Field(
        30.0, gt=0, le=7 * 24 * 60, description="a declaration a box claimed (POST /api/hub/match) for a passage "
        "that has not arrived after this long is released (the box died before storing it)"
    )


class RetentionConfig(StrictModel):
    passage_days: int = Field(
        400, ge=1, description="passage rows (and their revisions) whose passage started longer ago are deleted; "
        "decisions (the audit) and declarations are kept"
    )
    purge_interval_s: float = Field(3600, gt=0, le=86400 * 7, description="how often retention runs")


class ReportConfig(StrictModel):
    timezone: str = Field("Asia/Ho_Chi_Minh", description="days and hours of the report are in this time zone")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (IANA name, e.g. Asia/Ho_Chi_Minh)") from None
        return v


class HubConfig(StrictModel):
    id: Annotated[str, Field(pattern=IDENT)] = "hub"
    name: str = ""
    database: HubDatabaseConfig
    mqtt: HubMqttConfig | None = None
    api: ApiConfig = Field(default_factory=lambda: ApiConfig(port=8090))
    accounts_db: str = Field(
        "var/hub-accounts.db", description="SQLite file of the review accounts, sessions and tokens "
        "(smartgate user add --db FILE)"
    )
    gates: dict[Annotated[str, Field(pattern=IDENT)], GatePolicy] = Field(
        default_factory=dict, description="per gate id: the policy its boxes run (re-decisions use it); "
        "a gate not listed gets the default policy"
    )
    redecide: RedecideConfig = Field(default_factory=RedecideConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    ingest_batch: int = Field(200, ge=1, le=10_000, description="messages committed in one transaction at most")

    @model_validator(mode="after")
    def _check(self) -> HubConfig:
        if self.database.pool_max < self.database.pool_min:
            raise ValueError("database.pool_max must be >= database.pool_min")
        return self

    def gate_policy(self, gate: str) -> GatePolicy:
        return self.gates.get(gate) or GatePolicy()


def parse_hub_config(data: object, source: str = "<hub config>") -> HubConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, got {type(data).__name__}")
    try:
        return HubConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{source}: {e.error_count()} error(s)\n{format_errors(e)}") from None


def load_hub_config(path: str | Path) -> HubConfig:
    from cameras.imageio import read_regular
    from edge.config import MAX_CONFIG_BYTES

    path = Path(path)
    raw = read_regular(path, MAX_CONFIG_BYTES, ConfigError)
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: not valid YAML text: {e}") from None
    return parse_hub_config(data, str(path))
