"""Province-glyph training crops cut from whole synthetic CN plate lines with the runtime's crop code.

The first classifier learnt from squares drawn around a glyph at a fixed place; the runtime instead
cuts its squares from the rectified crop of a *detected text line* (`crop_quad`, pad 0.1), with the
glyph height guessed as a fixed fraction of that crop and the centre taken from CTC steps. Real
boxes often start inside the glyph or well left of it, so the real glyph sits off-centre, clipped or
smeared by the replicated border. Here a whole plate is drawn in millimetres (GA 36: one-line
plate 440×140 mm, glyphs 45×90 mm; the two-line rear plate's top line "province · letter" with
glyphs about as wide as tall), warped, shrunk to a camera-like size and degraded; a jittered
"detector" quad around its text goes through `edge.readers.ocr.engine.crop_quad` and the window through
`edge.readers.cn_province.line_squares` — the same code and constants the plate reader uses — with
a noisy centre estimate. Real photos are never used.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from edge.domain.plate_grammar import CN_PROVINCES
from edge.readers.cn_province import GLYPH_OF_LINE, TOP_ASPECT, grey_input, line_squares
from edge.readers.ocr.det_postprocess import order_quad
from edge.readers.ocr.engine import crop_quad
from smartgate_tools.train.cn_glyphs import CROP_SIDE, LETTERS, SCHEMES, SIZE, _background, glyph_mask

PX = 0.5  # canvas pixels per mm (glyphs 45 px tall: the camera sees them at 8–40 px)
MARGIN = 70.0  # scene around the plate, mm
SERIAL = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def _layout(rng: np.random.Generator, top_line: bool) -> tuple[float, float, list[tuple[float, float, float]]]:
    """Plate size (w, h mm) and character cells (x0, width, height) on the text line; y is handled by
    the caller (text line 25 mm from the top on one-line plates, 15 mm on the two-line top line)."""
    if not top_line:
        w, h = 440.0, 140.0
        gw, gh = 45.0, 90.0
        xs = [15.5, 72.5] + [151.5 + 57.0 * i for i in range(5)]
        return w, h, [(x, gw, gh) for x in xs]
    w, h = 440.0, 220.0
    gh = 60.0
    gw = gh * rng.uniform(0.85, 1.25)
    x0 = rng.uniform(95, 125)
    return w, h, [(x0, gw, gh), (x0 + gw + rng.uniform(35, 60), gw, gh)]


def render_line(rng: np.random.Generator, label: int, cjk: list, latin: list,
                top_line: bool = False, tail: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BGR float canvas with a plate; returns (canvas, text quad (4×2, the line's ink box), every
    glyph's centre (n×2: x, y)) in canvas pixels. `tail`: the characters after the province glyph
    (random when None)."""
    pw, ph, cells = _layout(rng, top_line)
    ty = 15.0 if top_line else 25.0
    H, W = int((ph + 2 * MARGIN) * PX), int((pw + 2 * MARGIN) * PX)
    canvas = _background(rng, H, W)
    names = list(SCHEMES)
    weights = np.array([SCHEMES[n][2] for n in names])
    scheme = "yellow" if top_line and rng.random() < 0.85 else names[rng.choice(len(names), p=weights / weights.sum())]
    bg, fg, _ = SCHEMES[scheme]
    bg = np.clip(np.array(bg, np.float32) + rng.normal(0, 18, 3), 0, 255)
    fg = np.clip(np.array(fg, np.float32) + rng.normal(0, 12, 3), 0, 255)
    o = MARGIN * PX
    plate = np.zeros((H, W), np.float32)
    plate[int(o) : int(o + ph * PX), int(o) : int(o + pw * PX)] = 1.0
    if scheme == "green":
        t = np.clip((np.arange(H, dtype=np.float32) - o) / (ph * PX), 0, 1)[:, None, None]
        col = np.array([245, 250, 245], np.float32) * (1 - t) + bg * t
    else:
        col = np.broadcast_to(bg, (H, 1, 3))
    canvas = canvas * (1 - plate[..., None]) + col * plate[..., None]
    ink = np.zeros((H, W), np.float32)
    if rng.random() < 0.85:  # raised rim
        inset = rng.uniform(1.5, 4.0)
        th = max(1, int(rng.uniform(1.0, 2.5) * PX))
        cv2.rectangle(ink, (int(o + inset * PX), int(o + inset * PX)),
                      (int(o + (pw - inset) * PX), int(o + (ph - inset) * PX)), 1.0, th, cv2.LINE_AA)
    font = cjk[rng.integers(len(cjk))]
    lfont = latin[rng.integers(len(latin))]
    weight = int(rng.integers(-1, 3))  # stroke: the plate face is a heavy condensed 黑体
    squeeze = rng.uniform(0.82, 1.12)
    chars = [CN_PROVINCES[label]] + [LETTERS[rng.integers(24)]]
    if not top_line:
        chars += [SERIAL[rng.integers(len(SERIAL))] for _ in range(5)]
    if tail is not None:
        chars = [chars[0], *tail[: len(chars) - 1]]
    centres = []
    x_end = 0.0
    for i, ((x0, gw, gh), ch) in enumerate(zip(cells, chars, strict=True)):
        w_mm = gw * (squeeze if i == 0 else rng.uniform(0.9, 1.05))
        h_mm = gh * rng.uniform(0.95, 1.03)
        m = glyph_mask(ch, font if i == 0 else lfont)
        m = cv2.resize(m, (max(4, int(w_mm * PX)), max(4, int(h_mm * PX))), interpolation=cv2.INTER_AREA)
        if weight > 0:
            m = cv2.dilate(m, np.ones((weight + 1, weight + 1), np.uint8))
        elif weight < 0:
            m = cv2.erode(m, np.ones((2, 2), np.uint8))
        gx = int(o + (x0 + gw / 2 - w_mm / 2) * PX)
        gy = int(o + (ty + gh / 2 - h_mm / 2) * PX)
        ink[gy : gy + m.shape[0], gx : gx + m.shape[1]] = np.maximum(
            ink[gy : gy + m.shape[0], gx : gx + m.shape[1]], m.astype(np.float32) / 255)
        centres.append((o + (x0 + gw / 2) * PX, o + (ty + gh / 2) * PX))
        x_end = x0 + gw
    # separator dot between the letter and the serial (one-line) or between the two top glyphs
    dx = (cells[1][0] + cells[1][1] + 151.5) / 2 if not top_line else (cells[0][0] + cells[0][1] + cells[1][0]) / 2
    cv2.circle(ink, (int(o + dx * PX), int(o + (ty + cells[0][2] / 2) * PX)), int(5 * PX), 1.0, -1, cv2.LINE_AA)
    ink *= plate
    canvas = canvas * (1 - ink[..., None]) + fg * ink[..., None]
    x0 = cells[0][0]
    gh = cells[0][2]
    quad = o + PX * np.array([[x0, ty], [x_end, ty], [x_end, ty + gh], [x0, ty + gh]], np.float64)
    return canvas, quad, np.array(centres, np.float64)


def _homography(rng: np.random.Generator, w: int, h: int, squash: tuple[float, float] = (0.8, 1.15)) -> np.ndarray:
    """Rotation ±8°, shear ±0.3, horizontal foreshortening, perspective corner noise, about the centre."""
    ang = math.radians(rng.uniform(-8, 8))
    a = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]]) @ np.array(
        [[rng.uniform(*squash), rng.uniform(-0.3, 0.3)], [0, 1]])
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    c = np.array([w / 2, h / 2])
    dst = (src - c) @ a.T + c + rng.normal(0, 0.02 * h, (4, 2))
    return cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(pts.reshape(-1, 1, 2).astype(np.float64), m).reshape(-1, 2)


def camera_crop(rng: np.random.Generator, canvas: np.ndarray, quad: np.ndarray, centres: np.ndarray,
                top_line: bool = False, min_glyph_px: float = 8, max_glyph_px: float = 40,
                rect: bool = False, squash: tuple[float, float] = (0.8, 1.15)) -> tuple[np.ndarray, np.ndarray, float]:
    """The plate seen by a camera (warp, lighting, shrink to a glyph height of min–max px, blur,
    noise, JPEG) and cut like the runtime cuts a detected line (jittered detector quad through
    `crop_quad`, pad 0.1). `rect`: the quad is replaced by its minimum-area rectangle, as the DB
    detector's boxes are, so a sheared plate stays sheared in the crop; `squash`: range of horizontal
    scale (foreshortening of a plate seen at an angle). Returns (line crop, each
    glyph centre's x in the crop, glyph height px)."""
    h, w = canvas.shape[:2]
    m = _homography(rng, w, h, squash)
    # lighting before the camera
    mean = canvas.mean()
    canvas = mean + (canvas - mean) * rng.uniform(0.45, 1.1)
    canvas = canvas * rng.uniform(0.5, 1.3) + rng.uniform(-50, 50)
    if rng.random() < 0.3:
        a, b = rng.uniform(0.4, 1.4, 2)
        if rng.random() < 0.5:
            canvas = canvas * np.linspace(a, b, w, dtype=np.float32)[None, :, None]
        else:
            canvas = canvas * np.linspace(a, b, h, dtype=np.float32)[:, None, None]
    img = cv2.warpPerspective(np.clip(canvas, 0, 255).astype(np.uint8), m, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
    quad, centres = _apply(m, quad), _apply(m, centres)
    glyph_h = float(np.linalg.norm(quad[3] - quad[0]))
    # camera: optics blur at full resolution, then shrink to glyph height g px
    g = rng.uniform(min_glyph_px, max_glyph_px)
    f = g / glyph_h
    if rng.random() < 0.6:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.0) / f)
    img = cv2.resize(img, (max(8, int(w * f)), max(8, int(h * f))), interpolation=cv2.INTER_AREA)
    quad, centres = quad * f, centres * f
    if rng.random() < 0.3:
        k = int(rng.integers(2, 4))
        kern = np.zeros((k, k), np.float32)
        kern[k // 2, :] = 1.0 / k
        img = cv2.filter2D(img, -1, kern)
    img = np.clip(img.astype(np.float32) + rng.normal(0, rng.uniform(0, 10), img.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 90))])
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    # the detector's box: DB boxes stand ≈ 0.2 glyph heights clear of the ink (the runtime's
    # GLYPH_OF_LINE 0.58 of the padded crop), edges jittered; the left edge sometimes inside the
    # glyph, sometimes the widened crop the reader takes when leading characters are missing
    gw = float(np.linalg.norm(quad[1] - quad[0])) / (2.0 if top_line else 9.1)  # ≈ one glyph width
    gpx = g
    det = quad.copy()
    left = rng.normal(-0.2, 0.3) * gw
    if not top_line and rng.random() < 0.2:
        left = -rng.uniform(1.0, 1.8) * gpx
    u = (quad[1] - quad[0]) / max(np.linalg.norm(quad[1] - quad[0]), 1e-6)
    v = (quad[3] - quad[0]) / max(np.linalg.norm(quad[3] - quad[0]), 1e-6)
    det[[0, 3]] += left * u
    det[[1, 2]] += rng.normal(0.2, 0.3) * gw * u
    det[[0, 1]] += rng.normal(-0.21, 0.08) * gpx * v
    det[[2, 3]] += rng.normal(0.21, 0.08) * gpx * v
    if rect:
        det = order_quad(cv2.boxPoints(cv2.minAreaRect(det.astype(np.float32))).astype(np.float32))
    crop = crop_quad(img, det.astype(np.float32), pad=0.1)
    # the glyph centres in crop coordinates (crop_quad maps det to [m, m+w] × [m, m+h])
    dw = max(np.linalg.norm(det[0] - det[1]), np.linalg.norm(det[3] - det[2]))
    dh = max(np.linalg.norm(det[0] - det[3]), np.linalg.norm(det[1] - det[2]))
    mm = 0.1 * min(dw, dh)
    dst = np.array([[mm, mm], [mm + dw, mm], [mm + dw, mm + dh], [mm, mm + dh]], np.float32)
    xs = _apply(cv2.getPerspectiveTransform(det.astype(np.float32), dst), centres)[:, 0]
    return crop, xs, gpx


def line_sample(rng: np.random.Generator, label: int, cjk: list, latin: list, top_line: bool = False,
                min_glyph_px: float = 8, max_glyph_px: float = 40, size: int = SIZE,
                aspect: float | None = None) -> np.ndarray:
    """One size×size grey training crop, framed by the runtime's code on a synthetic plate line
    (`aspect`: the window's, by default the runtime's — TOP_ASPECT on a top line, else 1)."""
    if aspect is None:
        aspect = TOP_ASPECT if top_line else 1.0
    canvas, quad, centres = render_line(rng, label, cjk, latin, top_line)
    crop, xs, gpx = camera_crop(rng, canvas, quad, centres, top_line, min_glyph_px, max_glyph_px)
    cx = float(xs[0])
    cx += rng.normal(0, 0.15) * gpx * (TOP_ASPECT if top_line else 1.0)  # centre estimate error
    win = line_squares(crop, cx, CROP_SIDE, GLYPH_OF_LINE, aspect, sizes=(rng.uniform(0.9, 1.15),), shifts=(0.0,))[0]
    return grey_input(win, size)
