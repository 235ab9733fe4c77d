"""One PNG that shows an installer what a camera's calibration does, for boxes without a screen.

Left: the raw frame with the trigger zone (orange), the read zone (green) and
the rectify quad (magenta, corners numbered 1-4 in the order the config wants
them) plus the outline of what the reader gets (cyan; lens curvature shows).
Right: the reader's view itself, and under it the undistorted frame when the
camera has intrinsics.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from calibration.view import CameraView
from calibration.zones import Polygon

if TYPE_CHECKING:
    from cameras.config import CameraConfig

ORANGE, GREEN, MAGENTA, CYAN, WHITE = (0, 140, 255), (60, 220, 60), (220, 60, 220), (230, 220, 40), (255, 255, 255)


def _label(img: np.ndarray, text: str, org: tuple[int, int], color: tuple[int, int, int], scale: float) -> None:
    th = max(1, int(round(2 * scale)))
    (tw, tht), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, th)
    x, y = org
    cv2.rectangle(img, (x - 3, y - tht - 4), (x + tw + 3, y + base + 1), (0, 0, 0), -1)  # legible on any scene
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, th, cv2.LINE_AA)


def _poly(img: np.ndarray, pts: np.ndarray, color: tuple[int, int, int], width: int, closed: bool = True) -> None:
    cv2.polylines(img, [np.round(pts).astype(np.int32).reshape(-1, 1, 2)], closed, color, width, cv2.LINE_AA)


def _fit(img: np.ndarray, w: int, h: int) -> np.ndarray:
    """Scale to fit within w×h (up or down) keeping the aspect ratio; BGR."""
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    k = min(w / img.shape[1], h / img.shape[0])
    size = (max(1, int(img.shape[1] * k)), max(1, int(img.shape[0] * k)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)


def render_preview(frame: np.ndarray, view: CameraView, trigger_zone: Polygon | None = None,
                   title: str = "") -> np.ndarray:
    """The annotated frame and the reader's view side by side (BGR image)."""
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    h, w = frame.shape[:2]
    s = max(0.5, h / 720)
    lw = max(2, int(round(2 * s)))
    left = frame.copy()
    if trigger_zone is not None:
        _poly(left, trigger_zone.pixels(frame.shape), ORANGE, lw)
        x, y = trigger_zone.pixels(frame.shape).min(axis=0)
        _label(left, "trigger", (int(x) + 6, int(y) + int(26 * s)), ORANGE, 0.7 * s)
    if view.read_zone is not None:
        pts = view.read_zone.pixels(frame.shape)
        _poly(left, pts, GREEN, lw)
        _label(left, "read zone", (int(pts[:, 0].min()) + 6, int(pts[:, 1].max()) - int(8 * s)), GREEN, 0.7 * s)
    if view.rectify_src is not None:
        pts = view.rectify_src.pixels(frame.shape)
        _poly(left, pts, MAGENTA, lw)
        for i, (x, y) in enumerate(pts):
            cv2.circle(left, (int(round(x)), int(round(y))), 3 * lw, MAGENTA, -1, cv2.LINE_AA)
            _label(left, str(i + 1), (int(x) + 4 * lw, int(y) - 2 * lw), MAGENTA, 0.8 * s)
    prepared = view.prepare(frame)
    if not view.identity:
        _poly(left, view.quad_in_frame(frame.shape), CYAN, max(1, lw // 2))
    caption = f"{title}  view: {view.kind} {prepared.shape[1]}x{prepared.shape[0]}".strip()
    if view.intrinsics is not None and view.intrinsics.rms_px is not None:
        caption += f"  (calibration rms {view.intrinsics.rms_px:.2f} px)"
    _label(left, caption, (int(10 * s), h - int(14 * s)), WHITE, 0.6 * s)

    right_w = w // 2
    panels = [_fit(prepared, right_w, h // 2 if view.intrinsics is not None else h)]
    if view.intrinsics is not None and view.kind != "undistorted":
        from calibration.intrinsics import Undistorter

        und = Undistorter(view.intrinsics)(frame)
        panels.append(_fit(und, right_w, h - panels[0].shape[0]))
    right = np.zeros((h, right_w, 3), np.uint8)
    y = 0
    for i, p in enumerate(panels):
        ph, pw = p.shape[:2]
        right[y:y + ph, :pw] = p
        _label(right, "reader view" if i == 0 else "undistorted frame", (8, y + int(24 * s)), CYAN, 0.6 * s)
        y += ph
    return np.hstack([left, right])


def write_preview(cam: CameraConfig, frame: np.ndarray, out: str | Path) -> tuple[int, int]:
    """Render the preview of camera `cam` on `frame` into a PNG; returns the PNG's (w, h)."""
    view = CameraView.from_config(cam)
    tz = Polygon.from_points(cam.trigger_zone) if cam.trigger_zone else None
    img = render_preview(frame, view, tz, title=cam.name)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), img):
        raise OSError(f"{out}: cannot write PNG")
    return img.shape[1], img.shape[0]
