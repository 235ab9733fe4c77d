"""The gate's configuration: one YAML file validated with pydantic.

Unknown keys are errors (extra="forbid") and every error names the dotted path
of the offending key. Secrets never live in the file: the file names the
environment variables that hold them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cameras.frame import CameraRole
from edge.domain import commodities


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GateConfig(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    name: str = ""
    box: Annotated[str | None, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")] = Field(
        None, description="this lane box's id when a gate has several (the hub filters by it); default: the MQTT "
        "client id"
    )


class LaneConfig(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    direction: Literal["import", "export"]
    igv: bool = Field(
        False, description="the lane takes AI-IGVs (autonomous vehicles): only then may an external trigger carry a "
        "vehicle_id, which becomes the passage's identity; elsewhere such a trigger is refused"
    )


class RectifyConfig(_Strict):
    """Four raw-frame points of a rectangle on a plane, warped to an upright `size` view."""

    src: list[tuple[float, float]] = Field(
        description="top-left, top-right, bottom-right, bottom-left; normalised 0..1 or pixels"
    )
    size: tuple[Annotated[int, Field(ge=16, le=4096)], Annotated[int, Field(ge=16, le=4096)]] = Field(
        description="output view [width, height] in pixels"
    )

    @field_validator("src")
    @classmethod
    def _quad(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        from calibration.homography import check_quad  # lazy: only configs that rectify load OpenCV here

        check_quad(v, "src")
        return v


class CameraConfig(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    source: str = Field(description="video file, image folder, rtsp://, http(s)://, or usb:N")
    role: CameraRole
    lane: str
    fps: float = Field(10.0, gt=0, le=120)
    live: bool | None = Field(None, description="pace frames in real time; default: true for network/usb sources")
    start_time: str | None = Field(None, description="ISO-8601 UTC start time for file sources (replays)")
    reconnect_min_s: float = Field(0.5, gt=0, le=60, description="live sources: first retry delay after a failure")
    reconnect_max_s: float = Field(30.0, gt=0, le=600, description="live sources: cap of the exponential backoff")
    trigger: bool = Field(False, description="this camera's zone opens/closes passages (default: the plate cameras)")
    trigger_zone: list[tuple[float, float]] | None = Field(
        None, description="polygon, normalised 0..1 (x, y), watched for vehicles; default: the whole frame"
    )
    # Calibration (calibration/view.py). Zone and rectify points are in the raw frame as the camera
    # delivers it (the same image the trigger zone is drawn on), normalised 0..1 or pixels.
    intrinsics: str | None = Field(
        None, description="calibration file from `smartgate calibrate intrinsics`; relative to the config file"
    )
    read_zone: list[tuple[float, float]] | None = Field(
        None, description="polygon the readers look at (cropped, outside masked); default: the whole frame"
    )
    rectify: RectifyConfig | None = Field(
        None, description="fronto-parallel view of a plane (plate zone, container side) given to the readers"
    )
    exit_line: list[tuple[float, float]] | None = Field(
        None, description="trigger camera: two points (normalised 0..1 or pixels) of a line; a vehicle whose plate "
        "crosses it (from the side it was first seen on) has left and its passage closes; default: a vehicle "
        "leaves when its plate leaves the frame or is not seen for pipeline.track_lost_s"
    )

    @field_validator("exit_line")
    @classmethod
    def _line(cls, v: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        if v is not None and (len(v) != 2 or v[0] == v[1]):
            raise ValueError("a line needs two different points")
        return v

    @field_validator("trigger_zone", "read_zone")
    @classmethod
    def _polygon(cls, v: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        if v is not None and len(v) < 3:
            raise ValueError(f"a polygon needs at least 3 points, got {len(v)}")
        return v


class MqttConfig(_Strict):
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


class ApiConfig(_Strict):
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


class StorageConfig(_Strict):
    database: str = "var/smartgate.db"
    evidence_dir: str = "var/evidence"
    retention_days: int = Field(30, ge=1, description="evidence images older than this many days are deleted")
    evidence_max_mb: float | None = Field(
        None, gt=0, description="disk budget of the evidence images; the oldest are deleted beyond it (none: no cap)"
    )
    min_free_mb: float = Field(
        256, ge=0, description="below this much free disk no new evidence is saved and the oldest is deleted, "
        "so the verdicts (SQLite) keep room"
    )
    purge_interval_s: float = Field(300, gt=0, le=86400, description="how often retention runs")
    sink_backlog: int = Field(
        200, ge=1, le=100_000, description="closed passages that may wait in memory while storage fails; "
        "beyond it the lanes are held back (nothing is dropped)"
    )
    retry_min_s: float = Field(0.5, gt=0, le=60, description="first retry delay of a failing sink (doubles each try)")
    retry_max_s: float = Field(30, gt=0, le=3600, description="longest delay between retries of a failing sink")
    drain_timeout_s: float = Field(
        30, ge=0, le=3600, description="at shutdown, how long a failing sink is retried before the waiting "
        "passages are written to rescue files beside the database (stored at the next start)"
    )


class OcrConfig(_Strict):
    threads: int = Field(2, ge=1, le=64)


class PipelineConfig(_Strict):
    """How frames become passages."""

    read_every_n: int = Field(1, ge=1, description="run the readers on every Nth frame of a camera")
    container_every_n: int = Field(
        2, ge=1, description="read container codes on every Nth read frame (a code stays in view for seconds; "
        "a plate may not, so plates are read on every frame)"
    )
    enough_reads: int = Field(
        3, ge=0, description="stop reading a passage's plate (classifying its cargo) once this many confident reads "
        "agree; more frames would not change the vote (0: read every frame)"
    )
    cargo_text_every_n: int = Field(
        3, ge=1, description="OCR the cargo view for keywords on every Nth read frame (text detection is costly)"
    )
    motion_threshold: float = Field(
        0.03, ge=0, le=1, description="fraction of the zone that differs from the empty lane to count as a vehicle"
    )
    passage_gap_s: float = Field(0.5, gt=0, description="seconds with an empty trigger zone that close a passage")
    post_s: float = Field(
        2.0, ge=0, description="at most this many seconds the other cameras keep adding reads after a passage closes"
    )
    release_empty_s: float | None = Field(
        0.3, ge=0, description="decide once every camera of the lane has seen an empty zone this long, before "
        "post_s is over (the truck is gone: no read can come); null: always wait post_s"
    )
    max_passage_s: float = Field(120.0, gt=0)
    hazard_every_n: int = Field(
        2, ge=1, description="look for ADR panels on every Nth read frame of the plate and container cameras "
        "(a panel stays in view for seconds)"
    )
    cargo_every_n: int = Field(
        1, ge=1, description="classify the cargo on every Nth read frame of the cargo camera"
    )
    confirm_reads: int = Field(
        2, ge=0, description="a container code, ADR panel or cargo keyword read this many times in a passage is "
        "confirmed; while everything a reader has found is confirmed, it reads only every confirmed_every_n "
        "frames (0: never sparse)"
    )
    confirmed_every_n: int = Field(
        6, ge=1, description="cadence in frames of the container, hazard and cargo-text readers once their finds "
        "are confirmed (a new find makes them dense again); a multiple of their own cadences keeps them aligned"
    )
    novelty_threshold: float = Field(
        1.0, ge=0, description="a reader skips a camera's frame that differs from the last frame it read there "
        "by less than this mean grey level (0-255, on a 64×36 thumbnail): a stopped truck shows the same plate "
        "and code; 0: read every frame"
    )
    plate_det_max_side: int | None = Field(
        None, ge=160, le=4096, description="long side (px) of the plate reader's text detector input; "
        "null: the reader's default (960). Smaller is faster where plates are large in the frame"
    )
    container_det_max_side: int | None = Field(
        None, ge=160, le=4096, description="long side (px) of the container reader's text detector input; "
        "null: the reader's default (960). Smaller is faster where the code text is large in the frame"
    )
    # Vehicle-level segmentation (issue 18, edge/lane/tracks.py): a passage follows a vehicle, not the zone.
    warmup_s: float = Field(
        0.5, ge=0, le=60, description="start-up: the empty lane is learnt from frames spaced over this many seconds "
        "of a still scene with no plate in view (not from the first frame); until then occupancy opens no "
        "passage, and a vehicle whose plate is read within this time of the start was in view at start-up and "
        "gets no passage (a restart must not make a bogus or duplicate one). 0: the first frame is the lane"
    )
    track_vehicles: bool = Field(
        True, description="follow vehicles by their plate boxes on the trigger camera: each vehicle gets its own "
        "passage, closed when it leaves (exit line, frame edge, or track_lost_s unseen), also in a queue where "
        "the zone never empties; occupancy stays the fallback for a single vehicle in an empty lane"
    )
    track_lost_s: float = Field(
        1.0, gt=0, le=30, description="a vehicle track not seen (read or followed) for this long has left"
    )
    track_split_reads: int = Field(
        3, ge=2, le=20, description="this many reads in a row of another plate text where a vehicle stood make a "
        "new vehicle (a car pulled up where the one before stood); fewer are misreads of the old plate"
    )
    track_probe_every_n: int = Field(
        5, ge=0, description="while every vehicle in view is settled and followed (no plate reads), read the "
        "trigger camera on every Nth frame anyway to find a vehicle that came into view behind or beside them "
        "(0: only once the followed ones have left)"
    )
    plate_gate: bool = Field(
        True, description="before a full plate read that no unsettled vehicle asks for (an approaching truck, a "
        "lane being searched, a probe), run the text detector alone on a small copy and read only when it finds "
        "a plate-shaped line that is not a plate already followed"
    )
    handover_s: float = Field(
        1.0, ge=0, le=30, description="reads of the other cameras go to a passage that closed less than this many "
        "seconds before (its body still passes the side and top cameras) rather than to the next vehicle's"
    )
    absorb_still_s: float | None = Field(
        30.0, gt=0, description="a zone that looks occupied but has been perfectly still this long with no vehicle "
        "known in view is learnt as the empty lane (a background learnt with a vehicle in it); null: never"
    )


def _commodity(name: str) -> str:
    if not commodities.is_commodity(name):
        raise ValueError(f"unknown commodity {name!r}; known: {', '.join(commodities.COMMODITIES)}")
    return name


Commodity = Annotated[str, AfterValidator(_commodity)]


class PermittedConfig(_Strict):
    """Smart-lane goods per direction (domain.md §1); the defaults are Lào Cai's lists."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    import_: list[Commodity] = Field(
        default_factory=lambda: ["fertilizer", "coke", "chemicals", "electronics", "ecommerce", "agricultural"],
        alias="import",
    )
    export: list[Commodity] = Field(default_factory=lambda: ["agricultural", "electronics"])

    def for_direction(self, direction: str) -> list[str]:
        return list(self.import_ if direction == "import" else self.export)


class PolicyConfig(_Strict):
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


class DeclarationsConfig(_Strict):
    """Matching declarations (manifests) to passages (edge/decision/matching.py)."""

    match_window_h: float = Field(
        24.0, gt=0, le=24 * 30,
        description="prefer unmatched declarations received within this many hours before the passage",
    )


class HubLinkConfig(_Strict):
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


class Config(_Strict):
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


class ConfigError(Exception):
    """A config file that cannot be used; the message lists every problem with its key path."""


def _format_errors(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"  {path}: {msg}")
    return "\n".join(lines)


def parse_config(data: object, source: str = "<config>") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{source}: {e.error_count()} error(s)\n{_format_errors(e)}") from None


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
