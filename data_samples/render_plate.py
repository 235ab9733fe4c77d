"""Licence plates and ADR orange panels as images at a given scale (pixels per metre).

Sizes are the physical ones: VN one-line 520×110 mm, VN two-line 280×200 mm, CN yellow front 440×140 mm,
CN yellow rear (two-line) 440×220 mm, ADR panel 400×300 mm.
"""

from __future__ import annotations

import cv2
import numpy as np

from data_samples.codes import Plate
from data_samples.draw import add_dirt, put_text, textured
from data_samples.fonts import CJK_FACE, CONTAINER_FACES, PLATE_FACES

YELLOW = (20, 200, 245)
BLACK = (20, 20, 20)


def plate_size_m(plate: Plate) -> tuple[float, float]:
    if plate.country == "VN":
        return (0.52, 0.11) if plate.lines == 1 else (0.28, 0.20)
    return (0.44, 0.14) if plate.lines == 1 else (0.44, 0.22)


def _line(img: np.ndarray, text: str, face: str, x: int, y: int, w: int, h: int) -> None:
    """Lay a line out character by character so CJK glyphs can use their own font."""
    chars = [c for c in text]
    widths = [0.3 if c in "-.·" else (0.55 if c == " " else 1.0) for c in chars]
    total = sum(widths)
    cx = float(x)
    for c, cw in zip(chars, widths, strict=True):
        pw = w * cw / total
        if c == " ":
            pass
        elif c in "-.·":
            r = max(1, int(h * 0.06))
            cy = y + (h // 2 if c in "-·" else h - r)
            if c == "-":
                cv2.rectangle(img, (int(cx + pw * 0.1), cy - r), (int(cx + pw * 0.9), cy + r), BLACK, -1)
            else:
                cv2.circle(img, (int(cx + pw / 2), cy), r + 1, BLACK, -1, lineType=cv2.LINE_AA)
        else:
            f = CJK_FACE if ord(c) > 0x2FFF else face
            put_text(img, c, f, (int(cx + pw * 0.08), y, max(1, int(pw * 0.84)), h), BLACK)
        cx += pw


def render_plate(plate: Plate, rng: np.random.Generator, px_per_m: float, dirt: float = 0.2) -> np.ndarray:
    wm, hm = plate_size_m(plate)
    w, h = int(wm * px_per_m), int(hm * px_per_m)
    img = textured(rng, h, w, YELLOW, grain=4, blotch=6)
    face = str(rng.choice(PLATE_FACES))
    b = max(2, h // 28)
    cv2.rectangle(img, (b, b), (w - 1 - b, h - 1 - b), BLACK, max(1, b), lineType=cv2.LINE_AA)
    pad = 3 * b
    if plate.lines == 1:
        _line(img, plate.top, face, pad + b, int(h * 0.14), w - 2 * pad - 2 * b, int(h * 0.72))
    elif plate.country == "VN":
        _line(img, plate.top, face, int(w * 0.22), int(h * 0.08), int(w * 0.56), int(h * 0.38))
        _line(img, plate.bottom, face, pad + b, int(h * 0.54), w - 2 * pad - 2 * b, int(h * 0.38))
    else:  # CN rear plate: small province + authority letter on top, five big characters below
        _line(img, plate.top, face, int(w * 0.30), int(h * 0.08), int(w * 0.40), int(h * 0.26))
        _line(img, plate.bottom, face, pad + b, int(h * 0.40), w - 2 * pad - 2 * b, int(h * 0.50))
    for bx in (int(w * 0.1), int(w * 0.9)):  # bolts, in the top margin
        cv2.circle(img, (bx, pad), max(1, h // 40), (90, 110, 120), -1)
    if dirt > 0:
        add_dirt(img, rng, dirt)
    return img


def render_adr(hazard_id: str, un: str, rng: np.random.Generator, px_per_m: float, dirt: float = 0.1) -> np.ndarray:
    """Orange panel, hazard identification number on top, UN number below, black border and divider."""
    w, h = int(0.40 * px_per_m), int(0.30 * px_per_m)
    img = textured(rng, h, w, (0, 120, 240), grain=4, blotch=5)
    b = max(2, h // 18)
    cv2.rectangle(img, (0, 0), (w - 1, h - 1), BLACK, b)
    cv2.line(img, (0, h // 2), (w, h // 2), BLACK, b)
    face = str(rng.choice(CONTAINER_FACES[:2]))
    put_text(img, hazard_id, face, (int(w * 0.15), int(h * 0.09), int(w * 0.7), int(h * 0.33)), BLACK,
             keep_aspect=True)
    put_text(img, un, face, (int(w * 0.1), int(h * 0.58), int(w * 0.8), int(h * 0.33)), BLACK, keep_aspect=True)
    if dirt > 0:
        add_dirt(img, rng, dirt)
    return img
