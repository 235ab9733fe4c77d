"""Synthetic plate crops for the plate recogniser: every layout and colour of both countries, plus Latin
plates of other countries and non-plate negatives (timestamps, signs), with camera degradations.

Why: the real VN crops come from one parking camera (white car plates, daytime) and the real CN crops are all
one-line; two-line truck plates, yellow/blue/green plates, moto series, night and dirt only exist here. The
glyphs are drawn with the footage generator's helpers (`data_samples.draw`, `data_samples.fonts`).
No torch here.
"""

from __future__ import annotations

import cv2
import numpy as np

from data_samples.draw import add_dirt, put_text, smooth_noise, textured
from data_samples.fonts import CJK_FACE, PLATE_FACES
from edge.readers.plate_rec import CN_PROVINCES

DIG = "0123456789"
VN_SER = "ABCDEFGHKLMNPSTUVXYZ"
CN_LET = "ABCDEFGHJKLMNPQRSTUVWXYZ"
LAT = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BLACK, WHITE = (20, 20, 20), (235, 235, 235)
# (background BGR, ink BGR)
VN_COLOURS = [((225, 228, 230), BLACK)] * 5 + [((20, 200, 245), BLACK)] * 4 + [((150, 60, 20), WHITE)]
CN_BLUE, CN_YELLOW, CN_GREEN = ((170, 70, 15), WHITE), ((20, 190, 240), BLACK), ((120, 215, 150), BLACK)


def _c(rng: np.random.Generator, s: str, n: int = 1) -> str:
    return "".join(s[int(i)] for i in rng.integers(0, len(s), n))


def _digits(rng: np.random.Generator, n: int) -> str:
    return _c(rng, DIG, n)


def vn_plate(rng: np.random.Generator) -> tuple[str, list[str], tuple]:
    """(label, printed lines, colours): car/truck one- and two-line, moto two-line, trailer, foreign."""
    prov = str(int(rng.integers(11, 100)))
    r = rng.random()
    num = _digits(rng, 5 if rng.random() < 0.8 else 4)
    nd = f"{num[:3]}.{num[3:]}" if len(num) == 5 else num
    colours = VN_COLOURS[int(rng.integers(0, len(VN_COLOURS)))]
    if r < 0.12:  # motorbike: 59-P1 / 664.80, white
        ser = _c(rng, VN_SER) + (_c(rng, DIG[1:]) if rng.random() < 0.7 else _c(rng, VN_SER))
        return prov + ser + num, [f"{prov}-{ser}", nd], ((225, 228, 230), BLACK)
    if r < 0.16:  # foreign / diplomatic
        kind = str(rng.choice(["NG", "QT", "NN"]))
        tail = _digits(rng, int(rng.integers(3, 6)))
        return prov + kind + tail, [f"{prov}{kind}-{tail}"], ((225, 228, 230), (30, 30, 200))
    ser = _c(rng, VN_SER, 1 if rng.random() < 0.75 else 2) if rng.random() > 0.04 else "R"
    if rng.random() < 0.45:
        return prov + ser + num, [f"{prov}{ser}", nd], colours
    return prov + ser + num, [f"{prov}{ser}-{nd}"], colours


def cn_plate(rng: np.random.Generator) -> tuple[str, list[str], tuple]:
    """CN ordinary blue/yellow one-line, yellow two-line rear, green NEV, 挂/学/警 suffixes."""
    head = _c(rng, CN_PROVINCES) + _c(rng, CN_LET)
    r = rng.random()
    if r < 0.12:  # new-energy, 8 characters
        tail = (_c(rng, "DABCEFGHJK") + _c(rng, CN_LET + DIG) + _digits(rng, 4)) if rng.random() < 0.5 \
            else _digits(rng, 5) + _c(rng, "DABCEFGHJK")
        return head + tail, [f"{head}·{tail}"], CN_GREEN
    chars = list(_digits(rng, 5))
    for _ in range(int(rng.integers(0, 3))):
        chars[int(rng.integers(0, 5))] = _c(rng, CN_LET)
    if rng.random() < 0.06:
        chars[4] = str(rng.choice(list("挂学警港澳")))
    serial = "".join(chars)
    if r < 0.40:  # yellow rear two-line
        return head + serial, [f"{head[0]} {head[1]}", serial], CN_YELLOW
    colours = CN_BLUE if rng.random() < 0.7 else CN_YELLOW
    return head + serial, [f"{head}·{serial}"], colours


def other_plate(rng: np.random.Generator) -> tuple[str, list[str], tuple]:
    """Latin plates of other countries (EU/Mercosur/older shapes), so the alphabet's I/O/Q/W get used."""
    shapes = ["LL DDD LL", "LLL DDD", "LL DDDDD", "LLL DDDD", "D LLL DDD", "LLDD LLL", "LL DDDD L", "LL DDD"]
    shape = str(rng.choice(shapes))
    out = "".join(_c(rng, LAT) if ch == "L" else (_digits(rng, 1) if ch == "D" else " ") for ch in shape)
    bg = [((235, 235, 235), BLACK), ((30, 200, 240), BLACK), ((30, 30, 30), WHITE)][int(rng.choice(3, p=[.7, .2, .1]))]
    return out.replace(" ", ""), [out], bg


def negative(rng: np.random.Generator) -> tuple[str, list[str], tuple]:
    """Not a plate: camera timestamps, speeds, words. Label empty: the recogniser should emit nothing."""
    r = rng.random()
    if r < 0.5:
        y, mo, d = int(rng.integers(2015, 2027)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        hh, mm, ss = int(rng.integers(0, 24)), int(rng.integers(0, 60)), int(rng.integers(0, 60))
        sep = str(rng.choice(["-", "/", "."]))
        txt = f"{y}{sep}{mo:02d}{sep}{d:02d} {hh:02d}:{mm:02d}:{ss:02d}" if rng.random() < 0.7 else f"{hh:02d}:{mm:02d}:{ss:02d}"
    elif r < 0.75:
        txt = str(rng.choice(["KM/H", "CAM 01", "LANE 2", "EXIT", "STOP", "HINO", "ISUZU", "HOWO", "FOTON"]))
    else:
        txt = ""
    bg = ((20, 20, 20), (30, 30, 230)) if rng.random() < 0.5 else ((200, 200, 200), BLACK)
    return "", [txt], bg


def _draw_line(img: np.ndarray, text: str, face: str, box: tuple[int, int, int, int], ink: tuple) -> None:
    x, y, w, h = box
    widths = [0.3 if c in "-.·" else (0.55 if c == " " else 1.0) for c in text]
    total = sum(widths) or 1.0
    cx = float(x)
    for c, cw in zip(text, widths, strict=True):
        pw = w * cw / total
        if c in "-.·":
            r = max(1, int(h * 0.06))
            cy = y + (h // 2 if c in "-·" else h - r)
            if c == "-":
                cv2.rectangle(img, (int(cx + pw * 0.1), cy - r), (int(cx + pw * 0.9), cy + r), ink, -1)
            else:
                cv2.circle(img, (int(cx + pw / 2), cy), r + 1, ink, -1, lineType=cv2.LINE_AA)
        elif c != " ":
            f = CJK_FACE if ord(c) > 0x2FFF else face
            put_text(img, c, f, (int(cx + pw * 0.08), y, max(1, int(pw * 0.84)), h), ink)
        cx += pw


def draw_plate(lines: list[str], colours: tuple, rng: np.random.Generator, height: int = 64) -> np.ndarray:
    """Flat frontal plate: one line at ~4.2:1 (VN) / 3.2:1 (CN), two lines at ~1.4-2:1."""
    bg, ink = colours
    two = len(lines) == 2
    aspect = float(rng.uniform(1.3, 2.1)) if two else float(rng.uniform(2.9, 4.8))
    h, w = height, int(height * aspect)
    img = textured(rng, h, w, bg, grain=float(rng.uniform(2, 8)), blotch=float(rng.uniform(3, 10)))
    if bg[0] > 100 and bg[1] < 120:  # CN blue: a gradient is common
        img = np.clip(img.astype(np.float32) * np.linspace(1.1, 0.85, h)[:, None, None], 0, 255).astype(np.uint8)
    b = max(2, h // 24)
    if rng.random() < 0.85:
        cv2.rectangle(img, (b, b), (w - 1 - b, h - 1 - b), ink, max(1, b // 2 + 1), lineType=cv2.LINE_AA)
    face = str(rng.choice(PLATE_FACES))
    pad = 3 * b
    if not two:
        _draw_line(img, lines[0], face, (pad, int(h * 0.14), w - 2 * pad, int(h * 0.72)), ink)
    else:
        cn_top = " " in lines[0]
        tw = 0.40 if cn_top else float(rng.uniform(0.5, 0.75))
        th = 0.30 if cn_top else 0.38
        _draw_line(img, lines[0], face, (int(w * (1 - tw) / 2), int(h * 0.07), int(w * tw), int(h * th)), ink)
        _draw_line(img, lines[1], face, (pad, int(h * (th + 0.14)), w - 2 * pad, int(h * (0.90 - th - 0.08))), ink)
    return img


def degrade(plate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera view of a flat plate: perspective, margin/crop jitter on a background, dirt, light, blur, low
    resolution, noise, JPEG."""
    h, w = plate.shape[:2]
    if rng.random() < 0.5:
        add_dirt(plate, rng, float(rng.uniform(0.05, 0.5)))
    # place on a background with random margins, then warp
    mx, my = float(rng.uniform(-0.03, 0.18)), float(rng.uniform(-0.05, 0.35))
    H, W = int(h * (1 + 2 * abs(my))) + 4, int(w * (1 + 2 * abs(mx))) + 4
    bgc = rng.integers(20, 230, 3).tolist()
    canvas = textured(rng, H, W, tuple(bgc), grain=8, blotch=25)
    ox, oy = (W - w) // 2, (H - h) // 2
    canvas[oy:oy + h, ox:ox + w] = plate
    src = np.float32([[ox, oy], [ox + w, oy], [ox + w, oy + h], [ox, oy + h]])
    j = rng.normal(0, 0.035, (4, 2)) * np.float32([w, h])
    dst = src + j.astype(np.float32)
    ang = np.deg2rad(rng.normal(0, 3))
    c, s = np.cos(ang), np.sin(ang)
    ctr = dst.mean(axis=0)
    dst = (dst - ctr) @ np.float32([[c, -s], [s, c]]).T + ctr
    M = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    warped = cv2.warpPerspective(canvas, M, (W, H), borderMode=cv2.BORDER_REPLICATE)
    # crop: the plate's warped box plus a margin (negative = text cut tight)
    x0, y0 = dst.min(axis=0)
    x1, y1 = dst.max(axis=0)
    ex, ey = mx * w, my * h * 0.5
    cx0, cy0 = int(max(0, x0 - ex)), int(max(0, y0 - ey))
    cx1, cy1 = int(min(W, x1 + ex)), int(min(H, y1 + ey))
    img = warped[cy0:max(cy1, cy0 + 8), cx0:max(cx1, cx0 + 16)]
    # light: night, glare, shadow
    f = img.astype(np.float32)
    r = rng.random()
    if r < 0.2:  # night / IR-ish
        f = f * rng.uniform(0.2, 0.5) + rng.uniform(0, 20)
    elif r < 0.35:
        f = f * rng.uniform(1.1, 1.6)  # overexposed
    if rng.random() < 0.3:
        f = f + smooth_noise(rng, f.shape[0], f.shape[1], max(4, f.shape[1] / 3), 40)[..., None]
    img = np.clip(f, 0, 255).astype(np.uint8)
    if rng.random() < 0.15:
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    # resolution: text height 10-60 px
    target_h = int(rng.uniform(18, 70))
    s = target_h / img.shape[0]
    small = cv2.resize(img, (max(8, int(img.shape[1] * s)), max(6, target_h)), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        k = int(rng.choice([3, 5]))
        small = cv2.GaussianBlur(small, (k, k), float(rng.uniform(0.3, 1.4)))
    elif rng.random() < 0.3:  # horizontal motion blur
        k = int(rng.integers(3, 7))
        small = cv2.filter2D(small, -1, np.ones((1, k), np.float32) / k)
    small = np.clip(small.astype(np.float32) + rng.normal(0, rng.uniform(0, 10), small.shape), 0, 255).astype(np.uint8)
    q = int(rng.integers(15, 95))
    ok, enc = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(enc, cv2.IMREAD_COLOR) if ok else small


def synth_sample(rng: np.random.Generator, mix: tuple[float, float, float, float] = (0.42, 0.38, 0.13, 0.07)
                 ) -> tuple[np.ndarray, str, str, int]:
    """(BGR crop, label, country, lines). mix = VN, CN, OTHER, negative shares."""
    k = int(rng.choice(4, p=np.asarray(mix) / sum(mix)))
    label, lines, colours = (vn_plate, cn_plate, other_plate, negative)[k](rng)
    img = degrade(draw_plate(lines, colours, rng, int(rng.integers(48, 96))), rng)
    return img, label, ("VN", "CN", "OTHER", "NEG")[k], len(lines)
