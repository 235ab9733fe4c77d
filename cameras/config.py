"""A camera's settings in the gate's config: its source, role, lane, zones and calibration.

The cameras package owns this model (edge/config.py composes it), so opening a source needs nothing from
edge/. `check_quad` lives here, not in calibration/, because validating a config must not import OpenCV.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import numpy as np
from pydantic import Field, field_validator

from cameras.frame import CameraRole
from edge.domain.settings import StrictModel


def check_quad(points: Sequence[Sequence[float]], what: str = "rectify.src") -> np.ndarray:
    """(4, 2) float64 of a usable quadrilateral, or ValueError saying what is wrong.

    No three points may be (nearly) collinear: the homography would be singular
    or would blow a sliver up to the whole view.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape != (4, 2):
        raise ValueError(f"{what}: needs exactly 4 (x, y) points, got {len(points)}")
    if not np.all(np.isfinite(pts)):
        raise ValueError(f"{what}: points must be finite")
    scale = max(float(np.ptp(pts[:, 0])), float(np.ptp(pts[:, 1])), 1e-12)
    for i in range(4):
        a, b, c = pts[i], pts[(i + 1) % 4], pts[(i + 2) % 4]
        area2 = abs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))
        if area2 < 1e-3 * scale * scale:
            raise ValueError(f"{what}: points {i + 1}, {(i + 1) % 4 + 1}, {(i + 2) % 4 + 1} are (nearly) collinear")
    # Crossing edges (a "bow tie": points not in order around the quad) give a mirrored, folded view.
    d = np.diff(np.vstack([pts, pts[:1]]), axis=0)
    cross = d[:, 0] * np.roll(d[:, 1], -1) - d[:, 1] * np.roll(d[:, 0], -1)
    if not (np.all(cross > 0) or np.all(cross < 0)):
        raise ValueError(f"{what}: points must go around a convex quadrilateral "
                         "(top-left, top-right, bottom-right, bottom-left)")
    return pts


class RectifyConfig(StrictModel):
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
        check_quad(v, "src")
        return v


class CameraConfig(StrictModel):
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
