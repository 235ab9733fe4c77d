"""Zone polygons and the motion detector on synthetic scenes with real sensor-like noise."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from calibration.zones import MotionDetector, Polygon

SHAPE = (720, 1280, 3)


def scene(rng: np.random.Generator) -> np.ndarray:
    """A textured static background (road, kerb) at 720p."""
    img = cv2.GaussianBlur(rng.integers(40, 200, SHAPE, dtype=np.uint8), (0, 0), 6)
    cv2.rectangle(img, (0, 600), (1280, 720), (90, 90, 90), -1)
    return img


_NOISE: list[np.ndarray] = []


def noisy(img: np.ndarray, rng: np.random.Generator, sigma: float = 6.0) -> np.ndarray:
    """Add Gaussian sensor noise (sigma in grey levels); a small bank of noise fields keeps tests fast."""
    if not _NOISE:
        bank = np.random.default_rng(0)
        _NOISE.extend(bank.normal(0, sigma, SHAPE).astype(np.int16) for _ in range(4))
    noise = _NOISE[int(rng.integers(len(_NOISE)))]
    return cv2.add(img, noise, dtype=cv2.CV_8U)


def test_normalised_polygon_mask_bbox_and_contains() -> None:
    p = Polygon.from_points([[0.25, 0.5], [0.75, 0.5], [0.75, 1.0], [0.25, 1.0]])
    assert p.normalised
    m = p.mask((100, 200))
    assert m.shape == (100, 200) and m.dtype == np.uint8
    ys, xs = np.nonzero(m)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (50, 150, 50, 99)
    assert p.bbox((100, 200)) == (50, 50, 150, 100)
    assert p.contains((0.5, 0.75)) and p.contains((0.25, 0.5)) and not p.contains((0.1, 0.75))


def test_pixel_triangle_mask_matches_contains() -> None:
    p = Polygon.from_points([(10, 10), (90, 10), (10, 60)])
    assert not p.normalised
    m = p.mask((80, 100))
    assert p.bbox((80, 100)) == (10, 10, 91, 61)
    for x, y in [(20, 20), (15, 50), (80, 12), (60, 50), (95, 70), (5, 5)]:
        assert bool(m[y, x]) == p.contains((x, y)), (x, y)
    area = m.astype(bool).sum()
    assert abs(area - 0.5 * 80 * 50) / (0.5 * 80 * 50) < 0.06


def test_polygon_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        Polygon.from_points([(0, 0), (1, 1)])
    with pytest.raises(ValueError, match="outside 0..1"):
        Polygon(((0.0, 0.0), (1.5, 0.0), (1.0, 1.0)), normalised=True)
    with pytest.raises(ValueError, match="not finite"):
        Polygon.from_points([(0, 0), (float("nan"), 1), (1, 1)])


def test_motion_detector_ignores_sensor_noise_and_sees_a_moving_vehicle() -> None:
    rng = np.random.default_rng(3)
    bg = scene(rng)
    md = MotionDetector(pixel_threshold=25)
    noise_only = [md.update(noisy(bg, rng)) for _ in range(15)]
    assert max(noise_only) < 0.002
    moving = []
    for step in range(8):  # a 300×200 box driving right, 60 px a frame
        f = bg.copy()
        x = 100 + 60 * step
        cv2.rectangle(f, (x, 350), (x + 300, 550), (240, 240, 250), -1)
        moving.append(md.update(noisy(f, rng)))
    box_fraction = 300 * 200 / (1280 * 720)
    assert min(moving) > 0.5 * box_fraction
    # After it has left, motion dies down again.
    settled = [md.update(noisy(bg, rng)) for _ in range(60)]
    assert settled[-1] < 0.002


def test_motion_outside_the_zone_is_ignored_and_a_lighting_jump_is_not_motion() -> None:
    rng = np.random.default_rng(4)
    bg = scene(rng)
    zone = Polygon.from_points([(0.5, 0.3), (1.0, 0.3), (1.0, 0.9), (0.5, 0.9)])
    md = MotionDetector(zone)
    md.update(noisy(bg, rng))
    left = bg.copy()
    cv2.rectangle(left, (50, 300), (450, 600), (250, 250, 250), -1)  # left half: outside the zone
    assert md.update(noisy(left, rng)) < 0.002
    right = bg.copy()
    cv2.rectangle(right, (800, 300), (1200, 600), (250, 250, 250), -1)
    assert md.update(noisy(right, rng)) > 0.2
    md.reset()
    md.update(bg)
    brighter = cv2.add(bg, np.full(SHAPE, 30, np.uint8))  # auto-exposure step over the whole image
    assert md.update(brighter) < 0.01
