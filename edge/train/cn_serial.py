"""Train the CN serial-character classifier (34 classes) on synthetic plate lines only; export ONNX + card.

    PYTHONPATH=. /work/train-venv/bin/python -m edge.train.cn_serial --out DIR

Each sample is a whole one-line CN plate drawn in millimetres (GA 36 layout, `render_line`) with the
class's character in a random slot (letters in slots 1–6, digits in 2–6), seen by a synthetic camera
and cut like the runtime cuts a detected line (`camera_crop`: warp, lighting, glyph height 8–40 px,
blur, noise, JPEG, jittered detector quad through `crop_quad`). The window around the glyph comes
from `edge.readers.cn_serial.serial_windows` — the runtime's own code — with its centre off by a
CTC-like error. Real photos are never used (../shared/eval is for measuring only).

Needs torch, onnx and Pillow (the training venv); the runtime never imports this module.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from edge.readers.cn_province import GLYPH_OF_LINE
from edge.readers.cn_serial import SERIAL_CLASSES, WINDOW_HEIGHT, WINDOW_PITCHES, serial_pitch, serial_windows
from edge.readers.plate_grammar import CN_PROVINCES, DIGITS
from edge.train.cn_province import (
    CJK_FONTS,
    LATIN_FONTS,
    SCHEMES,
    SIZE,
    available,
    build_model,
    evaluate,
    export,
    fit,
)
from edge.train.cn_province_lines import camera_crop, render_line

LETTER_COUNT = 24  # SERIAL_CLASSES[:24] are the letters
# Letter/digit faces: the sans Latin fonts plus the Latin glyphs of the sans CJK fonts (Droid-like
# WenQuanYi, Source-Sans-like Noto CJK in four weights) — more shapes of W, Q, G than two families
# give; serif and monospaced faces (dotted 0) are left out: plate glyphs are plain sans.
SERIAL_FONTS = LATIN_FONTS + [f for f in CJK_FONTS if "Serif" not in f[0] and "arphic" not in f[0]]
CENTRE_SD = 0.25  # sd of the window centre error, in glyph pitches (CTC steps are ≈ half a pitch)
PITCH_SD = 0.08  # relative sd of the pitch estimate
SQUASH = (0.55, 1.15)  # horizontal scale of the plate: real plates seen at an angle are narrow


def serial_sample(rng: np.random.Generator, cls: int, cjk: list, latin: list, size: int = SIZE,
                  min_glyph_px: float = 8, max_glyph_px: float = 40) -> np.ndarray:
    """One size×size grey window around a glyph of class `cls` on a synthetic plate line."""
    ch = SERIAL_CLASSES[cls]
    slot = int(rng.integers(2 if ch in DIGITS else 1, 7))  # 1: authority letter, 2–6: serial
    tail = [SERIAL_CLASSES[rng.integers(LETTER_COUNT)]] + [SERIAL_CLASSES[rng.integers(len(SERIAL_CLASSES))]
                                                           for _ in range(5)]
    tail[slot - 1] = ch
    canvas, quad, centres = render_line(rng, int(rng.integers(len(CN_PROVINCES))), cjk, latin, tail="".join(tail))
    crop, xs, gpx = camera_crop(rng, canvas, quad, centres, False, min_glyph_px, max_glyph_px, rect=True,
                                squash=SQUASH)
    # the runtime's estimates: centre from CTC steps, pitch fitted to the serial slots' centres
    pitch = serial_pitch(list(xs[2:7]), GLYPH_OF_LINE * crop.shape[0]) * rng.normal(1.0, PITCH_SD)
    cx = float(xs[slot]) + rng.normal(0, CENTRE_SD) * pitch
    win = serial_windows(crop, cx, pitch, sizes=(rng.uniform(0.9, 1.15),), shifts=(0.0,))[0]
    grey = cv2.cvtColor(win, cv2.COLOR_BGR2GRAY)
    interp = cv2.INTER_AREA if grey.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(grey, (size, size), interpolation=interp)


def _make_part(args: tuple[int, tuple[int, int], list, list, int]) -> np.ndarray:
    n_per_class, seed, cjk, latin, size = args
    rng = np.random.default_rng(seed)
    return np.stack([serial_sample(rng, k, cjk, latin, size) for _ in range(n_per_class)
                     for k in range(len(SERIAL_CLASSES))])


def make_set(n_per_class: int, seed: int, cjk: list, latin: list, workers: int = 1,
             size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """n_per_class samples of each class (rendering split over `workers` seeded processes)."""
    parts = [(n_per_class // workers + (w < n_per_class % workers), (seed, w), cjk, latin, size)
             for w in range(workers)]
    if workers > 1:
        from multiprocessing import Pool

        with Pool(workers) as pool:
            xs = pool.map(_make_part, parts)
    else:
        xs = [_make_part(parts[0])]
    ys = [np.tile(np.arange(len(SERIAL_CLASSES)), n) for n, *_ in parts]
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--per-class", type=int, default=1500, help="synthetic training samples per class")
    p.add_argument("--held-out", type=int, default=80, help="synthetic held-out samples per class (other seed)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--minutes", type=float, default=12.0, help="stop training after this wall time")
    p.add_argument("--threads", type=int, default=2, help="torch threads and rendering processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", help="npz of rendered samples: loaded when present (same arguments), else written")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cjk, latin = available(CJK_FONTS), available(SERIAL_FONTS)
    t0 = time.time()
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.is_file():
        z = np.load(cache)
        xtr, ytr, xte, yte = z["xtr"], z["ytr"], z["xte"], z["yte"]
    else:
        xtr, ytr = make_set(args.per_class, args.seed, cjk, latin, args.threads)
        xte, yte = make_set(args.held_out, args.seed + 1000, cjk, latin, args.threads)  # held-out: another seed
        if cache is not None:
            np.savez_compressed(cache, xtr=xtr, ytr=ytr, xte=xte, yte=yte)
    t_data = time.time() - t0
    print(f"data: {len(xtr)} train, {len(xte)} held-out in {t_data:.0f}s", flush=True)
    n = len(SERIAL_CLASSES)
    cv2.imwrite(str(out / "samples.png"), np.vstack([np.hstack(list(xtr[r * n : r * n + n])) for r in range(6)]))
    model = build_model(n)
    t1 = time.time()
    log = fit(model, xtr, ytr, xte, yte, args.epochs, args.minutes, args.seed)
    model.eval()
    acc = evaluate(model, xte, yte)
    onnx_path = out / "cn_serial.onnx"
    export(model, onnx_path, SIZE, SERIAL_CLASSES,
           {"window_height": str(WINDOW_HEIGHT), "window_pitches": str(WINDOW_PITCHES)})
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    card = {
        "model": "cn_serial.onnx",
        "sha256": digest,
        "size": onnx_path.stat().st_size,
        "classes": list(SERIAL_CLASSES),
        "input": f"1x1x{SIZE}x{SIZE} float32 grey, x/127.5-1; window {WINDOW_PITCHES} glyph pitches wide, "
                 f"{WINDOW_HEIGHT} glyph heights tall around the glyph, stretched to a square",
        "output": f"probs 1x{n} softmax",
        "data": {"train_per_class": args.per_class, "held_out_per_class": args.held_out, "seed": args.seed,
                 "held_out_seed": args.seed + 1000, "real_images": 0,
                 "cjk_fonts": [f"{Path(f).name}#{i}" for f, i in cjk],
                 "latin_fonts": [Path(f).name for f, _ in latin],
                 "schemes": {k: v[2] for k, v in SCHEMES.items()}},
        "augment": ["whole one-line CN plate (GA 36 layout, edge/train/cn_province_lines.py render_line), class "
                    "character in a random slot, random neighbours", f"plate warp: rotation +-8 deg, shear +-0.3, "
                    f"horizontal scale {SQUASH[0]}-{SQUASH[1]}, corner noise", "contrast x0.45-1.1, brightness x0.5-1.3 +-50, shadow gradient",
                    "glyph height 8-40 px, optics blur, motion blur (30 %), noise, JPEG q20-90 (70 %)",
                    "minimum-area rectangle of a jittered detector quad (as DB boxes: shear stays in the crop) through the runtime's crop_quad", f"window centre error sd {CENTRE_SD} "
                    f"glyph pitches, pitch estimate error sd {PITCH_SD:.0%}, window scale x0.9-1.15", "polarity inversion (50 %, at training)"],
        "training": {"epochs_run": len(log), "batch": 128, "optimizer": "AdamW one-cycle lr 3e-3 wd 1e-4",
                     "loss": "cross-entropy, label smoothing 0.05", "threads": args.threads,
                     "data_seconds": round(t_data), "train_seconds": round(time.time() - t1), "log": log},
        "synthetic_held_out_accuracy": round(acc, 4),
        "command": "PYTHONPATH=. python -m edge.train.cn_serial " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    (out / "model_card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"held-out accuracy {acc:.4f}; {onnx_path} {card['size']} bytes sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
