"""Yards at hand: the container reader on 2×2 mosaics of real container photos, against each photo read alone.

Issue 17's unseen container photos include yards with many containers, and none of ours do. Four real photos of
one label file, each scaled to `--tile` px on its long side, make one mosaic: four containers in one picture, each
at the same scale as when it is read alone at `--tile` px. A code the reader finds alone but not in the mosaic is
lost to the company of other boxes, not to its size. Photos labelled with several codes are left out.

    .venv/bin/python -m smartgate_tools.experiments.container_mosaics ../shared/train/container/labels.csv \\
        [--tile 640] [--alone 480] [--sliced]

`--large SIDE`: instead, each photo (at its own size) in a random place of a SIDE × SIDE picture of grey noise
(a phone photo of a yard is 4000 px, and the reader's second pass sees it at 1280 px): codes found, and nobody's.

`--alone`: the size each photo is read at on its own (the mosaic is read at DET_MAX_SIDE 960, so a 640 px tile is
seen at 480 px); `--sliced`: also read the mosaic in 2×2 overlapping slices (SAHI-style) and count what that adds
and which of its codes are nobody's (wrong). Prints, per photo, whether its code was found alone, in its mosaic
and with the slices, by layout, and the seconds the mosaic reads took.
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

GREY = 90  # a tile's empty part (the photos are not square)


def scaled(path: Path, side: int) -> np.ndarray | None:
    img = cv2.imread(str(path))
    if img is None:
        return None
    f = side / max(img.shape[:2])
    return cv2.resize(img, (round(img.shape[1] * f), round(img.shape[0] * f)), interpolation=cv2.INTER_AREA)


def mosaic(images: list[np.ndarray], tile: int) -> np.ndarray:
    """Four images, each on a `tile`-px square, in two rows."""
    cells = []
    for img in images:
        cell = np.full((tile, tile, 3), GREY, np.uint8)
        cell[:img.shape[0], :img.shape[1]] = img
        cells.append(cell)
    return np.vstack([np.hstack(cells[:2]), np.hstack(cells[2:])])


def slices(image: np.ndarray, n: int = 2, overlap: float = 0.15) -> list[np.ndarray]:
    """n×n slices, each `overlap` larger than an n-th of the image (a code on a seam is whole in one of them)."""
    H, W = image.shape[:2]
    th, tw = int(H / n * (1 + overlap)), int(W / n * (1 + overlap))
    out = []
    for i in range(n):
        for j in range(n):
            y0, x0 = min(H - th, i * H // n), min(W - tw, j * W // n)
            out.append(image[y0:y0 + th, x0:x0 + tw])
    return out


def in_large_photos(reader: object, base: Path, rows: list[dict[str, str]], side: int, seed: int) -> int:
    """Each photo pasted at its own size into a random place of a side × side noise picture, read as one photo."""
    rng = random.Random(seed)
    found = nobody = 0
    t0 = time.perf_counter()
    for r in rows:
        img = cv2.imread(str(base / r["file"]))
        if img is None or max(img.shape[:2]) > side:
            continue
        canvas = np.random.default_rng(rng.randrange(1 << 30)).integers(80, 120, (side, side, 3), dtype=np.uint8)
        y, x = rng.randrange(side - img.shape[0] + 1), rng.randrange(side - img.shape[1] + 1)
        canvas[y:y + img.shape[0], x:x + img.shape[1]] = img
        codes = {c.code for c in reader.read(canvas) if c.check_digit_ok}  # type: ignore[attr-defined]
        found += r["label"] in codes
        nobody += len(codes - {r["label"]})
    print(f"{len(rows)} photos in {side} px pictures: {found} found, {nobody} codes nobody's, "
          f"{time.perf_counter() - t0:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    from edge.readers.container import ContainerReader
    from edge.readers.ocr.engine import OcrEngine

    p = argparse.ArgumentParser(prog="container_mosaics", description=__doc__.split("\n\n")[0])
    p.add_argument("labels", help="labels.csv of real container photos (file,label,layout)")
    p.add_argument("--tile", type=int, default=640)
    p.add_argument("--alone", type=int, default=480)
    p.add_argument("--sliced", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--large", type=int, default=None, metavar="SIDE")
    a = p.parse_args(argv)
    base = Path(a.labels).parent
    with open(a.labels, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["label"].strip() and "|" not in r["label"]]
    random.Random(a.seed).shuffle(rows)
    reader = ContainerReader(OcrEngine(threads=a.threads))
    if a.large:
        return in_large_photos(reader, base, rows, a.large, a.seed)
    per_photo: list[tuple[str, bool, bool, bool]] = []  # layout, read alone, in its mosaic, with the slices
    wrong: Counter[str] = Counter()
    spent: Counter[str] = Counter()
    for i in range(0, len(rows) - 3, 4):
        group = rows[i:i + 4]
        images = [scaled(base / r["file"], a.tile) for r in group]
        if any(img is None for img in images):
            continue
        m = mosaic(images, a.tile)  # type: ignore[arg-type]
        truth = {r["label"] for r in group}
        t0 = time.perf_counter()
        codes = {c.code for c in reader.read(m) if c.check_digit_ok}
        spent["mosaic"] += time.perf_counter() - t0
        wrong["mosaic"] += len(codes - truth)
        more = set(codes)
        if a.sliced:
            t0 = time.perf_counter()
            for s in slices(m):
                more |= {c.code for c in reader.read(s) if c.check_digit_ok}
            spent["sliced"] += time.perf_counter() - t0
            wrong["sliced"] += len(more - truth)
        for r in group:
            small = scaled(base / r["file"], a.alone)
            alone = small is not None and r["label"] in {c.code for c in reader.read(small) if c.check_digit_ok}
            per_photo.append((r.get("layout", ""), alone, r["label"] in codes, r["label"] in more))
    print(f"{len(per_photo)} photos in {len(per_photo) // 4} mosaics, layouts "
          f"{dict(Counter(x[0] for x in per_photo))}; read alone at {a.alone} px: {sum(x[1] for x in per_photo)}")
    for k, kind in ((2, "mosaic"), (3, "sliced")) if a.sliced else ((2, "mosaic"),):
        lost = Counter(x[0] for x in per_photo if x[1] and not x[k])
        print(f"{kind}: {sum(x[k] for x in per_photo)} found, {wrong[kind]} codes nobody's; read alone but not here: "
              f"{dict(lost)}; {spent[kind]:.1f} s" + (" more than the mosaic's" if kind == "sliced" else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
