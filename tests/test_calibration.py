"""Calibration: intrinsics round trip on a synthetic lens, rectified views, zones, preview, CLI, pipeline use."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from calibration.homography import apply, check_quad, rectify, rectifying_homography
from calibration.intrinsics import (
    CalibrationError,
    Intrinsics,
    Undistorter,
    calibrate,
    find_corners,
    parse_board,
)
from calibration.preview import write_preview
from calibration.synthetic import checkerboard, distort, render_board
from calibration.view import FILL, CameraView
from edge.cli import main as cli_main
from edge.config import ConfigError, load_config, parse_config

SIZE = (640, 480)
K_TRUE = np.array([[520.0, 0, 322.0], [0, 518.0, 236.0], [0, 0, 1]])
DIST_TRUE = np.array([-0.28, 0.09, 0.0008, -0.0005, 0.0])  # a wide-angle barrel lens
BOARD = (9, 6)
SQUARE_MM = 25.0
SQUARE_PX = 20  # texture resolution of the printed board


def board_photos(n: int, seed: int = 3) -> list[np.ndarray]:
    """n photos of the board at random tilts (±28°), distances and positions across the frame, with sensor noise."""
    tex = checkerboard(BOARD, SQUARE_PX)
    rng = np.random.default_rng(seed)
    centre = np.array([SQUARE_MM * (BOARD[0] - 1) / 2, SQUARE_MM * (BOARD[1] - 1) / 2, 0.0])
    out = []
    for _ in range(n):
        ang = np.radians([rng.uniform(-28, 28), rng.uniform(-28, 28), rng.uniform(-15, 15)])
        R, _ = cv2.Rodrigues(ang)
        z = rng.uniform(380, 520)
        pos = np.array([rng.uniform(-0.35, 0.35) * z * SIZE[0] / 520, rng.uniform(-0.3, 0.3) * z * SIZE[1] / 520, z])
        img = render_board(tex, SQUARE_PX / SQUARE_MM, (2 * SQUARE_PX, 2 * SQUARE_PX), K_TRUE, DIST_TRUE, ang,
                           pos - R @ centre, SIZE)
        out.append(cv2.add(img, rng.normal(0, 2.0, img.shape).astype(np.int16), dtype=cv2.CV_8U))
    return out


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    return board_photos(12)


@pytest.fixture(scope="module")
def calibrated(photos: list[np.ndarray]) -> Intrinsics:
    return calibrate(photos, BOARD, SQUARE_MM)


def homography_residual(pts: np.ndarray) -> float:
    """RMS px of the best homography from the board grid to `pts`: 0 for a pinhole image of a plane."""
    grid = np.mgrid[0:BOARD[0], 0:BOARD[1]].T.reshape(-1, 2).astype(np.float64)
    H, _ = cv2.findHomography(grid, pts.reshape(-1, 2), 0)
    return float(np.sqrt(np.mean(np.sum((apply(H, grid) - pts.reshape(-1, 2)) ** 2, axis=1))))


# -- intrinsics ---------------------------------------------------------------------------------------------


def test_round_trip_recovers_the_lens(calibrated: Intrinsics) -> None:
    assert calibrated.rms_px is not None and calibrated.rms_px < 0.5
    assert calibrated.images_used is not None and calibrated.images_used >= 10
    assert calibrated.image_size == SIZE
    np.testing.assert_allclose(np.diag(calibrated.K)[:2], np.diag(K_TRUE)[:2], rtol=0.01)
    np.testing.assert_allclose(calibrated.K[:2, 2], K_TRUE[:2, 2], atol=3.0)
    assert abs(calibrated.dist[0] - DIST_TRUE[0]) < 0.02  # k1
    assert abs(calibrated.dist[1] - DIST_TRUE[1]) < 0.05  # k2 (correlates with k3)
    np.testing.assert_allclose(calibrated.dist[2:4], DIST_TRUE[2:4], atol=0.002)  # tangential


def test_undistortion_straightens_the_board(photos: list[np.ndarray], calibrated: Intrinsics) -> None:
    """The board's corners lie on a homography of the grid only once the lens is undone."""
    und = Undistorter(calibrated)
    img = photos[2]  # board in a corner of the frame, where the barrel bends it most
    raw = find_corners(img, BOARD)
    fixed = find_corners(und(img), BOARD)
    assert raw is not None and fixed is not None
    assert homography_residual(raw) > 0.5
    assert homography_residual(fixed) < 0.1
    assert max(calibrated.per_image_px) < 0.5
    # Point mapping agrees with the image remap.
    np.testing.assert_allclose(und.undistort_points(raw.reshape(-1, 2), SIZE), fixed.reshape(-1, 2), atol=0.3)
    np.testing.assert_allclose(und.distort_points(und.undistort_points(raw.reshape(-1, 2), SIZE), SIZE),
                               raw.reshape(-1, 2), atol=1e-3)


def test_intrinsics_file_round_trip_and_resolution(tmp_path: Path, calibrated: Intrinsics) -> None:
    for name in ("cam.json", "cam.yaml"):
        calibrated.save(tmp_path / name)
        back = Intrinsics.load(tmp_path / name)
        np.testing.assert_allclose(back.K, calibrated.K, atol=1e-5)
        np.testing.assert_allclose(back.dist, calibrated.dist, atol=1e-7)
        assert back.image_size == SIZE and back.rms_px == pytest.approx(calibrated.rms_px, abs=1e-4)
    double = calibrated.for_size(1280, 960)
    np.testing.assert_allclose(double.K[:2], calibrated.K[:2] * 2)
    with pytest.raises(CalibrationError, match="aspect ratio"):
        calibrated.for_size(1280, 720)
    (tmp_path / "bad.json").write_text(json.dumps({"K": [[1, 0, 0]]}))
    with pytest.raises(CalibrationError, match="not an intrinsics file"):
        Intrinsics.load(tmp_path / "bad.json")


def test_too_few_boards_names_the_count() -> None:
    blank = [np.full((480, 640), 128, np.uint8)] * 3
    with pytest.raises(CalibrationError, match=r"found in 0 of 3 image"):
        calibrate(blank, BOARD, SQUARE_MM)
    assert parse_board("9x6") == (9, 6)
    with pytest.raises(CalibrationError, match="COLSxROWS"):
        parse_board("nine")


def test_cli_intrinsics(tmp_path: Path, photos: list[np.ndarray], capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "shots"
    folder.mkdir()
    for i, img in enumerate(photos[:8]):
        cv2.imwrite(str(folder / f"{i:02d}.png"), img)
    out = tmp_path / "lens.json"
    rc = cli_main(["calibrate", "intrinsics", "--images", str(folder), "--board", "9x6", "--square-mm", "25",
                   "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "reprojection error (RMS)" in text
    intr = Intrinsics.load(out)
    assert intr.rms_px is not None and intr.rms_px < 0.5
    # Wrong board size: no image has a 7x5 board... nor the right count of corners; the message says how many.
    rc = cli_main(["calibrate", "intrinsics", "--images", str(folder), "--board", "7x4", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "found in 0 of 8 image(s)" in err and "inner corners" in err
    rc = cli_main(["calibrate", "intrinsics", "--images", str(tmp_path / "nope"), "--out", str(out)])
    assert rc == 2 and "not a folder" in capsys.readouterr().err


# -- rectification ------------------------------------------------------------------------------------------


def container_side(w: int = 800, h: int = 340, code: str = "MSKU 123456 5") -> np.ndarray:
    """A corrugated container wall with a code in the top right: texture everywhere, so misalignment shows."""
    xs = np.arange(w, dtype=np.float32)
    wall = (150 + 30 * np.clip(2.5 * np.sin(xs / 17.0 * np.pi), -1, 1)).astype(np.uint8)
    img = np.repeat(np.repeat(wall[None, :, None], h, axis=0), 3, axis=2)
    img[..., 0] = img[..., 0] // 3 + 40  # blue-ish
    cv2.putText(img, code, (int(w * 0.32), 80), cv2.FONT_HERSHEY_DUPLEX, 1.6, (245, 245, 245), 3, cv2.LINE_AA)
    cv2.putText(img, "45G1", (int(w * 0.72), 150), cv2.FONT_HERSHEY_DUPLEX, 1.3, (245, 245, 245), 3, cv2.LINE_AA)
    cv2.rectangle(img, (0, 0), (w - 1, h - 1), (40, 40, 60), 8)
    return img


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY).astype(np.float64)
    b = cv2.cvtColor(b, cv2.COLOR_BGR2GRAY).astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def oblique_scene(side: np.ndarray, quad: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The side pasted into a grey pinhole frame so that its corners land on `quad`."""
    h, w = side.shape[:2]
    H = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), quad.astype(np.float32))
    frame = np.full((size[1], size[0], 3), 90, np.uint8)
    warped = cv2.warpPerspective(side, H, size, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), H, size)
    frame[mask > 128] = warped[mask > 128]
    return frame


QUAD = np.array([[120.0, 90.0], [540.0, 150.0], [545.0, 330.0], [118.0, 400.0]])  # ~45° yaw, pinhole pixels


def test_rectify_undoes_a_known_homography() -> None:
    side = container_side()
    frame = oblique_scene(side, QUAD, SIZE)
    out = rectify(frame, QUAD, (800, 340))
    assert ncc(out, side) > 0.9
    # The naive crop (bounding box, stretched) is much further from the wall.
    x0, y0 = QUAD.min(axis=0).astype(int)
    x1, y1 = QUAD.max(axis=0).astype(int)
    naive = cv2.resize(frame[y0:y1, x0:x1], (800, 340))
    assert ncc(naive, side) < ncc(out, side) - 0.2
    # Corner error of the estimated homography: the quad corners go exactly to the output corners.
    H = rectifying_homography(QUAD, (800, 340))
    np.testing.assert_allclose(apply(H, QUAD), [[0, 0], [800, 0], [800, 340], [0, 340]], atol=1e-6)


def test_rectified_view_through_a_distorting_lens() -> None:
    """Container side seen obliquely through the barrel lens; the view (undistort + rectify in one remap)
    gives the wall back, and raw-frame ↔ view point mapping is exact."""
    side = container_side()
    intr = Intrinsics(K_TRUE, DIST_TRUE, SIZE)
    raw = distort(oblique_scene(side, QUAD, SIZE), K_TRUE, DIST_TRUE, border=(90, 90, 90))
    # The installer clicks the wall's corners on the raw frame: where the lens put them.
    from calibration.intrinsics import distort_pixels

    clicked = distort_pixels(QUAD, K_TRUE, K_TRUE, DIST_TRUE)
    with_lens = CameraView(intr, rectify_src=clicked, rectify_size=(800, 340))
    no_lens = CameraView(None, rectify_src=clicked, rectify_size=(800, 340))
    good, bad = with_lens.prepare(raw), no_lens.prepare(raw)
    assert good.shape == (340, 800, 3) and with_lens.kind == "rectified"
    assert ncc(good, side) > 0.88
    assert ncc(good, side) > ncc(bad, side) + 0.05
    # Grid points of the wall: truth to the raw frame, then into the view, land where they are on the wall.
    h_true = cv2.getPerspectiveTransform(np.float32([[0, 0], [800, 0], [800, 340], [0, 340]]),
                                         QUAD.astype(np.float32))
    wall_pts = np.array([[x, y] for x in (50, 300, 600, 750) for y in (40, 170, 300)], np.float64)
    raw_pts = distort_pixels(apply(h_true, wall_pts), K_TRUE, K_TRUE, DIST_TRUE)
    np.testing.assert_allclose(with_lens.to_view(raw_pts, raw.shape), wall_pts, atol=0.05)
    np.testing.assert_allclose(with_lens.to_frame(wall_pts, raw.shape), raw_pts, atol=0.05)


def test_check_quad_rejects_degenerate_quads() -> None:
    with pytest.raises(ValueError, match="exactly 4"):
        check_quad([[0, 0], [1, 0], [1, 1]])
    with pytest.raises(ValueError, match="collinear"):
        check_quad([[0, 0], [0.5, 0], [1, 0], [0, 1]])
    with pytest.raises(ValueError, match="convex"):
        check_quad([[0, 0], [1, 1], [1, 0], [0, 1]])  # bow tie: points out of order
    check_quad([[0.1, 0.1], [0.9, 0.2], [0.9, 0.8], [0.1, 0.9]])


# -- zones / view -------------------------------------------------------------------------------------------


def test_zone_view_crops_and_masks() -> None:
    frame = np.random.default_rng(1).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    view = CameraView(read_zone=[[0.25, 0.5], [0.75, 0.5], [0.5, 1.0]])  # triangle, bottom middle
    out = view.prepare(frame)
    assert view.kind == "zone" and out.shape == (240, 320, 3)
    np.testing.assert_array_equal(out[0, 160], frame[240, 320])  # inside: untouched pixels
    np.testing.assert_array_equal(out[230, 5], FILL)  # bottom-left corner of the bbox is outside the triangle
    before = frame.copy()
    view.prepare(frame)
    np.testing.assert_array_equal(frame, before)  # the frame (the evidence image) is never painted on
    from edge.domain.types import Box

    assert view.box_to_frame(Box(x=10, y=20, w=30, h=40), frame.shape) == Box(x=170, y=260, w=30, h=40)


def test_unconfigured_view_is_the_frame_itself() -> None:
    frame = np.zeros((48, 64, 3), np.uint8)
    view = CameraView()
    assert view.identity and view.prepare(frame) is frame


def test_zone_outside_the_frame_is_an_error() -> None:
    view = CameraView(read_zone=[[700, 10], [800, 10], [800, 90]], name="cam1")
    with pytest.raises(ValueError, match="outside"):
        view.prepare(np.zeros((480, 640, 3), np.uint8))


# -- config ----------------------------------------------------------------------------------------------------


def cfg_dict(**cam: object) -> dict[str, object]:
    base = {"name": "side", "source": "clips/side", "role": "container", "lane": "in1"}
    base.update(cam)
    return {"gate": {"id": "g"}, "lanes": [{"id": "in1", "direction": "import"}], "cameras": [base]}


def test_config_validates_zones_and_rectify() -> None:
    with pytest.raises(ConfigError, match=r"cameras\.0\.read_zone: .*at least 3 points"):
        parse_config(cfg_dict(read_zone=[[0, 0], [1, 1]]))
    with pytest.raises(ConfigError, match=r"cameras\.0\.rectify\.src: .*exactly 4"):
        parse_config(cfg_dict(rectify={"src": [[0, 0], [1, 0], [1, 1]], "size": [800, 300]}))
    with pytest.raises(ConfigError, match=r"cameras\.0\.rectify\.src: .*collinear"):
        parse_config(cfg_dict(rectify={"src": [[0, 0], [0.5, 0], [1, 0], [0, 1]], "size": [800, 300]}))
    with pytest.raises(ConfigError, match=r"cameras\.0\.rectify\.size"):
        parse_config(cfg_dict(rectify={"src": [[0, 0], [1, 0], [1, 1], [0, 1]], "size": [8, 300]}))
    cfg = parse_config(cfg_dict(read_zone=[[0.1, 0.2], [0.9, 0.2], [0.9, 0.9]],
                                rectify={"src": [[100, 80], [500, 120], [500, 300], [100, 360]], "size": [800, 300]}))
    assert cfg.cameras[0].rectify is not None and cfg.cameras[0].rectify.size == (800, 300)


def write_config(tmp_path: Path, lens: Path | None, frames: Path, **cam: object) -> Path:
    d = cfg_dict(source=str(frames.relative_to(tmp_path)), **cam)
    if lens is not None:
        d["cameras"][0]["intrinsics"] = str(lens.relative_to(tmp_path))  # type: ignore[index]
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump(d))
    return path


@pytest.fixture
def side_setup(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A camera folder with one oblique, distorted container frame, its lens file and a config using both."""
    raw = distort(oblique_scene(container_side(), QUAD, SIZE), K_TRUE, DIST_TRUE, border=(90, 90, 90))
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0001.png"), raw)
    lens = tmp_path / "calib" / "side.json"
    Intrinsics(K_TRUE, DIST_TRUE, SIZE, rms_px=0.12).save(lens)
    from calibration.intrinsics import distort_pixels

    clicked = distort_pixels(QUAD, K_TRUE, K_TRUE, DIST_TRUE).round(1).tolist()
    path = write_config(tmp_path, lens, frames, trigger_zone=[[0, 0.1], [1, 0.1], [1, 0.9], [0, 0.9]],
                        rectify={"src": clicked, "size": [800, 340]})
    return path, raw


def test_config_resolves_intrinsics_relative_to_the_file(side_setup: tuple[Path, np.ndarray]) -> None:
    path, _ = side_setup
    cam = load_config(path).cameras[0]
    assert cam.intrinsics == str((path.parent / "calib" / "side.json").resolve())
    assert CameraView.from_config(cam).prepare(cv2.imread(str(path.parent / "frames" / "0001.png"))).shape == (
        340, 800, 3)


# -- preview -----------------------------------------------------------------------------------------------


def test_preview_png(tmp_path: Path, side_setup: tuple[Path, np.ndarray]) -> None:
    path, raw = side_setup
    cam = load_config(path).cameras[0]
    w, h = write_preview(cam, raw, tmp_path / "out" / "p.png")
    png = cv2.imread(str(tmp_path / "out" / "p.png"))
    assert png is not None and png.shape[:2] == (h, w) == (480, 640 + 320)
    np.testing.assert_array_equal(png[:, :640][5, 5], raw[5, 5])  # the frame itself is on the left, annotated
    assert not np.array_equal(png[:, :640], raw)  # ... with zones drawn on it
    assert png[:, 640:].mean() > 20  # the view panel is not empty


def test_cli_preview(tmp_path: Path, side_setup: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture[str]) -> None:
    path, raw = side_setup
    out = tmp_path / "first.png"
    # No --frame: the first frame of the camera's own source.
    assert cli_main(["calibrate", "preview", "--config", str(path), "--camera", "side", "--out", str(out)]) == 0
    assert cv2.imread(str(out)).shape == (480, 960, 3)
    frame = tmp_path / "snap.jpg"
    cv2.imwrite(str(frame), raw)
    assert cli_main(["calibrate", "preview", "--config", str(path), "--camera", "side", "--frame", str(frame),
                     "--out", str(tmp_path / "snap.png")]) == 0
    capsys.readouterr()
    assert cli_main(["calibrate", "preview", "--config", str(path), "--camera", "nope", "--out", str(out)]) == 2
    assert "no camera 'nope' (cameras: side)" in capsys.readouterr().err


# -- pipeline --------------------------------------------------------------------------------------------


class RecordingPlateReader:
    """Stands in for the OCR (not the thing under test): records what it was given, finds a box at (10, 20)."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def read(self, image: np.ndarray):  # type: ignore[no-untyped-def]
        from edge.domain.types import Box, PlateRead

        self.shapes.append(image.shape)
        return PlateRead(text="29C12345", display="29C-123.45", country="VN", format="vn_truck", confidence=0.9,
                         box=Box(x=10, y=20, w=100, h=30))


def test_pipeline_reads_the_prepared_view_and_maps_boxes_back() -> None:
    from cameras.frame import Frame
    from edge.config import PipelineConfig
    from edge.lane.pipeline import LaneProcessor, Readers

    cfg = parse_config({"gate": {"id": "g"}, "lanes": [{"id": "in1", "direction": "import"}], "cameras": [
        {"name": "front", "source": "x", "role": "plate", "lane": "in1",
         "read_zone": [[0.25, 0.5], [0.75, 0.5], [0.75, 1.0], [0.25, 1.0]]}]})
    reader = RecordingPlateReader()
    proc = LaneProcessor("in1", cfg.cameras, Readers(plate=reader), PipelineConfig())
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    image = np.zeros((480, 640, 3), np.uint8)
    proc.assembler.external_trigger(ts, "start")
    proc._read(cfg.cameras[0], Frame("front", "plate", "in1", 0, ts, 0.0, image))
    assert reader.shapes == [(240, 320, 3)]
    draft = proc.assembler.target()
    assert draft is not None and draft.plates[0].box is not None
    b = draft.plates[0].box
    assert (b.x, b.y, b.w, b.h) == (170, 260, 100, 30)  # frame coordinates: evidence boxes land on the frame
