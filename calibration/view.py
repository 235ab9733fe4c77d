"""What a reader sees of one camera: undistorted, cropped to the read zone or rectified.

Everything the config asks for (lens undistortion, read-zone crop, a
fronto-parallel view of a plane) is folded into ONE remap table per frame size:
for every pixel of the output view we precompute where it comes from in the raw
frame (view → homography or crop offset → ideal pinhole pixel → real lens).
A frame then costs one `cv2.remap` the size of the *view*, never a full-frame
undistortion followed by a warp (two interpolations, and work on pixels the
readers never look at).

All configured points (read zone, rectify quad) are in raw-frame pixels or
normalised raw-frame coordinates: the installer clicks them on a snapshot from
the camera, the same image the trigger zone is drawn on. Reads come back in
view coordinates; `box_to_frame` maps them to the raw frame for evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from calibration.homography import apply, check_quad, rect_corners
from calibration.intrinsics import Intrinsics, Undistorter, distort_pixels
from calibration.zones import Polygon

if TYPE_CHECKING:
    from cameras.config import CameraConfig
    from edge.domain.types import Box

ViewKind = Literal["frame", "undistorted", "zone", "rectified"]
FILL = (114, 114, 114)  # outside the read zone: flat mid grey, no edges for the text detector


@dataclass
class _Geometry:
    """Everything that depends on the frame size, built on the first frame of that size."""

    frame_size: tuple[int, int]  # (w, h) raw
    out_size: tuple[int, int]  # (w, h) view
    Hv: np.ndarray  # view pixel → ideal (undistorted) frame pixel
    K: np.ndarray | None  # real lens, or None without intrinsics
    dist: np.ndarray | None
    new_K: np.ndarray | None  # camera of the ideal image
    maps: tuple[np.ndarray, np.ndarray] | None  # fixed-point remap tables; None: plain crop, no interpolation
    crop: tuple[int, int, int, int] | None  # x0, y0, x1, y1 for the no-intrinsics zone crop
    outside: np.ndarray | None  # uint8 (h, w) of the view: nonzero where the read zone is not
    fill: np.ndarray | None = None  # FILL image of the view's shape, made on first use


class CameraView:
    """Turns raw frames of one camera into the view its reader gets.

    `kind`: "frame" (nothing configured: the frame itself, no copy), "undistorted",
    "zone" (bbox of the read zone, pixels outside it filled grey) or "rectified".
    When both a read zone and a rectify quad are set, the rectified view wins: the
    quad already bounds what is read.
    """

    def __init__(
        self,
        intrinsics: Intrinsics | None = None,
        read_zone: Polygon | Sequence[Sequence[float]] | None = None,
        rectify_src: Polygon | Sequence[Sequence[float]] | None = None,
        rectify_size: tuple[int, int] | None = None,
        *,
        alpha: float = 0.0,
        mask_outside: bool = True,
        name: str = "",
    ) -> None:
        if read_zone is not None and not isinstance(read_zone, Polygon):
            read_zone = Polygon.from_points(read_zone)
        if rectify_src is not None:
            if not isinstance(rectify_src, Polygon):
                rectify_src = Polygon.from_points(rectify_src)
            check_quad(rectify_src.points, "rectify.src")
            if rectify_size is None:
                raise ValueError("rectify needs an output size (w, h)")
        self.intrinsics = intrinsics
        self.read_zone: Polygon | None = read_zone
        self.rectify_src: Polygon | None = rectify_src
        self.rectify_size = (int(rectify_size[0]), int(rectify_size[1])) if rectify_size else None
        self.mask_outside = mask_outside
        self.name = name
        self._undist = Undistorter(intrinsics, alpha) if intrinsics is not None else None
        self._geo: _Geometry | None = None

    @classmethod
    def from_config(cls, cam: CameraConfig) -> CameraView:
        """Build from a camera's config; loads its intrinsics file (CalibrationError if unusable)."""
        intr = Intrinsics.load(cam.intrinsics) if cam.intrinsics else None
        rect = cam.rectify
        return cls(
            intrinsics=intr,
            read_zone=cam.read_zone,
            rectify_src=rect.src if rect else None,
            rectify_size=tuple(rect.size) if rect else None,  # type: ignore[arg-type]
            name=cam.name,
        )

    @property
    def kind(self) -> ViewKind:
        if self.rectify_src is not None:
            return "rectified"
        if self.read_zone is not None:
            return "zone"
        return "undistorted" if self.intrinsics is not None else "frame"

    @property
    def identity(self) -> bool:
        return self.kind == "frame"

    # -- geometry ---------------------------------------------------------------------------------------
    def geometry(self, shape: Sequence[int]) -> _Geometry:
        size = (int(shape[1]), int(shape[0]))
        if self._geo is None or self._geo.frame_size != size:
            self._geo = self._build(size)
        return self._geo

    def _ideal(self, pts: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Raw-frame pixels → ideal pinhole pixels (identity without intrinsics)."""
        return self._undist.undistort_points(pts, size) if self._undist is not None else np.asarray(pts, np.float64)

    def _build(self, size: tuple[int, int]) -> _Geometry:
        w, h = size
        shape = (h, w)
        K = dist = new_K = None
        if self._undist is not None:
            K, dist, new_K = self._undist.camera(size)
        outside = None
        crop = None
        if self.rectify_src is not None:
            assert self.rectify_size is not None
            src = self._ideal(self.rectify_src.pixels(shape), size)
            out = self.rectify_size
            Hv = np.linalg.inv(cv2.getPerspectiveTransform(src.astype(np.float32),
                                                           rect_corners(out).astype(np.float32)).astype(np.float64))
        elif self.read_zone is not None:
            # Densify the edges before undistorting: a straight edge in the raw frame is a curve in the ideal one.
            poly = _densify(self.read_zone.pixels(shape), 16)
            ideal = self._ideal(poly, size)
            if self._undist is None:
                ideal = np.clip(ideal, 0, [w, h])
            x0, y0 = np.floor(ideal.min(axis=0)).astype(int)
            x1, y1 = np.ceil(ideal.max(axis=0)).astype(int)
            if self._undist is None:
                x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if x1 - x0 < 2 or y1 - y0 < 2:
                raise ValueError(f"camera {self.name!r}: read zone lies outside the {w}x{h} frame")
            out = (int(x1 - x0), int(y1 - y0))
            Hv = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], dtype=np.float64)
            if self._undist is None:
                crop = (int(x0), int(y0), int(x1), int(y1))
            if self.mask_outside:
                m = np.zeros((out[1], out[0]), np.uint8)
                cv2.fillPoly(m, [np.round(ideal - [x0, y0]).astype(np.int32)], 255)
                outside = m == 0 if not m.all() else None
        else:
            out = size
            Hv = np.eye(3)
        maps = None
        if crop is None and not (self._undist is None and self.rectify_src is None):
            maps = self._maps(Hv, out, K, dist, new_K)
        return _Geometry(size, out, Hv, K, dist, new_K, maps, crop, outside.astype(np.uint8) if outside is not None
                         else None)

    @staticmethod
    def _maps(Hv: np.ndarray, out: tuple[int, int], K: np.ndarray | None, dist: np.ndarray | None,
              new_K: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Remap tables view pixel → raw pixel. The lens model is evaluated on a coarse grid and
        interpolated: the map is smooth (error ≪ 0.01 px), and the exact model on every pixel of a 720p
        view takes seconds on a busy edge CPU."""
        step = 1 if K is None else 4  # a pure homography is exact and cheap on every pixel
        gw, gh = (out[0] - 1) // step + 2, (out[1] - 1) // step + 2  # grid covers the last pixel
        gx, gy = np.meshgrid(np.arange(gw, dtype=np.float64) * step, np.arange(gh, dtype=np.float64) * step)
        src = apply(Hv, np.stack([gx.ravel(), gy.ravel()], axis=1))
        if K is not None:
            src = distort_pixels(src, new_K, K, dist)  # type: ignore[arg-type]
        grid = src.reshape(gh, gw, 2).astype(np.float32)
        if step == 1:
            full = grid[: out[1], : out[0]]
        else:
            fx, fy = np.meshgrid(np.arange(out[0], dtype=np.float32) / step, np.arange(out[1], dtype=np.float32) / step)
            full = cv2.remap(grid, fx, fy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return cv2.convertMaps(np.ascontiguousarray(full[..., 0]), np.ascontiguousarray(full[..., 1]),
                               cv2.CV_16SC2)

    # -- frames -----------------------------------------------------------------------------------------
    def prepare(self, image: np.ndarray) -> np.ndarray:
        """The reader's view of one raw frame (BGR or grey). Returns `image` itself when nothing is configured."""
        if self.identity:
            return image
        g = self.geometry(image.shape)
        if g.crop is not None:
            x0, y0, x1, y1 = g.crop
            view = image[y0:y1, x0:x1]
            view = view.copy() if g.outside is not None else view
        else:
            assert g.maps is not None
            view = cv2.remap(image, g.maps[0], g.maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=FILL)
        if g.outside is not None:
            if g.fill is None or g.fill.shape != view.shape:
                g.fill = np.full(view.shape, FILL if view.ndim == 3 else FILL[0], np.uint8)
            cv2.copyTo(g.fill, g.outside, view)
        return view

    # -- coordinates ------------------------------------------------------------------------------------
    def to_frame(self, pts: np.ndarray, shape: Sequence[int]) -> np.ndarray:
        """View pixels (N, 2) → raw-frame pixels."""
        g = self.geometry(shape)
        ideal = apply(g.Hv, pts)
        if g.K is None:
            return ideal
        return distort_pixels(ideal, g.new_K, g.K, g.dist)  # type: ignore[arg-type]

    def to_view(self, pts: np.ndarray, shape: Sequence[int]) -> np.ndarray:
        """Raw-frame pixels (N, 2) → view pixels."""
        g = self.geometry(shape)
        return apply(np.linalg.inv(g.Hv), self._ideal(np.asarray(pts, np.float64).reshape(-1, 2), g.frame_size))

    def quad_in_frame(self, shape: Sequence[int]) -> np.ndarray:
        """Outline of the view in raw-frame pixels (densified: lens curvature shows), for drawing."""
        g = self.geometry(shape)
        return self.to_frame(_densify(rect_corners(g.out_size), 24), shape)

    def box_to_frame(self, box: Box | None, shape: Sequence[int]) -> Box | None:
        """A reader's box in view pixels → the axis-aligned box around it in the raw frame (clipped)."""
        if box is None or self.identity:
            return box
        from edge.domain.types import Box

        corners = rect_corners((box.w, box.h)) + [box.x, box.y]
        p = self.to_frame(_densify(corners, 4), shape)
        h, w = int(shape[0]), int(shape[1])
        x0, y0 = np.clip(np.floor(p.min(axis=0)), 0, [w, h]).astype(int)
        x1, y1 = np.clip(np.ceil(p.max(axis=0)), 0, [w, h]).astype(int)
        return Box(x=int(x0), y=int(y0), w=int(max(0, x1 - x0)), h=int(max(0, y1 - y0)))


def _densify(poly: np.ndarray, per_edge: int) -> np.ndarray:
    """Closed polygon (N, 2) → N * per_edge points along its edges."""
    p = np.asarray(poly, np.float64).reshape(-1, 2)
    q = np.roll(p, -1, axis=0)
    t = (np.arange(per_edge, dtype=np.float64) / per_edge)[None, :, None]
    return (p[:, None, :] + (q - p)[:, None, :] * t).reshape(-1, 2)
