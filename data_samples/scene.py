"""The three cameras of one lane: static backgrounds, per-frame compositing of trucks, sensor effects.

Lane coordinate s (metres) grows in the direction of travel; the trigger zone ends at s = 0.
- plate camera: on a low gantry at s = PLATE_CAM_S looking back at oncoming trucks, 2.0 m high, pitched
  down, long lens — trucks come in at the top edge and the plate is biggest (≥ 160 px) near s = 0;
- container camera: side view, orthographic strip 1.95–4.20 m high centred on s = SIDE_CAM_S;
- cargo camera: top-down, centred on s = TOP_CAM_S.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from data_samples.draw import blend, put_text, smooth_noise, textured
from data_samples.fonts import CJK_FACE, SIGN_FACES
from data_samples.render_plate import plate_size_m
from data_samples.render_truck import (
    FRONT_H_M,
    FRONT_W_M,
    SIDE_PX_M,
    TOP_PX_M,
    TOP_W_M,
    TruckSpec,
)

PLATE_CAM_S = 5.0
SIDE_CAM_S = -4.0
TOP_CAM_S = -3.0
PLATE_SIZE = (800, 450)
SIDE_SIZE = (800, 450)
TOP_SIZE = (400, 224)  # even sizes: mp4v silently drops an odd row


# ---------------------------------------------------------------- plate camera geometry

@dataclass(frozen=True)
class PinholeCam:
    w: int = PLATE_SIZE[0]
    h: int = PLATE_SIZE[1]
    f: float = 2600.0
    x: float = 0.8  # lateral offset from lane centre, metres
    height: float = 2.0
    yaw_deg: float = 6.0  # towards the lane centre
    pitch_deg: float = 16.0  # down

    def to_cam(self, X: np.ndarray, Y: np.ndarray, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        yaw, pitch = math.radians(self.yaw_deg), math.radians(self.pitch_deg)
        x, y, z = X - self.x, Y - self.height, Z
        x1 = x * math.cos(yaw) + z * math.sin(yaw)
        z1 = -x * math.sin(yaw) + z * math.cos(yaw)
        y2 = y * math.cos(pitch) + z1 * math.sin(pitch)
        z2 = -y * math.sin(pitch) + z1 * math.cos(pitch)
        return x1, y2, z2

    def project(self, X, Y, Z) -> np.ndarray:
        x, y, z = self.to_cam(np.asarray(X, float), np.asarray(Y, float), np.asarray(Z, float))
        return np.stack([self.w / 2 + self.f * x / z, self.h / 2 - self.f * y / z], axis=-1)

    def ground_maps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ground-plane (X, Z) hit by each pixel's ray; `hit` false above the horizon."""
        u, v = np.meshgrid(np.arange(self.w, dtype=np.float64), np.arange(self.h, dtype=np.float64))
        dx, dy, dz = (u - self.w / 2) / self.f, -(v - self.h / 2) / self.f, np.ones_like(u)
        yaw, pitch = math.radians(self.yaw_deg), math.radians(self.pitch_deg)
        # camera -> world: undo pitch, then yaw
        y1 = dy * math.cos(pitch) - dz * math.sin(pitch)
        z1 = dy * math.sin(pitch) + dz * math.cos(pitch)
        X = dx * math.cos(yaw) - z1 * math.sin(yaw)
        Z = dx * math.sin(yaw) + z1 * math.cos(yaw)
        hit = y1 < -1e-6
        t = np.where(hit, -self.height / np.where(hit, y1, -1), 0)
        return X * t + self.x, Z * t, hit


def paste_plane(frame: np.ndarray, sprite: np.ndarray, dst_quad: np.ndarray, blur_px: tuple[float, float] = (0, 0),
                clip_rows: int | None = None) -> bool:
    """Warp a BGRA sprite so its corners land on dst_quad (TL, TR, BR, BL) and alpha-blend it into frame.

    Returns whether any of the sprite landed in the frame."""
    h, w = frame.shape[:2]
    x0, y0 = np.floor(dst_quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(dst_quad.max(axis=0)).astype(int)
    x0, y0, x1, y1 = max(0, x0 - 2), max(0, y0 - 2), min(w, x1 + 2), min(h, y1 + 2)
    if clip_rows is not None:
        y1 = min(y1, clip_rows)
    if x1 <= x0 or y1 <= y0:
        return False
    sh, sw = sprite.shape[:2]
    src = np.float32([[0, 0], [sw, 0], [sw, sh], [0, sh]])
    scale = np.linalg.norm(dst_quad[1] - dst_quad[0]) / sw
    if scale < 0.6:  # pre-shrink: warpPerspective does not filter when minifying
        k = max(scale * 1.5, 0.02)
        sprite = cv2.resize(sprite, (max(2, int(sw * k)), max(2, int(sh * k))), interpolation=cv2.INTER_AREA)
        src = src * np.float32([sprite.shape[1] / sw, sprite.shape[0] / sh])
    H = cv2.getPerspectiveTransform(src, (dst_quad - [x0, y0]).astype(np.float32))
    out = cv2.warpPerspective(sprite, H, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    out = motion_blur(out, blur_px)
    blend(frame, out[..., :3].copy(), out[..., 3], x0, y0)
    return bool(out[..., 3].any())


def motion_blur(img: np.ndarray, d: tuple[float, float]) -> np.ndarray:
    """Linear motion blur along displacement d (pixels during the exposure)."""
    n = int(round(math.hypot(*d)))
    if n < 2:
        return img
    k = np.zeros((n * 2 + 1, n * 2 + 1), np.float32)
    cv2.line(k, (n - int(d[0] / 2), n - int(d[1] / 2)), (n + int(d[0] / 2), n + int(d[1] / 2)), 1.0, 1)
    return cv2.filter2D(img, -1, k / k.sum())


class PlateCamera:
    def __init__(self, rng: np.random.Generator, lane_label: str, pitch_deg: float | None = None) -> None:
        """`pitch_deg`: tilt down (default 16°); less tilt sees further up the road (a queue camera)."""
        self.cam = PinholeCam() if pitch_deg is None else PinholeCam(pitch_deg=pitch_deg)
        self.bg = self._background(rng, lane_label)
        self.shutter = float(rng.uniform(1 / 600, 1 / 250))

    def _background(self, rng: np.random.Generator, lane_label: str) -> np.ndarray:
        c = self.cam
        X, Z, hit = c.ground_maps()
        # top-down ground texture: X in [-6, 6], Z in [2, 18] at 100 px/m
        px = 100.0
        gw, gh = int(12 * px), int(16 * px)
        ground = textured(rng, gh, gw, (88, 90, 92), grain=7, blotch=10)

        def G(x: float, z: float) -> tuple[int, int]:
            return int((x + 6) * px), int((18 - z) * px)

        for xl in (-1.75, 1.75):  # worn lane lines
            cv2.line(ground, G(xl, 2), G(xl, 18), (200, 205, 205), int(0.15 * px))
        cv2.line(ground, G(-5.25, 2), G(-5.25, 18), (200, 205, 205), int(0.15 * px))
        zone_z0, zone_z1 = PLATE_CAM_S - 0.0, PLATE_CAM_S + 6.0  # trigger zone s ∈ [-6, 0]
        hatch = np.zeros((gh, gw), np.uint8)
        for k in range(-20, 40):
            cv2.line(hatch, G(-1.6, zone_z0 + k * 0.9), G(1.6, zone_z0 + k * 0.9 + 3.2), 255, int(0.14 * px))
        box = np.zeros_like(hatch)
        cv2.rectangle(box, G(-1.6, zone_z1), G(1.6, zone_z0), 255, -1)
        hatch = cv2.bitwise_and(hatch, box)
        cv2.rectangle(hatch, G(-1.6, zone_z1), G(1.6, zone_z0), 255, int(0.12 * px))
        blend(ground, (40, 190, 230), hatch, 0, 0, 0.8)
        # painted road text (distractors) and an island kerb on the right
        words = ["DỪNG LẠI", "STOP", lane_label]
        for i, word in enumerate(words):
            zz = zone_z1 + 0.8 + i * 1.6
            m = cv2.flip(put_mask(word, int(2.6 * px), int(1.2 * px)), -1)  # upright for drivers, upside down for us
            blend(ground, (215, 220, 220), m, G(-1.3, zz + 1.2)[0], G(-1.3, zz + 1.2)[1], 0.85)
        cv2.rectangle(ground, G(2.3, 18), G(6, 2), (150, 152, 150), -1)
        for k in range(40):
            cv2.rectangle(ground, G(2.15, 2 + k * 0.4), G(2.3, 2 + k * 0.4 + 0.2),
                          (20, 200, 240) if k % 2 else (30, 30, 30), -1)
        stains = np.zeros((gh, gw), np.uint8)
        for _ in range(6):  # oil stains in the middle of the lane
            cv2.ellipse(stains, G(rng.uniform(-0.6, 0.6), rng.uniform(3, 16)), (int(rng.integers(5, 15)),
                        int(rng.integers(8, 25))), 0, 0, 360, 120, -1)
        blend(ground, (55, 58, 60), cv2.GaussianBlur(stains, (0, 0), 4), 0, 0)
        ground = cv2.GaussianBlur(ground, (3, 3), 0)
        mx = ((X + 6) * px).astype(np.float32)
        my = ((18 - Z) * px).astype(np.float32)
        img = cv2.remap(ground, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        img[~hit] = (180, 170, 160)
        # right-side booth wall with a poster and a sign (more distractor text)
        wall = textured(rng, 300, 1000, (170, 180, 185), grain=4, blotch=12)
        cv2.rectangle(wall, (80, 40), (520, 250), (40, 110, 200), -1)
        put_text(wall, "HẢI QUAN VIỆT NAM", str(rng.choice(SIGN_FACES)), (100, 60, 400, 70), (240, 240, 240),
                 keep_aspect=True)
        put_text(wall, "口岸 5 km/h", CJK_FACE, (100, 150, 400, 70), (240, 240, 240), keep_aspect=True)
        cv2.rectangle(wall, (600, 60), (900, 200), (30, 200, 240), -1)
        put_text(wall, "LÀN XE TẢI 1", "DejaVuSans-Bold.ttf", (615, 90, 270, 80), (20, 20, 20), keep_aspect=True)
        wall = np.dstack([wall, np.full(wall.shape[:2], 255, np.uint8)])
        quad = c.project([3.4, 3.4, 3.4, 3.4], [3.0, 3.0, 0.0, 0.0], [14.0, 5.0, 5.0, 14.0])
        paste_plane(img, wall, quad)
        return img

    def plate_quad(self, t: TruckSpec, z: float, plate_dx: float) -> np.ndarray:
        pw, ph = plate_size_m(t.plate)
        xs = [plate_dx - pw / 2, plate_dx + pw / 2, plate_dx + pw / 2, plate_dx - pw / 2]
        ys = [0.45 + ph, 0.45 + ph, 0.45, 0.45]
        return self.cam.project(xs, ys, [z] * 4)

    def draw(self, frame: np.ndarray, sprite: np.ndarray, s_front: float, v_mps: float) -> bool:
        z = PLATE_CAM_S - s_front
        if z < 1.5 or z > 16:
            return False
        hw, top = FRONT_W_M / 2, FRONT_H_M
        shadow = self.cam.project([-1.3, 1.3, 1.3, -1.3], [0, 0, 0, 0], [z + 3.0, z + 3.0, z - 0.15, z - 0.15])
        x0, y0 = np.maximum(np.floor(shadow.min(axis=0)).astype(int) - 20, 0)
        x1, y1 = np.minimum(np.ceil(shadow.max(axis=0)).astype(int) + 20, [frame.shape[1], frame.shape[0]])
        if x1 > x0 and y1 > y0:
            m = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.fillConvexPoly(m, (shadow - [x0, y0]).astype(np.int32), 150)
            blend(frame, (25, 25, 25), cv2.GaussianBlur(m, (0, 0), 8), int(x0), int(y0))
        quad = self.cam.project([-hw, hw, hw, -hw], [top, top, 0, 0], [z] * 4)
        nxt = self.cam.project([-hw, hw, hw, -hw], [top, top, 0, 0], [z - v_mps * self.shutter] * 4)
        d = (nxt - quad).mean(axis=0)
        return paste_plane(frame, sprite, quad, (float(d[0]), float(d[1])))


def put_mask(text: str, w: int, h: int) -> np.ndarray:
    from data_samples.draw import text_mask

    return text_mask(text, "DejaVuSansCondensed-Bold.ttf", w, h)


# ---------------------------------------------------------------- side and top cameras

class SideCamera:
    def __init__(self, rng: np.random.Generator, lane_label: str) -> None:
        w, h = SIDE_SIZE
        sky = np.zeros((h, w, 3), np.float32)
        sky[:] = np.linspace(235, 190, h)[:, None, None] * np.array([1.0, 0.93, 0.85])
        img = sky.astype(np.uint8)
        # far side: hills, a canopy column, fence and a sign board, drawn smaller (they are further away)
        hills = (h * 0.55 + smooth_noise(rng, 1, w, 120, 40)[0]).astype(int)
        for x in range(w):
            img[hills[x]:, x] = (70, 110, 85)
        building = textured(rng, h - int(h * 0.65), int(w * 0.6), (175, 185, 195), grain=3, blotch=8)
        for r in range(3):
            for k in range(12):
                cv2.rectangle(building, (20 + k * 48, 20 + r * 60), (50 + k * 48, 55 + r * 60), (110, 90, 80), -1)
        by = int(h * 0.65)
        img[by:, int(w * 0.3): int(w * 0.3) + building.shape[1]] = building[: h - by]
        cv2.rectangle(img, (int(w * 0.05), int(h * 0.1)), (int(w * 0.05) + 60, h), (150, 150, 150), -1)
        cv2.rectangle(img, (int(w * 0.55), int(h * 0.18)), (int(w * 0.95), int(h * 0.36)), (120, 70, 20), -1)
        put_text(img, f"{lane_label}  1号车道", CJK_FACE, (int(w * 0.57), int(h * 0.2), int(w * 0.36), int(h * 0.13)),
                 (240, 240, 240), keep_aspect=True)
        self.bg = img
        self.shutter = float(rng.uniform(1 / 700, 1 / 300))
        # a slightly tilted camera: mild keystone
        k = rng.uniform(0.02, 0.04)
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = np.float32([[w * k, h * k * 0.5], [w * (1 - k * 0.3), 0], [w, h], [0, h * (1 - k * 0.2)]])
        self.keystone = cv2.getPerspectiveTransform(src, dst)

    def draw(self, frame: np.ndarray, sprite: np.ndarray, s_front: float, v_mps: float) -> bool:
        w = frame.shape[1]
        x = int(round(w / 2 - (s_front - SIDE_CAM_S) * SIDE_PX_M))
        if x >= w or x + sprite.shape[1] <= 0:
            return False
        x0, x1 = max(0, x), min(w, x + sprite.shape[1])
        part = sprite[:, x0 - x: x1 - x]
        part = motion_blur(part, (-v_mps * self.shutter * SIDE_PX_M, 0))
        blend(frame, part[..., :3].copy(), part[..., 3], x0, 0)
        return bool(part[..., 3].any())

    def finish(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        return cv2.warpPerspective(frame, self.keystone, (w, h), borderMode=cv2.BORDER_REPLICATE)


class TopCamera:
    def __init__(self, rng: np.random.Generator, lane_label: str) -> None:
        w, h = TOP_SIZE
        img = textured(rng, h, w, (90, 92, 94), grain=5, blotch=6)
        p = TOP_PX_M
        cy = h // 2
        for off in (-1.75, 1.75):
            y = int(cy + off * p)
            cv2.line(img, (0, y), (w, y), (205, 210, 210), int(0.15 * p))
        hatch = np.zeros((h, w), np.uint8)
        for k in range(-10, 30):
            x = int(k * 0.9 * p)
            cv2.line(hatch, (x, int(cy - 1.6 * p)), (x + int(1.6 * p), int(cy + 1.6 * p)), 255, int(0.14 * p))
        hatch = cv2.bitwise_and(hatch, (smooth_noise(rng, h, w, 25, 1.0) > -0.6).astype(np.uint8) * 255)  # worn
        hatch[: int(cy - 1.6 * p)] = 0
        hatch[int(cy + 1.6 * p):] = 0
        blend(img, (40, 190, 230), hatch, 0, 0, 0.8)
        put_text(img, "CHẬM", "DejaVuSans-Bold.ttf", (20, int(cy - 0.7 * p), int(1.6 * p), int(1.4 * p)),
                 (215, 220, 220), keep_aspect=True, opacity=0.8)
        cv2.circle(img, (int(w * 0.7), int(cy + 1.0 * p)), int(0.3 * p), (60, 62, 64), -1)  # manhole
        cv2.circle(img, (int(w * 0.7), int(cy + 1.0 * p)), int(0.3 * p), (40, 40, 40), 3)
        for _ in range(4):
            cv2.ellipse(img, (int(rng.integers(0, w)), int(cy + rng.uniform(-0.5, 0.5) * p)),
                        (int(rng.integers(10, 30)), int(rng.integers(6, 20))), 0, 0, 360, (60, 62, 65), -1)
        if h > 2 * (1.75 * p + 10):
            img[: int(cy - 1.95 * p)] = (150, 152, 150)  # kerb island
        self.bg = img
        self.shutter = float(rng.uniform(1 / 500, 1 / 200))

    def draw(self, frame: np.ndarray, sprite: np.ndarray, s_front: float, v_mps: float) -> bool:
        h, w = frame.shape[:2]
        x = int(round(w / 2 - (s_front - TOP_CAM_S) * TOP_PX_M))
        y = int(h / 2 - TOP_W_M * TOP_PX_M / 2)
        if x >= w or x + sprite.shape[1] <= 0:
            return False
        x0, x1 = max(0, x), min(w, x + sprite.shape[1])
        part = sprite[:, x0 - x: x1 - x]
        # soft shadow first (sun from the upper left)
        sh = cv2.GaussianBlur(part[..., 3], (0, 0), 6)
        blend(frame, (20, 20, 20), (sh * 0.55).astype(np.uint8), x0 + 10, y + 14)
        part = motion_blur(part, (-v_mps * self.shutter * TOP_PX_M, 0))
        blend(frame, part[..., :3].copy(), part[..., 3], x0, y)
        return bool(part[..., 3].any())


# ---------------------------------------------------------------- sensor effects

@dataclass
class Lighting:
    """Slow exposure drift plus a few passing clouds, shared by the cameras of a lane."""

    phase: float
    clouds: list[tuple[float, float, float]]  # (centre s, half-width s, depth)

    @classmethod
    def random(cls, rng: np.random.Generator, duration_s: float) -> Lighting:
        n = max(1, int(duration_s / 25))
        clouds = [(float(rng.uniform(0, duration_s)), float(rng.uniform(2, 5)), float(rng.uniform(0.15, 0.35)))
                  for _ in range(n)]
        return cls(float(rng.uniform(0, 2 * np.pi)), clouds)

    def gain(self, t: float) -> float:
        g = 1.0 + 0.08 * math.sin(2 * math.pi * t / 31 + self.phase)
        for c, hw, depth in self.clouds:
            g -= depth * math.exp(-(((t - c) / hw) ** 2))
        return g


def sensor(frame: np.ndarray, rng: np.random.Generator, gain: float, noise: float, jpeg_q: int,
           glare: tuple[int, int, float] | None = None, fixed_noise: np.ndarray | None = None) -> np.ndarray:
    """Exposure, lens glare, sensor noise, vignetting and JPEG artefacts of a cheap IP camera.

    Most of the noise is a fixed pattern (per camera) and only a little is temporal: mp4v runs at a
    near-lossless quantiser, and frame-to-frame noise would triple the size of the committed clips."""
    h, w = frame.shape[:2]
    f = frame.astype(np.float32) * gain
    if glare is not None:
        gx, gy, strength = glare
        yy, xx = np.ogrid[:h, :w]
        r2 = ((xx - gx) ** 2 + (yy - gy) ** 2) / (0.18 * w) ** 2
        f += (strength * 120 * np.exp(-r2))[..., None]
    f *= _vignette(h, w)[..., None]
    if fixed_noise is not None:
        f += fixed_noise[..., None]
    if noise > 0:
        f += rng.normal(0, noise, (h, w)).astype(np.float32)[..., None]
    out = np.clip(f, 0, 255).astype(np.uint8)
    if jpeg_q >= 100:
        return out
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, jpeg_q])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else out


_VIG: dict[tuple[int, int], np.ndarray] = {}


def _vignette(h: int, w: int) -> np.ndarray:
    if (h, w) not in _VIG:
        yy, xx = np.mgrid[:h, :w].astype(np.float32)
        r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
        _VIG[(h, w)] = 1.0 - 0.18 * r2 / 2
    return _VIG[(h, w)]
