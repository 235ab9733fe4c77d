"""The MQTT link's settings (the `mqtt:` section of the config); credentials come from the environment."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, field_validator

from edge.domain.settings import StrictModel


class MqttConfig(StrictModel):
    url: str = Field(description="mqtt://host:port or mqtts://host:port")
    topic_prefix: str = "smartgate"
    client_id: str = "smartgate-edge"
    qos: Literal[0, 1, 2] = 1
    username_env: str | None = Field(None, description="environment variable holding the username")
    password_env: str | None = Field(None, description="environment variable holding the password")
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    keepalive_s: int = Field(30, ge=5, le=3600)

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not (v.startswith("mqtt://") or v.startswith("mqtts://")):
            raise ValueError("must start with mqtt:// or mqtts://")
        return v

    def credentials(self) -> tuple[str | None, str | None]:
        user = os.environ.get(self.username_env) if self.username_env else None
        pwd = os.environ.get(self.password_env) if self.password_env else None
        return user, pwd
