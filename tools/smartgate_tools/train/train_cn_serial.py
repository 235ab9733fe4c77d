"""Train the CN serial-character classifier (34 classes) on synthetic plate lines only; export ONNX + card.

    PYTHONPATH=. /work/train-venv/bin/python -m smartgate_tools.train.train_cn_serial --out DIR

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

import numpy as np

from edge.domain.plate_grammar import CN_PROVINCES, DIGITS
from edge.readers.cn_province import GLYPH_OF_LINE, grey_input
from edge.readers.cn_serial import SERIAL_CLASSES, WINDOW_HEIGHT, WINDOW_PITCHES, serial_pitch, serial_windows
from smartgate_tools.train.cn_glyphs import CJK_FONTS, LATIN_FONTS, SCHEMES, SIZE, available
from smartgate_tools.train.cn_province_lines import camera_crop, render_line
from smartgate_tools.train.train_cn_province import (
    add_glyph_arguments,
    build_model,
    evaluate,
    export,
    fit,
    render_set,
    start_training,
    training_sets,
    write_samples,
)

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
    return grey_input(win, size)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_glyph_arguments(p, per_class=1500, held_out=80, minutes=12.0)
    args = p.parse_args(argv)
    out = start_training(args)
    cjk, latin = available(CJK_FONTS), available(SERIAL_FONTS)
    n = len(SERIAL_CLASSES)
    t0 = time.time()
    xtr, ytr, xte, yte = training_sets(
        args, lambda per_class, seed: render_set(serial_sample, n, per_class, seed, cjk, latin, SIZE, args.threads))
    t_data = time.time() - t0
    print(f"data: {len(xtr)} train, {len(xte)} held-out in {t_data:.0f}s", flush=True)
    write_samples(out, xtr, n)
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
        "augment": ["whole one-line CN plate (GA 36 layout, tools/smartgate_tools/train/cn_province_lines.py render_line), class "
                    "character in a random slot, random neighbours", f"plate warp: rotation +-8 deg, shear +-0.3, "
                    f"horizontal scale {SQUASH[0]}-{SQUASH[1]}, corner noise", "contrast x0.45-1.1, brightness x0.5-1.3 +-50, shadow gradient",
                    "glyph height 8-40 px, optics blur, motion blur (30 %), noise, JPEG q20-90 (70 %)",
                    "minimum-area rectangle of a jittered detector quad (as DB boxes: shear stays in the crop) through the runtime's crop_quad", f"window centre error sd {CENTRE_SD} "
                    f"glyph pitches, pitch estimate error sd {PITCH_SD:.0%}, window scale x0.9-1.15", "polarity inversion (50 %, at training)"],
        "training": {"epochs_run": len(log), "batch": 128, "optimizer": "AdamW one-cycle lr 3e-3 wd 1e-4",
                     "loss": "cross-entropy, label smoothing 0.05", "threads": args.threads,
                     "data_seconds": round(t_data), "train_seconds": round(time.time() - t1), "log": log},
        "synthetic_held_out_accuracy": round(acc, 4),
        "command": "PYTHONPATH=. python -m smartgate_tools.train.train_cn_serial " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    (out / "model_card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"held-out accuracy {acc:.4f}; {onnx_path} {card['size']} bytes sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
