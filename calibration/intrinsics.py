"""Camera intrinsics from checkerboard photos, and undistortion.

Gate cameras are wide-angle: barrel distortion bends plate lines and container
rows near the image edge, which the recogniser reads badly. One calibration per
camera model/lens (about 15 photos of a printed board) gives K and the
distortion coefficients; `Undistorter` turns them into remap tables once per
frame size, so each frame costs one `cv2.remap`.

Files are small JSON (or YAML by extension) so an installer can read and diff them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class CalibrationError(Exception):
    """Calibration cannot be done or a calibration file cannot be used; the message says why."""


def parse_board(text: str) -> tuple[int, int]:
    """"9x6" → (9, 6): inner corners per row × per column (OpenCV's convention, not squares)."""
    try:
        cols, rows = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise CalibrationError(f"board {text!r}: expected COLSxROWS of inner corners, e.g. 9x6") from None
    if cols < 2 or rows < 2:
        raise CalibrationError(f"board {text!r}: needs at least 2x2 inner corners")
    return cols, rows


def board_points(board: tuple[int, int], square_mm: float) -> np.ndarray:
    """(N, 3) float32 corner positions on the board plane (z = 0), millimetres, row-major like OpenCV."""
    cols, rows = board
    grid = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2).astype(np.float32) * np.float32(square_mm)
    return np.hstack([grid, np.zeros((len(grid), 1), np.float32)])


def find_corners(image: np.ndarray, board: tuple[int, int]) -> np.ndarray | None:
    """Sub-pixel inner corners (N, 1, 2) float32, or None when the whole board is not visible."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_FAST_CHECK
    ok, corners = cv2.findChessboardCorners(grey, board, flags=flags)
    if not ok or corners is None:
        return None
    # The search window scales with the image: ~1/100 of the short side, at least 5 px.
    win = max(5, min(grey.shape) // 100)
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-3)
    # (N, 1, 2) whatever the OpenCV version returns (5.x gives (N, 2)).
    return cv2.cornerSubPix(grey, corners, (win, win), (-1, -1), crit).reshape(-1, 1, 2)


@dataclass
class Intrinsics:
    """Pinhole camera matrix K and OpenCV distortion coefficients for frames of `image_size` (w, h)."""

    K: np.ndarray
    dist: np.ndarray
    image_size: tuple[int, int]
    rms_px: float | None = None  # reprojection error of the calibration (RMS over all corners)
    images_used: int | None = None
    per_image_px: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.K = np.asarray(self.K, dtype=np.float64).reshape(3, 3)
        self.dist = np.asarray(self.dist, dtype=np.float64).reshape(-1)
        self.image_size = (int(self.image_size[0]), int(self.image_size[1]))
        if self.dist.size not in (4, 5, 8, 12, 14):
            raise CalibrationError(f"distortion needs 4, 5, 8, 12 or 14 coefficients, got {self.dist.size}")
        if not np.all(np.isfinite(self.K)) or self.K[0, 0] <= 0 or self.K[1, 1] <= 0:
            raise CalibrationError("camera matrix K must be finite with positive focal lengths")

    def for_size(self, width: int, height: int) -> Intrinsics:
        """The same lens at another stream resolution (e.g. calibrated on 4K stills, run on the 720p substream).
        Only a uniform rescale is valid; a different aspect ratio means a crop we cannot know."""
        w0, h0 = self.image_size
        if (width, height) == (w0, h0):
            return self
        sx, sy = width / w0, height / h0
        if abs(sx - sy) > 0.01 * max(sx, sy):
            raise CalibrationError(
                f"calibrated for {w0}x{h0} but frames are {width}x{height}: a different aspect ratio "
                "(sensor crop) needs a new calibration at that resolution")
        K = self.K.copy()
        K[0, :] *= sx
        K[1, :] *= sy
        return Intrinsics(K, self.dist.copy(), (width, height), self.rms_px, self.images_used, list(self.per_image_px))

    # -- files ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, object]:
        return {
            "image_size": list(self.image_size),
            "K": [[round(float(v), 6) for v in row] for row in self.K],
            "dist": [round(float(v), 8) for v in self.dist],
            "rms_px": None if self.rms_px is None else round(float(self.rms_px), 4),
            "images_used": self.images_used,
            "per_image_px": [round(float(v), 4) for v in self.per_image_px],
        }

    @classmethod
    def from_dict(cls, d: dict[str, object], source: str = "<intrinsics>") -> Intrinsics:
        try:
            return cls(
                K=np.asarray(d["K"], dtype=np.float64),
                dist=np.asarray(d["dist"], dtype=np.float64),
                image_size=tuple(d["image_size"]),  # type: ignore[arg-type]
                rms_px=d.get("rms_px"),  # type: ignore[arg-type]
                images_used=d.get("images_used"),  # type: ignore[arg-type]
                per_image_px=list(d.get("per_image_px") or []),  # type: ignore[call-overload]
            )
        except (KeyError, TypeError, ValueError) as e:
            raise CalibrationError(f"{source}: not an intrinsics file ({type(e).__name__}: {e})") from None

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")
        else:
            path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Intrinsics:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise CalibrationError(f"{path}: cannot read: {e.strerror}") from None
        import yaml  # YAML is a superset of JSON: one parser for both

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise CalibrationError(f"{path}: not valid JSON/YAML: {e}") from None
        if not isinstance(data, dict):
            raise CalibrationError(f"{path}: not an intrinsics file (top level is not a mapping)")
        return cls.from_dict(data, str(path))


def calibrate(images: Iterable[np.ndarray], board: tuple[int, int], square_mm: float,
              names: Sequence[str] | None = None) -> Intrinsics:
    """Calibrate from photos of a checkerboard. Raises CalibrationError when too few images show the board."""
    obj = board_points(board, square_mm)
    obj_pts: list[np.ndarray] = []
    img_pts: list[np.ndarray] = []
    size: tuple[int, int] | None = None
    total = 0
    for i, img in enumerate(images):
        total += 1
        name = names[i] if names else f"image {i}"
        h, w = img.shape[:2]
        if size is None:
            size = (w, h)
        elif (w, h) != size:
            raise CalibrationError(f"{name}: {w}x{h} differs from the first image's {size[0]}x{size[1]}; "
                                   "take every photo at the stream's resolution")
        corners = find_corners(img, board)
        if corners is not None:
            obj_pts.append(obj)
            img_pts.append(corners)
    board_txt = f"{board[0]}x{board[1]}"
    if len(img_pts) < 3:
        raise CalibrationError(
            f"checkerboard {board_txt} (inner corners) found in {len(img_pts)} of {total} image(s); "
            "need at least 3 (10-20 recommended). Check --board counts inner corners, not squares, "
            "and that the whole board is in view")
    assert size is not None
    # Five coefficients (k1, k2, p1, p2, k3): enough for the 90-120° lenses used at gates; the
    # rational model over-fits 15 photos.
    rms, K, dist, rvecs, tvecs = cv2.calibrateCamera(obj_pts, img_pts, size, None, None)
    per_image = []
    for o, p, r, t in zip(obj_pts, img_pts, rvecs, tvecs, strict=True):
        proj, _ = cv2.projectPoints(o, r, t, K, dist)
        err = proj.reshape(-1, 2) - p.reshape(-1, 2)
        per_image.append(float(np.sqrt(np.mean(np.sum(err**2, axis=1)))))
    return Intrinsics(K, dist, size, float(rms), len(img_pts), per_image)


def image_files(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise CalibrationError(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise CalibrationError(f"{folder}: no images ({', '.join(IMAGE_EXTS)})")
    return files


CALIBRATION_MAX_PIXELS = 100_000_000  # checkerboard photos may come from a DSLR, not only the camera


def calibrate_folder(folder: str | Path, board: tuple[int, int], square_mm: float) -> tuple[Intrinsics, list[Path]]:
    """Calibrate from every image in `folder`; returns the result and the files in the order used."""
    from cameras.imageio import ImageError, load_image

    files = image_files(folder)

    def load() -> Iterable[np.ndarray]:
        for f in files:
            try:  # regular files, header-checked before decoding (cameras/imageio.py)
                yield load_image(f, max_pixels=CALIBRATION_MAX_PIXELS)
            except ImageError as e:
                raise CalibrationError(str(e)) from None

    return calibrate(load(), board, square_mm, [str(f) for f in files]), files


class Undistorter:
    """Remaps frames to the undistorted pinhole image, with tables built once per frame size.

    `alpha` is OpenCV's free-scaling parameter: 0 keeps only valid pixels (the
    bent border is cropped off and the image zoomed), 1 keeps every source
    pixel (black corners). 0 is right for reading: no black wedges for the
    text detector to trip on.
    """

    def __init__(self, intrinsics: Intrinsics, alpha: float = 0.0) -> None:
        self.intrinsics = intrinsics
        self.alpha = alpha
        self._size: tuple[int, int] | None = None
        self._maps: tuple[np.ndarray, np.ndarray] | None = None
        self._K: np.ndarray | None = None
        self._new_K: np.ndarray | None = None
        self._dist: np.ndarray | None = None

    def _prepare(self, size: tuple[int, int]) -> None:
        intr = self.intrinsics.for_size(*size)
        new_K, _ = cv2.getOptimalNewCameraMatrix(intr.K, intr.dist, size, self.alpha, size)
        self._maps = cv2.initUndistortRectifyMap(intr.K, intr.dist, None, new_K, size, cv2.CV_16SC2)
        self._K, self._new_K, self._dist, self._size = intr.K, new_K, intr.dist, size

    def camera(self, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(K, dist, new_K) for frames of `size` (w, h): new_K is the camera of the undistorted image."""
        if size != self._size:
            self._prepare(size)
        assert self._K is not None and self._dist is not None and self._new_K is not None
        return self._K, self._dist, self._new_K

    def __call__(self, image: np.ndarray) -> np.ndarray:
        size = (int(image.shape[1]), int(image.shape[0]))
        if size != self._size:
            self._prepare(size)
        assert self._maps is not None
        return cv2.remap(image, self._maps[0], self._maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def undistort_points(self, pts: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Raw-frame pixels (N, 2) → pixels of the undistorted image."""
        K, dist, new_K = self.camera(size)
        return undistort_pixels(pts, K, dist, new_K)

    def distort_points(self, pts: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Pixels of the undistorted image (N, 2) → raw-frame pixels."""
        K, dist, new_K = self.camera(size)
        return distort_pixels(pts, new_K, K, dist)


# The default 5 iterations leave ~1 px error in the corners of a strongly distorted wide-angle frame.
_UNDISTORT_CRIT = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-9)


def undistort_pixels(pts: np.ndarray, K: np.ndarray, dist: np.ndarray, new_K: np.ndarray) -> np.ndarray:
    """Raw pixels of the real lens (K, dist) → ideal pixels of camera `new_K`."""
    p = np.asarray(pts, np.float64).reshape(-1, 1, 2)
    return cv2.undistortPoints(p, K, dist, P=new_K, criteria=_UNDISTORT_CRIT).reshape(-1, 2)


def distort_pixels(pts: np.ndarray, new_K: np.ndarray, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Ideal pixels of camera `new_K` → where the real lens (K, dist) images the same rays."""
    p = np.asarray(pts, np.float64).reshape(-1, 2)
    ones = np.ones((len(p), 1))
    rays = np.hstack([p, ones]) @ np.linalg.inv(new_K).T  # z = 1 normalised coordinates
    out, _ = cv2.projectPoints(rays.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), K, dist)
    return out.reshape(-1, 2)


def fov_deg(intr: Intrinsics) -> tuple[float, float]:
    """Horizontal and vertical field of view of the pinhole model, degrees (for the report)."""
    w, h = intr.image_size
    return (2 * math.degrees(math.atan(w / (2 * intr.K[0, 0]))), 2 * math.degrees(math.atan(h / (2 * intr.K[1, 1]))))
