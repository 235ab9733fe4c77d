"""Plate reader under controlled conditions: synthetic plates of the four layouts (VN and CN, one and
two lines, drawn like the sample footage's by `data_samples.render_plate`), each seen small, rotated,
blurred, dark and leaning; prints right / wrong / no-read per layout and condition, and every miss.

    python -m smartgate_tools.bench.plate_sweep [--n 10] [--seed 21]

Synthetic, so it finds layout and geometry bugs (an all-digit CN serial never paired with its top
line; a missed top line), not the real-photo accuracy (`smartgate eval` on ../shared/eval is that).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import cv2
import numpy as np

from data_samples.codes import random_cn_plate, random_vn_plate
from data_samples.render_plate import render_plate
from edge.readers.plate import PlateReader
from edge.readers.slant import shear


def _rotate(img: np.ndarray, deg: float) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0), (w, h),
                          borderMode=cv2.BORDER_REPLICATE)


# condition -> (pixels per metre of plate, what the camera does to the scene)
CONDITIONS: dict[str, tuple[float, Callable[[np.ndarray], np.ndarray]]] = {
    "small": (280, lambda s: s),
    "rot6": (450, lambda s: _rotate(s, 6)),
    "blur": (450, lambda s: cv2.GaussianBlur(s, (0, 0), 1.5)),
    "dark": (450, lambda s: np.clip(s.astype(np.float32) * 0.35 + 10, 0, 255).astype(np.uint8)),
    "lean": (450, lambda s: shear(s, 0.4)),
}


def sweep(n: int, seed: int, reader: PlateReader | None = None) -> tuple[dict, list]:
    """{(layout, condition): [right, wrong, no-read]} and the misses."""
    reader = reader or PlateReader()
    rng = np.random.default_rng(seed)
    counts: dict[tuple[str, str], list[int]] = {}
    misses = []
    for i in range(4 * n):
        two, vn = bool(i % 2), (i // 2) % 2 == 0
        plate = random_vn_plate(rng, two) if vn else random_cn_plate(rng, two)
        layout = ("VN" if vn else "CN") + ("2" if two else "1")
        for cond, (ppm, camera) in CONDITIONS.items():
            img = render_plate(plate, rng, px_per_m=ppm, dirt=0.15)
            scene = camera(cv2.copyMakeBorder(img, 50, 50, 120, 120, cv2.BORDER_CONSTANT, value=(80, 85, 90)))
            r = reader.read(scene)
            k = 0 if r.text == plate.text else (1 if r.text else 2)
            counts.setdefault((layout, cond), [0, 0, 0])[k] += 1
            if k:
                misses.append((layout, cond, plate.text, r.text, r.reason, r.raw))
    return counts, misses


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10, help="plates per layout")
    p.add_argument("--seed", type=int, default=21)
    args = p.parse_args(argv)
    counts, misses = sweep(args.n, args.seed)
    print("layout  " + "  ".join(f"{c:>12}" for c in CONDITIONS))
    for layout in ("VN1", "VN2", "CN1", "CN2"):
        print(f"{layout:<8}" + "  ".join(f"{'/'.join(map(str, counts[(layout, c)])):>12}" for c in CONDITIONS))
    print("(right/wrong/no-read)")
    for m in misses:
        print("miss:", *m)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
