"""`smartgate calibrate …`: intrinsics from checkerboard photos, and a preview PNG of a camera's zones.

Imports nothing heavy at module level: edge/cli.py builds this parser for every command.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def _err(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def _intrinsics(args: argparse.Namespace) -> int:
    import numpy as np

    from calibration.intrinsics import CalibrationError, calibrate_folder, fov_deg, parse_board

    try:
        board = parse_board(args.board)
        if args.square_mm <= 0:
            raise CalibrationError(f"--square-mm must be positive, got {args.square_mm}")
        intr, files = calibrate_folder(args.images, board, args.square_mm)
        intr.save(args.out)
    except (CalibrationError, OSError) as e:
        return _err(str(e))
    w, h = intr.image_size
    fx, fy = fov_deg(intr)
    print(f"{args.out}: {w}x{h}, board {board[0]}x{board[1]} found in {intr.images_used} of {len(files)} image(s)")
    print(f"reprojection error (RMS): {intr.rms_px:.3f} px; field of view {fx:.0f}°x{fy:.0f}°")
    print("K = " + np.array2string(intr.K, precision=2, suppress_small=True).replace("\n", "\n    "))
    print("dist (k1 k2 p1 p2 k3) = " + " ".join(f"{v:.5f}" for v in intr.dist))
    worst = sorted(zip(intr.per_image_px, range(len(intr.per_image_px)), strict=True), reverse=True)[:3]
    print("worst images (px): " + ", ".join(f"#{i + 1} {e:.3f}" for e, i in worst))
    if intr.rms_px is not None and intr.rms_px > 1.0:
        print("warning: RMS above 1 px — retake blurred or partly hidden photos, or check --board/--square-mm",
              file=sys.stderr)
    return 0


def _first_frame(cam: object) -> np.ndarray:
    from cameras.factory import open_source

    src = open_source(cam)  # type: ignore[arg-type]
    try:
        for frame in src.frames():
            return frame.image
    finally:
        src.close()
    raise OSError(f"camera {getattr(cam, 'name', '?')!r}: source delivered no frame")


def _preview(args: argparse.Namespace) -> int:
    from calibration.intrinsics import CALIBRATION_MAX_PIXELS, CalibrationError
    from calibration.preview import write_preview
    from cameras.base import CameraError
    from cameras.imageio import ImageError, load_image
    from edge.config import ConfigError, load_config

    try:
        cfg = load_config(args.config)
    except ConfigError as e:
        return _err(str(e))
    cam = next((c for c in cfg.cameras if c.name == args.camera), None)
    if cam is None:
        return _err(f"{args.config}: no camera {args.camera!r} (cameras: {', '.join(c.name for c in cfg.cameras)})")
    try:
        if args.frame:
            try:
                frame = load_image(args.frame, max_pixels=CALIBRATION_MAX_PIXELS)
            except ImageError as e:
                return _err(str(e))
        else:
            frame = _first_frame(cam)
        w, h = write_preview(cam, frame, args.out)
    except (CalibrationError, CameraError, OSError, ValueError) as e:
        return _err(str(e))
    print(f"{args.out}: {w}x{h} preview of camera {cam.name}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `calibrate` subcommand tree (called by edge/cli.py)."""
    cal = sub.add_parser("calibrate", help="camera calibration: intrinsics, zone preview")
    cs = cal.add_subparsers(dest="calibrate_command", required=True)
    it = cs.add_parser("intrinsics", help="lens intrinsics from checkerboard photos")
    it.add_argument("--images", required=True, help="folder of checkerboard photos (10-20, whole board visible)")
    it.add_argument("--board", default="9x6", help="inner corners COLSxROWS (default 9x6)")
    it.add_argument("--square-mm", type=float, default=25.0, help="printed square size in mm (default 25)")
    it.add_argument("--out", required=True, help="calibration file to write (.json, or .yaml)")
    pv = cs.add_parser("preview", help="draw a camera's zones and reader view into a PNG")
    pv.add_argument("--config", required=True, help="YAML config file")
    pv.add_argument("--camera", required=True, help="camera name in the config")
    pv.add_argument("--frame", help="image to draw on (default: the first frame of the camera's source)")
    pv.add_argument("--out", required=True, help="PNG to write")


def main_calibrate(args: argparse.Namespace) -> int:
    if args.calibrate_command == "intrinsics":
        return _intrinsics(args)
    if args.calibrate_command == "preview":
        return _preview(args)
    return 1
