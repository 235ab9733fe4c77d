"""Small drawing helpers shared by the renderers: text masks, alpha blending, textures, dirt."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw

from data_samples.fonts import CJK_FACE, font

Color = tuple[int, int, int]  # BGR


@lru_cache(maxsize=512)
def _ink_mask(text: str, face: str, size: int) -> np.ndarray:
    """Anti-aliased mask of `text`, cropped to its ink (read-only; cached)."""
    f = font(face, size)
    x0, y0, x1, y1 = f.getbbox(text)
    img = Image.new("L", (max(1, x1 - x0) + 4, max(1, y1 - y0) + 4), 0)
    ImageDraw.Draw(img).text((2 - x0, 2 - y0), text, font=f, fill=255)
    m = np.asarray(img)
    ys, xs = np.nonzero(m)
    if len(xs) == 0:
        return m
    out = m[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1].copy()
    out.setflags(write=False)
    return out


def text_mask(text: str, face: str, w: int, h: int, keep_aspect: bool = False) -> np.ndarray:
    """Mask of `text` filling w × h (stretched, like condensed plate lettering) or fitted inside it."""
    m = _ink_mask(text, face, max(8, min(200, int(h * 1.3))))
    if keep_aspect:
        s = min(w / m.shape[1], h / m.shape[0])
        w, h = max(1, int(m.shape[1] * s)), max(1, int(m.shape[0] * s))
    return cv2.resize(m, (max(1, w), max(1, h)), interpolation=cv2.INTER_AREA)


def blend(img: np.ndarray, color: Color | np.ndarray, mask: np.ndarray, x: int, y: int, opacity: float = 1.0) -> None:
    """Alpha-blend a solid colour (or an image the mask's size) into img at (x, y), clipped to img."""
    h, w = mask.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(img.shape[1], x + w), min(img.shape[0], y + h)
    if x1 <= x0 or y1 <= y0:
        return
    a = mask[y0 - y: y1 - y, x0 - x: x1 - x].astype(np.float32)[..., None] * (opacity / 255.0)
    src = (np.asarray(color, np.float32) if not isinstance(color, np.ndarray)
           else color[y0 - y: y1 - y, x0 - x: x1 - x].astype(np.float32))
    roi = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = (roi * (1 - a) + src * a).astype(np.uint8)


def put_text(img: np.ndarray, text: str, face: str, box: tuple[int, int, int, int], color: Color,
             keep_aspect: bool = False, opacity: float = 1.0) -> tuple[int, int, int, int]:
    """Draw text into box (x, y, w, h); returns the box actually inked. CJK text switches to the CJK face."""
    x, y, w, h = box
    if any(ord(c) > 0x2FFF for c in text):
        face = CJK_FACE
    m = text_mask(text, face, w, h, keep_aspect)
    if keep_aspect:  # centre the fitted text in the box
        x, y = x + (w - m.shape[1]) // 2, y + (h - m.shape[0]) // 2
    blend(img, color, m, x, y, opacity)
    return x, y, m.shape[1], m.shape[0]


def smooth_noise(rng: np.random.Generator, h: int, w: int, scale: float, amp: float) -> np.ndarray:
    """Zero-mean low-frequency noise (float32, h × w) — stains, asphalt, cloud light."""
    sh, sw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
    small = rng.normal(0, 1, (sh, sw)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return big * amp


def textured(rng: np.random.Generator, h: int, w: int, color: Color, grain: float = 6.0,
             blotch: float = 10.0) -> np.ndarray:
    base = np.empty((h, w, 3), np.float32)
    base[:] = color
    n = smooth_noise(rng, h, w, 40, blotch) + rng.normal(0, grain, (h, w)).astype(np.float32)
    return np.clip(base + n[..., None], 0, 255).astype(np.uint8)


def add_dirt(img: np.ndarray, rng: np.random.Generator, amount: float) -> None:
    """Mud splashes and grime: brownish translucent blotches, denser towards the bottom edge."""
    h, w = img.shape[:2]
    grime = np.clip(smooth_noise(rng, h, w, max(4, min(h, w) / 6), 1.0) + np.linspace(-0.8, 0.6, h)[:, None], 0, 1)
    a = (grime * amount * 160).astype(np.uint8)
    blend(img, (40, 70, 95), a, 0, 0)
    spots = np.zeros((h, w), np.uint8)
    for _ in range(int(amount * 30)):
        cx, cy = int(rng.integers(0, w)), int(rng.integers(h // 3, h))
        r = max(1, int(rng.integers(1, max(2, h // 22))))
        cv2.circle(spots, (cx, cy), r, 150, -1, lineType=cv2.LINE_AA)
    blend(img, (45, 75, 100), spots, 0, 0)


def shade_vertical(img: np.ndarray, top: float, bottom: float) -> None:
    """Multiply rows by a gradient (light from above)."""
    g = np.linspace(top, bottom, img.shape[0], dtype=np.float32)[:, None, None]
    img[:] = np.clip(img.astype(np.float32) * g, 0, 255).astype(np.uint8)
