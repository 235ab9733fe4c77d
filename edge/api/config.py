"""The local HTTP API's settings (the `api:` section of the config); the token comes from the environment."""

from __future__ import annotations

import os

from pydantic import Field, field_validator

from edge.domain.settings import StrictModel


class ApiConfig(StrictModel):
    enabled: bool = True
    bind: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str | None = Field(
        None, description="base URL subscribers use to fetch evidence (default http://<bind>:<port>)"
    )
    token_env: str | None = Field(
        None, description="environment variable holding a bearer token required on /api (none: open on localhost)"
    )
    # HTTP server limits (edge/api/server.py).
    max_connections: int = Field(
        256, ge=8, le=4096, description="open HTTP connections at most; beyond it idle keep-alive connections are "
        "closed to make room, else a new connection is closed at once (the gate's file handles stay free)"
    )
    header_timeout_s: float = Field(
        10.0, gt=0, le=300, description="a connection that has not sent a complete request head within this many "
        "seconds (from connecting, or from its previous response) is closed"
    )
    keepalive_timeout_s: float = Field(
        5.0, gt=0, le=300, description="an idle keep-alive connection is closed after this many seconds"
    )
    trusted_proxies: list[str] = Field(
        default_factory=list, description="addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For / "
        "X-Forwarded-Proto are believed (the client address of the login limiter and the logs); empty: the TCP "
        "peer is the client"
    )
    allowed_hosts: list[str] | None = Field(
        None, description="Host header values the API answers ('name', '*.domain', an IP address, '*' for any); "
        "others get 400. Default: localhost, any IP address, the bind name and the host of public_url"
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        import ipaddress

        for entry in v:
            try:
                ipaddress.ip_network(entry)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/24)") from None
        return v

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, v: list[str] | None) -> list[str] | None:
        import ipaddress
        import re

        for entry in v or []:
            e = entry.strip().strip("[]")
            if e == "*" or (":" not in e and re.fullmatch(r"(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?", e)):
                continue
            try:
                ipaddress.ip_address(e)
                continue
            except ValueError:
                pass
            raise ValueError(f"{entry!r}: give a host name, '*.domain', an IP address or '*' (no port, no scheme)")
        return v

    def token(self) -> str | None:
        return os.environ.get(self.token_env) if self.token_env else None
