"""One truck as three sprites (BGRA): its front (plate camera), its side (container camera), its top (cargo camera).

Sprites are drawn once per truck at a fixed scale and warped/pasted per frame by scene.py. Side and top
sprites have column 0 at the front bumper: trucks move right-to-left in both views, so the door end of a
container (where the code sits, top right) trails.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from data_samples.codes import Plate
from data_samples.draw import add_dirt, blend, put_text, shade_vertical, smooth_noise, text_mask, textured
from data_samples.fonts import CJK_FACE, SIGN_FACES
from data_samples.render_plate import plate_size_m, render_adr, render_plate

FRONT_PX_M = 700.0  # front sprite: 2.8 m × 3.6 m
FRONT_W_M, FRONT_H_M = 2.8, 3.6
SIDE_PX_M = 200.0  # side sprite shows heights SIDE_LO_M..SIDE_HI_M only (the camera's band)
SIDE_LO_M, SIDE_HI_M = 1.95, 4.20
TOP_PX_M = 68.0  # top sprite: 2.6 m wide
TOP_W_M = 2.6
CAB_LEN_M = 2.4
DECK_M = 1.45

Color = tuple[int, int, int]


@dataclass
class ContainerSpec:
    code: str
    size_type: str
    layout: str  # horizontal | two_line | vertical
    color: Color
    brand: str
    face: str

    @property
    def length_m(self) -> float:
        return {"2": 6.06, "4": 12.19, "L": 13.72}[self.size_type[0]]

    @property
    def height_m(self) -> float:
        return 2.90 if self.size_type[1] == "5" else 2.59


@dataclass
class TruckSpec:
    id: str
    body: str  # container | tank | open | tarp | flatbed
    plate: Plate
    cargo: str  # truth class: fertilizer, coke_coal, chemicals, agricultural, electronics, closed, empty
    visual: str  # what the top camera sees: container_roof, open_top, tank, sacks, coal, drums, crates, cartons, tarp, deck
    containers: list[ContainerSpec] = field(default_factory=list)
    hazard: tuple[str, str] | None = None
    cab_color: Color = (200, 200, 200)
    body_color: Color = (60, 90, 140)
    speed_mps: float = 4.5
    stop_s: float = 0.0
    dirt: float = 0.2
    plate_glare: bool = False
    plate_dx: float = 0.0  # lateral offset of the plate on the bumper, metres
    company: str = "VẬN TẢI HÀ GIANG"
    phone: str = "0912.345.678"

    @property
    def body_len_m(self) -> float:
        if self.containers:
            return sum(c.length_m for c in self.containers) + 0.25 * (len(self.containers) - 1)
        return 6.8

    @property
    def length_m(self) -> float:
        return CAB_LEN_M + 0.4 + self.body_len_m + 0.3


def _bgra(img: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return np.dstack([img, alpha])


def _lum(c: Color) -> float:
    return 0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2]


# ---------------------------------------------------------------- front (plate camera)

def render_front(t: TruckSpec, rng: np.random.Generator) -> np.ndarray:
    p = FRONT_PX_M
    w, h = int(FRONT_W_M * p), int(FRONT_H_M * p)
    img = np.zeros((h, w, 3), np.uint8)
    alpha = np.zeros((h, w), np.uint8)

    def X(m: float) -> int:  # lateral metres (0 = centre) -> column
        return int((m + FRONT_W_M / 2) * p)

    def Y(m: float) -> int:  # height above ground -> row
        return int((FRONT_H_M - m) * p)

    top = 3.15 if t.body in ("container", "tank") else 2.95
    cab = textured(rng, Y(0.5) - Y(top), X(1.2) - X(-1.2), t.cab_color, grain=3, blotch=8)
    shade_vertical(cab, 1.1, 0.8)
    img[Y(top):Y(0.5), X(-1.2):X(1.2)] = cab
    cv2.rectangle(alpha, (X(-1.2), Y(top)), (X(1.2), Y(0.0)), 255, -1)
    # wheels under the bumper
    for xs in ((-1.15, -0.8), (0.8, 1.15)):
        cv2.rectangle(img, (X(xs[0]), Y(0.55)), (X(xs[1]), Y(0.0)), (25, 25, 28), -1)
    cv2.rectangle(img, (X(-0.8), Y(0.5)), (X(0.8), Y(0.0)), (50, 55, 60), -1)  # axle shadow
    # windshield: dark glass, sky reflection band
    ws = np.zeros((Y(1.75) - Y(top - 0.35), X(1.05) - X(-1.05), 3), np.uint8)
    ws[:] = (70, 55, 45)
    shade_vertical(ws, 1.5, 0.7)
    hh, ww = ws.shape[:2]
    band = np.zeros((hh, ww), np.uint8)
    x0 = int(rng.uniform(0.1, 0.6) * ww)
    cv2.fillPoly(band, [np.array([[x0, 0], [x0 + ww // 5, 0], [x0 + ww // 5 - hh // 2, hh], [x0 - hh // 2, hh]])], 90)
    blend(ws, (230, 225, 220), cv2.GaussianBlur(band, (0, 0), 15), 0, 0)
    img[Y(top - 0.35):Y(1.75), X(-1.05):X(1.05)] = ws
    put_text(img, t.phone, "DejaVuSans-Bold.ttf", (X(-0.9), Y(1.95), X(-0.1) - X(-0.9), int(0.12 * p)), (235, 235, 235))
    brand = str(rng.choice(["KAIMA", "LONGMA", "VIỆT TRUNG", "HẢI ÂU", "DAYUN", "SHACMAN"]))
    put_text(img, brand, str(rng.choice(SIGN_FACES)), (X(-0.5), Y(top - 0.05), X(0.5) - X(-0.5), int(0.2 * p)),
             (225, 225, 230) if _lum(t.cab_color) < 140 else (40, 40, 40), keep_aspect=True)
    # grille and headlights
    cv2.rectangle(img, (X(-0.65), Y(1.65)), (X(0.65), Y(0.95)), (40, 40, 42), -1)
    for k in range(8):
        yy = Y(1.6 - k * 0.085)
        cv2.line(img, (X(-0.62), yy), (X(0.62), yy), (95, 95, 100), max(2, int(0.02 * p)))
    for sx in (-1, 1):
        cv2.rectangle(img, (X(sx * 0.8), Y(1.1)), (X(sx * 1.12), Y(0.88)), (210, 230, 235), -1)
        cv2.rectangle(img, (X(sx * 0.8), Y(1.1)), (X(sx * 1.12), Y(0.88)), (60, 60, 60), 4)
        # mirror arm and head
        cv2.line(img, (X(sx * 1.2), Y(2.6)), (X(sx * 1.33), Y(2.5)), (30, 30, 30), 12)
        cv2.rectangle(img, (X(sx * 1.28), Y(2.6)), (X(sx * 1.39), Y(1.95)), (30, 30, 30), -1)
        cv2.rectangle(alpha, (X(min(sx * 1.2, sx * 1.39)), Y(2.65)), (X(max(sx * 1.2, sx * 1.39)), Y(1.95)), 255, -1)
    # bumper
    bump = textured(rng, Y(0.35) - Y(0.9), X(1.25) - X(-1.25), (70, 72, 75), grain=3, blotch=4)
    img[Y(0.9):Y(0.35), X(-1.25):X(1.25)] = bump
    cv2.rectangle(alpha, (X(-1.25), Y(0.9)), (X(1.25), Y(0.35)), 255, -1)
    # licence plate, centred on the bumper (bottom edge at 0.45 m)
    pw, ph = plate_size_m(t.plate)
    plate = render_plate(t.plate, rng, p, dirt=t.dirt)
    if t.plate_glare:
        g = np.zeros(plate.shape[:2], np.uint8)
        cv2.ellipse(g, (int(plate.shape[1] * rng.uniform(0.3, 0.7)), int(plate.shape[0] * 0.35)),
                    (plate.shape[1] // 5, plate.shape[0] // 3), -20, 0, 360, 200, -1)
        blend(plate, (250, 250, 250), cv2.GaussianBlur(g, (0, 0), plate.shape[0] / 8), 0, 0)
    off = t.plate_dx
    px0, py0 = X(off - pw / 2), Y(0.45 + ph)
    img[py0:py0 + plate.shape[0], px0:px0 + plate.shape[1]] = plate
    cv2.rectangle(img, (px0 - 3, py0 - 3), (px0 + plate.shape[1] + 3, py0 + plate.shape[0] + 3), (30, 30, 30), 4)
    if t.hazard:  # ADR panel on the grille
        adr = render_adr(t.hazard[0], t.hazard[1], rng, p, dirt=t.dirt / 2)
        ax, ay = X(0.45), Y(0.82)  # low on the bumper, beside the plate, on the side the camera sees
        img[ay:ay + adr.shape[0], ax:ax + adr.shape[1]] = adr
    add_dirt(img[Y(1.0):, :], rng, t.dirt * 0.6)
    return _bgra(img, alpha)


# ---------------------------------------------------------------- side (container camera)

def _container_side(c: ContainerSpec, rng: np.random.Generator, p: float) -> np.ndarray:
    """Side wall of one container, full height, door end on the right."""
    w, h = int(c.length_m * p), int(c.height_m * p)
    img = textured(rng, h, w, c.color, grain=4, blotch=9)
    # trapezoidal corrugation: periodic light/dark vertical bands
    xs = np.arange(w, dtype=np.float32) / p
    corr = 0.88 + 0.14 * np.clip(np.sin(xs / 0.278 * 2 * np.pi) * 2.5, -1, 1)
    img[:] = np.clip(img.astype(np.float32) * corr[None, :, None], 0, 255).astype(np.uint8)
    rail = max(2, int(0.08 * p))
    dark = tuple(int(v * 0.6) for v in c.color)
    cv2.rectangle(img, (0, 0), (w, rail), dark, -1)
    cv2.rectangle(img, (0, h - rail), (w, h), dark, -1)
    post = max(2, int(0.16 * p))
    cv2.rectangle(img, (0, 0), (post, h), dark, -1)
    cv2.rectangle(img, (w - post, 0), (w, h), dark, -1)
    fg = (240, 240, 240) if _lum(c.color) < 150 else (25, 25, 25)
    # brand name, big, mid-side (distractor text)
    put_text(img, c.brand, str(rng.choice(SIGN_FACES)), (int(w * 0.2), int(h * 0.3), int(w * 0.45), int(0.45 * p)),
             fg, keep_aspect=True, opacity=0.9)
    ch = int((0.15 if c.layout != "vertical" else 0.14) * p)  # character height 140-150 mm
    owner, serial, check = c.code[:4], c.code[4:10], c.code[10]
    right = w - post - int(0.25 * p)
    y0 = rail + int(0.14 * p)

    def boxed(x: int, y: int, size: int) -> None:
        put_text(img, check, c.face, (x + size // 5, y, int(size * 0.6), size), fg)
        cv2.rectangle(img, (x, y - size // 8), (x + size, y + size + size // 8), fg, max(2, size // 12))

    def line(text: str, x_right: int, y: int, size: int) -> int:
        m = text_mask(text, c.face, int(len(text) * size * 0.62), size)
        blend(img, fg, m, x_right - m.shape[1], y)
        return x_right - m.shape[1]

    if c.layout == "horizontal":
        x = right - ch
        boxed(x, y0, ch)
        x = line(serial, x - ch // 2, y0, ch)
        line(owner, x - ch // 2, y0, ch)
        line(c.size_type, right, y0 + int(ch * 1.5), int(ch * 0.85))
    elif c.layout == "two_line":
        x = right - ch
        boxed(x, y0 + int(ch * 1.4), ch)
        x_ser = line(serial, x - ch // 2, y0 + int(ch * 1.4), ch)
        line(owner, x_ser + int(len(serial) * ch * 0.62 * 0.66), y0, ch)
        line(c.size_type, right, y0 + int(ch * 2.9), int(ch * 0.85))
    else:  # vertical, one character per row, next to the corner post
        cw = int(ch * 0.75)
        x = right - cw
        y = y0
        for k, chx in enumerate(owner + serial):
            put_text(img, chx, c.face, (x, y, cw, ch), fg, keep_aspect=True)
            y += int(ch * 1.08) + (ch // 4 if k == 3 else 0)
        boxed(x - ch // 8, y + ch // 6, ch)
        line(c.size_type, x - ch, y0, int(ch * 0.85))
    # weights panel near the door end, low: small digits as distractors
    small = int(0.05 * p)
    for k, txt in enumerate(["MAX.GROSS 30.480 KG", "TARE 2.220 KG", "NET 28.260 KG"]):
        put_text(img, txt, "DejaVuSans.ttf", (int(w * 0.72), int(h * 0.55) + k * int(small * 1.5), small * 9, small),
                 fg, keep_aspect=True)
    if rng.random() < 0.5:  # specular glare streak
        g = np.zeros((h, w), np.uint8)
        gx = int(rng.uniform(0.3, 0.95) * w)
        cv2.line(g, (gx, 0), (gx - h // 3, h), 170, int(0.3 * p))
        blend(img, (245, 245, 245), cv2.GaussianBlur(g, (0, 0), 0.12 * p), 0, 0)
    add_dirt(img, rng, 0.25)
    return img


def render_side(t: TruckSpec, rng: np.random.Generator) -> np.ndarray:
    p = SIDE_PX_M
    w, h = int(t.length_m * p), int((SIDE_HI_M - SIDE_LO_M) * p)
    img = np.zeros((h, w, 3), np.uint8)
    alpha = np.zeros((h, w), np.uint8)

    def X(m: float) -> int:  # metres behind the front bumper -> column
        return int(m * p)

    def Y(m: float) -> int:  # height above ground -> row (may fall outside the band)
        return int((SIDE_HI_M - m) * p)

    def fill(x0: float, x1: float, y_lo: float, y_hi: float, tile: np.ndarray | Color) -> None:
        c0, c1, r0, r1 = max(0, X(x0)), min(w, X(x1)), max(0, Y(y_hi)), min(h, Y(y_lo))
        if c1 <= c0 or r1 <= r0:
            return
        if isinstance(tile, np.ndarray):
            img[r0:r1, c0:c1] = tile[r0 - Y(y_hi): r1 - Y(y_hi), c0 - X(x0): c1 - X(x0)]
        else:
            img[r0:r1, c0:c1] = tile
        alpha[r0:r1, c0:c1] = 255

    cab_top = 3.75 if t.body in ("container", "tank") else 3.3
    cab = textured(rng, Y(1.0) - Y(cab_top), X(CAB_LEN_M), t.cab_color, grain=3, blotch=8)
    shade_vertical(cab, 1.1, 0.85)
    cv2.rectangle(cab, (int(0.25 * p), int(0.25 * p)), (int(1.2 * p), int(0.9 * p)), (80, 60, 50), -1)  # window
    put_text(cab, t.company, str(rng.choice(SIGN_FACES)),
             (int(0.15 * p), int(1.05 * p), int(2.0 * p), int(0.12 * p)),
             (30, 30, 30) if _lum(t.cab_color) > 120 else (230, 230, 230), keep_aspect=True)
    fill(0, CAB_LEN_M, 1.0, cab_top, cab)
    b0 = CAB_LEN_M + 0.4
    if t.body == "container":
        x = b0
        for c in t.containers:
            side = _container_side(c, rng, p)
            fill(x, x + c.length_m, DECK_M, DECK_M + c.height_m, side)
            x += c.length_m + 0.25
    elif t.body == "tank":
        L = t.body_len_m
        tank = textured(rng, Y(1.5) - Y(3.6), X(L), (190, 190, 195), grain=3, blotch=6)
        shade_vertical(tank, 1.25, 0.7)
        put_text(tank, "DỄ CHÁY  易燃  FLAMMABLE", CJK_FACE, (int(0.5 * p), int(0.35 * p), int(L * 0.6 * p),
                 int(0.18 * p)), (30, 30, 200), keep_aspect=True)
        adr = render_adr(t.hazard[0], t.hazard[1], rng, p) if t.hazard else None
        if adr is not None:
            tank[int(0.8 * p): int(0.8 * p) + adr.shape[0], int((L - 1.0) * p): int((L - 1.0) * p) + adr.shape[1]] = adr
        fill(b0, b0 + L, 1.5, 3.6, tank)
        fill(b0, b0 + L, 3.6, 3.75, (70, 70, 70))  # walkway rail
    elif t.body == "tarp":
        L = t.body_len_m
        tarp = textured(rng, Y(DECK_M) - Y(3.7), X(L), t.body_color, grain=5, blotch=14)
        folds = 0.9 + 0.12 * np.sin(np.arange(tarp.shape[1]) / p / 0.45 * 2 * np.pi)
        tarp[:] = np.clip(tarp * folds[None, :, None], 0, 255).astype(np.uint8)
        for k in range(int(L / 1.1)):
            cv2.line(tarp, (int((0.5 + k * 1.1) * p), 0), (int((0.5 + k * 1.1) * p), tarp.shape[0]), (60, 60, 60), 4)
        put_text(tarp, t.company, str(rng.choice(SIGN_FACES)), (int(0.6 * p), int(0.4 * p), int(L * 0.7 * p),
                 int(0.3 * p)), (235, 235, 235), keep_aspect=True, opacity=0.8)
        fill(b0, b0 + L, DECK_M, 3.7, tarp)
    else:  # open bed / flatbed: low boards, cargo sticking up above them
        L = t.body_len_m
        fill(b0 - 0.1, b0, DECK_M, 2.9, (60, 60, 60))  # headboard
        if t.body == "open":
            boards = textured(rng, Y(DECK_M) - Y(2.3), X(L), t.body_color, grain=4, blotch=10)
            put_text(boards, "ĐT: " + t.phone, "DejaVuSans-Bold.ttf", (int(0.5 * p), 5, int(2.4 * p), int(0.14 * p)),
                     (240, 240, 240), keep_aspect=True)
            fill(b0, b0 + L, DECK_M, 2.3, boards)
            _side_cargo(t, rng, img, alpha, b0, L, X, Y)
    add_dirt(img, rng, t.dirt * 0.5)
    return _bgra(img, alpha)


def _side_cargo(t: TruckSpec, rng: np.random.Generator, img: np.ndarray, alpha: np.ndarray, b0: float, L: float,
                X, Y) -> None:
    """Cargo silhouettes that stick out above the side boards."""
    v = t.visual
    x = b0 + 0.1
    while x < b0 + L - 0.6:
        if v == "sacks":
            top, wd, col = rng.uniform(2.5, 2.8), 0.9, (215, 225, 230)
        elif v == "coal":
            top, wd, col = 2.4 + 0.5 * np.sin(np.pi * (x - b0) / L), 0.3, (30, 30, 32)
        elif v == "crates":
            top, wd, col = 2.6, 0.6, [(40, 40, 200), (40, 150, 40), (160, 90, 30)][int(rng.integers(0, 3))]
        elif v == "cartons":
            top, wd, col = rng.uniform(2.6, 3.0), rng.uniform(0.5, 0.9), (90, 140, 185)
        elif v == "drums":
            top, wd, col = 2.35, 0.6, [(150, 80, 20), (30, 30, 30), (200, 200, 200)][int(rng.integers(0, 3))]
        else:
            return
        x1 = min(b0 + L, x + wd)
        r0, r1, c0, c1 = max(0, Y(top)), max(0, Y(2.2)), X(x), X(x1)
        if r1 > r0:
            tile = textured(rng, r1 - r0, max(1, c1 - c0), col, grain=8 if v == "coal" else 4, blotch=8)
            if v in ("sacks", "drums"):
                m = np.zeros(tile.shape[:2], np.uint8)
                cv2.ellipse(m, (m.shape[1] // 2, m.shape[0]), (m.shape[1] // 2, m.shape[0]), 0, 180, 360, 255, -1)
                sub, a = img[r0:r1, c0:c1], alpha[r0:r1, c0:c1]
                blend(sub, tile, m, 0, 0)
                a[:] = np.maximum(a, m)
            else:
                img[r0:r1, c0:c1] = tile
                alpha[r0:r1, c0:c1] = 255
                cv2.rectangle(img, (c0, r0), (c1 - 1, r1), tuple(int(k * 0.6) for k in col), 2)
        x = x1 + (0.02 if v != "coal" else 0.0)


# ---------------------------------------------------------------- top (cargo camera)

def render_top(t: TruckSpec, rng: np.random.Generator) -> np.ndarray:
    p = TOP_PX_M
    w, h = int(t.length_m * p), int(TOP_W_M * p)
    img = np.zeros((h, w, 3), np.uint8)
    alpha = np.zeros((h, w), np.uint8)
    m0, m1 = int(0.05 * p), h - int(0.05 * p)  # 2.5 m wide body
    cab = textured(rng, m1 - m0, int(CAB_LEN_M * p), t.cab_color, grain=3, blotch=8)
    cv2.rectangle(cab, (int(0.1 * p), int(0.15 * p)), (int(0.6 * p), cab.shape[0] - int(0.15 * p)),
                  tuple(int(k * 0.8) for k in t.cab_color), -1)  # roof deflector
    img[m0:m1, : cab.shape[1]] = cab
    alpha[m0:m1, : cab.shape[1]] = 255
    b0, L = int((CAB_LEN_M + 0.4) * p), t.body_len_m
    bw = int(L * p)
    bh = m1 - m0
    if t.visual == "container_roof":
        body = np.zeros((bh, bw, 3), np.uint8)
        x = 0
        for c in t.containers:
            cw = int(c.length_m * p)
            roof = textured(rng, bh, cw, tuple(int(k * 0.9) for k in c.color), grain=4, blotch=12)
            stripes = 0.9 + 0.1 * np.sin(np.arange(cw) / (0.25 * p) * 2 * np.pi)
            roof[:] = np.clip(roof * stripes[None, :, None], 0, 255).astype(np.uint8)
            cv2.rectangle(roof, (0, 0), (cw - 1, bh - 1), tuple(int(k * 0.55) for k in c.color), 4)
            add_dirt(roof, rng, 0.3)
            body[:, x: x + cw] = roof[:, : bw - x]
            x += cw + int(0.25 * p)
    elif t.visual == "tank":
        body = textured(rng, bh, bw, (190, 190, 195), grain=3, blotch=6)
        prof = 0.6 + 0.6 * np.sin(np.linspace(0, np.pi, bh))
        body[:] = np.clip(body * prof[:, None, None], 0, 255).astype(np.uint8)
        for k in range(4):
            cv2.circle(body, (int((0.8 + k * L / 4) * p), bh // 2), int(0.3 * p), (120, 120, 125), -1)
            cv2.circle(body, (int((0.8 + k * L / 4) * p), bh // 2), int(0.3 * p), (60, 60, 60), 3)
        cv2.rectangle(body, (0, bh // 2 - 6), (bw, bh // 2 + 6), (80, 80, 80), -1)  # walkway
    elif t.visual == "tarp":
        body = textured(rng, bh, bw, t.body_color, grain=5, blotch=16)
        folds = 0.85 + 0.15 * np.sin(np.arange(bw) / (0.5 * p) * 2 * np.pi)[None, :] * np.cos(
            np.arange(bh) / (0.7 * p))[:, None]
        body[:] = np.clip(body * folds[..., None], 0, 255).astype(np.uint8)
        for k in range(int(L / 1.1)):
            x = int((0.5 + k * 1.1) * p)
            cv2.line(body, (x, 0), (x + int(rng.integers(-8, 8)), bh), (50, 50, 50), 3)
    else:
        body = _top_bed(t, rng, bw, bh, p)
    img[m0:m1, b0: b0 + bw] = body
    alpha[m0:m1, b0: b0 + bw] = 255
    return _bgra(img, alpha)


def _top_bed(t: TruckSpec, rng: np.random.Generator, bw: int, bh: int, p: float) -> np.ndarray:
    """Open bed (or open-top container) seen from above, with its cargo."""
    wall = t.containers[0].color if t.visual == "open_top" and t.containers else t.body_color
    if t.visual == "open_top":
        body = textured(rng, bh, bw, (30, 30, 32), grain=10, blotch=25)  # coke heap in the box
        _lumps(body, rng, p)
    else:
        body = textured(rng, bh, bw, (60, 95, 130), grain=5, blotch=10)  # wooden deck
        for y in range(0, bh, int(0.2 * p)):
            cv2.line(body, (0, y), (bw, y), (40, 65, 90), 1)
    v = t.visual
    if v == "sacks":
        labels = ["UREA 46%N", "NPK 16-16-8", "PHÂN BÓN", "DAP 18-46", "尿素 UREA"]
        sx, sy = int(0.9 * p), int(0.58 * p)
        for y in range(int(0.05 * p), bh - sy + 1, sy):
            for x in range(int(0.1 * p), bw - sx, sx):
                sack = textured(rng, sy - 4, sx - 4, (215, 225, 230), grain=5, blotch=10)
                lab = str(rng.choice(labels))
                put_text(sack, lab, CJK_FACE if any(ord(c) > 0x2FFF for c in lab) else "DejaVuSans-Bold.ttf",
                         (6, sack.shape[0] // 3, sack.shape[1] - 12, sack.shape[0] // 3),
                         (40, 90, 30) if "NPK" in lab else (150, 60, 20), keep_aspect=True)
                m = np.zeros(sack.shape[:2], np.uint8)
                cv2.ellipse(m, (m.shape[1] // 2, m.shape[0] // 2), (m.shape[1] // 2, m.shape[0] // 2), 0, 0, 360, 255,
                            -1)
                ang = rng.uniform(-8, 8)
                M = cv2.getRotationMatrix2D((sack.shape[1] / 2, sack.shape[0] / 2), ang, 1.0)
                sack = cv2.warpAffine(sack, M, sack.shape[1::-1])
                m = cv2.warpAffine(np.maximum(m, cv2.erode(np.full_like(m, 255), None, iterations=8)), M, m.shape[1::-1])
                blend(body, sack, m, x + 2, y + 2)
    elif v == "coal":
        body[:] = textured(rng, bh, bw, (32, 32, 34), grain=12, blotch=25)
        _lumps(body, rng, p)
    elif v == "drums":
        r = int(0.29 * p)
        for y in range(r + 4, bh - r, 2 * r + 4):
            for x in range(r + 6, bw - r, 2 * r + 6):
                col = [(150, 80, 20), (30, 30, 30), (200, 200, 200)][int(rng.integers(0, 3))]
                cv2.circle(body, (x, y), r, col, -1, lineType=cv2.LINE_AA)
                cv2.circle(body, (x, y), int(r * 0.8), tuple(int(k * 0.7) for k in col), 2, lineType=cv2.LINE_AA)
                cv2.circle(body, (x + r // 2, y - r // 3), max(2, r // 7), (90, 90, 90), -1)
                if rng.random() < 0.5:  # GHS diamond label
                    d = r // 2
                    pts = np.array([[x - d, y], [x, y - d], [x + d, y], [x, y + d]])
                    cv2.fillPoly(body, [pts], (245, 245, 245))
                    cv2.polylines(body, [pts], True, (20, 20, 210), 3)
                    cv2.circle(body, (x, y), max(2, d // 3), (20, 20, 20), -1)
    elif v == "crates":
        cw, ch = int(0.6 * p), int(0.4 * p)
        fruit = [((90, 60, 230), 0.09), ((0, 140, 250), 0.05), ((40, 150, 80), 0.12), ((60, 200, 230), 0.04)]
        for y in range(2, bh - ch + 1, ch + 2):
            for x in range(4, bw - cw, cw + 3):
                col = [(40, 40, 190), (40, 140, 40), (150, 90, 30)][int(rng.integers(0, 3))]
                cv2.rectangle(body, (x, y), (x + cw, y + ch), col, -1)
                fc, fr = fruit[int(rng.integers(0, len(fruit)))]
                rr = max(2, int(fr * p))
                for _ in range(int(cw * ch / (rr * rr * 3))):
                    cx, cy = x + int(rng.integers(rr, max(rr + 1, cw - rr))), y + int(rng.integers(rr, max(rr + 1, ch - rr)))
                    shade = rng.uniform(0.75, 1.1)
                    cv2.circle(body, (cx, cy), rr, tuple(int(min(255, k * shade)) for k in fc), -1, lineType=cv2.LINE_AA)
                cv2.rectangle(body, (x, y), (x + cw, y + ch), tuple(int(k * 0.7) for k in col), 3)
    elif v == "cartons":
        y = 2
        while y < bh - 10:
            bh_ = int(rng.uniform(0.45, 0.8) * p)
            x = 4
            while x < bw - 10:
                bw_ = int(rng.uniform(0.5, 0.9) * p)
                col = tuple(int(k * rng.uniform(0.85, 1.1)) for k in (90, 140, 185))
                x1, y1 = min(bw - 2, x + bw_), min(bh - 2, y + bh_)
                cv2.rectangle(body, (x, y), (x1, y1), col, -1)
                cv2.rectangle(body, (x, y), (x1, y1), (50, 80, 110), 2)
                cv2.line(body, (x, (y + y1) // 2), (x1, (y + y1) // 2), (170, 180, 190), 5)  # tape
                if x1 - x > 40 and y1 - y > 30:
                    lab = str(rng.choice(["FRAGILE", "THIS SIDE UP", "MADE IN VIETNAM", "KEEP DRY", "PCB ASSY"]))
                    put_text(body, lab, "LiberationSans-Bold.ttf", (x + 6, y + 6, x1 - x - 12, (y1 - y) // 3 - 4),
                             (30, 30, 30), keep_aspect=True)
                x = x1 + 3
            y += bh_ + 3
    if t.visual == "open_top" or t.body == "open":
        cv2.rectangle(body, (0, 0), (bw - 1, bh - 1), wall, max(4, int(0.08 * p)))
    add_dirt(body, rng, t.dirt * 0.3)
    return body


def _lumps(body: np.ndarray, rng: np.random.Generator, p: float) -> None:
    h, w = body.shape[:2]
    mound = np.clip(1.0 - ((np.linspace(-1, 1, h)[:, None]) ** 2) * 0.6, 0, 1).astype(np.float32)
    light = 0.7 + 0.5 * mound + smooth_noise(rng, h, w, 0.6 * p, 0.15)
    body[:] = np.clip(body * light[..., None], 0, 255).astype(np.uint8)
    for _ in range(int(w * h / (p * p) * 60)):
        cx, cy, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(2, max(3, int(0.05 * p))))
        g = int(rng.integers(15, 70))
        cv2.circle(body, (cx, cy), r, (g, g, g + 2), -1)
        cv2.circle(body, (cx - r // 3, cy - r // 3), max(1, r // 3), (g + 50, g + 50, g + 55), -1)
