"""Drawing CN plate glyphs: fonts, colour schemes, one glyph's mask and a plate background.

Shared by the province-glyph training (train_cn_province.py) and the plate-line renders (cn_province_lines.py).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIZE = 32  # model input side (grey)
CROP_SIDE = 1.25  # crop side / glyph height (the runtime uses the same framing)
PX_PER_MM = 2.0  # render scale of the plate canvas
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"

# (file, face index) — Noto/ARPHIC come from fonts-noto-cjk / fonts-arphic-*; only what is installed is used
CJK_FONTS = [
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),  # SC
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Black.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", 2),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),
]
LATIN_FONTS = [
    ("/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf", 0),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 0),
    ("/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Bold.ttf", 0),
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf", 0),
]
# plate colour schemes (BGR background, BGR glyph); weights favour the common blue plate
SCHEMES = {
    "blue": ((170, 70, 15), (245, 245, 245), 0.55),
    "yellow": ((20, 190, 235), (25, 25, 25), 0.25),
    "green": ((110, 210, 120), (25, 25, 25), 0.12),
    "black": ((25, 25, 25), (240, 240, 240), 0.08),
}


def available(fonts: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [f for f in fonts if Path(f[0]).is_file()]


@cache
def glyph_mask(char: str, font: tuple[str, int], h: int = 180, w: int = 90) -> np.ndarray:
    """The character's ink, tight-cropped and stretched to w×h (plate glyphs are condensed 1:2)."""
    f = ImageFont.truetype(font[0], 200, index=font[1])
    img = Image.new("L", (320, 320), 0)
    ImageDraw.Draw(img).text((40, 20), char, fill=255, font=f)
    a = np.asarray(img)
    ys, xs = np.nonzero(a > 60)
    if len(xs) == 0:
        raise ValueError(f"{char!r} not in {font[0]}")
    a = a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Car body / bumper / scene around the plate: a random colour with a gradient and noise."""
    base = rng.integers(0, 256, 3).astype(np.float32)
    gx = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    gy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = base + rng.normal(0, 40, 3).astype(np.float32) * gx + rng.normal(0, 40, 3).astype(np.float32) * gy
    img = img + rng.normal(0, 8, (h, w, 1)).astype(np.float32)
    return img
