"""Train the CN province-glyph classifier (31 classes) on synthetic renders only; export ONNX + card.

    PYTHONPATH=. /work/train-venv/bin/python -m smartgate_tools.train.train_cn_province --out DIR

Real plates are never used for training (the dev set ../shared/eval is for measuring only). Each
sample is a province glyph drawn the way it sits on a CN plate — condensed to 45×90 mm, white on
blue / black on yellow / black on green (NEV) / white on black — with the plate's left edge,
border line and rivet on one side and the authority letter 12 mm to its right, then warped
(rotation ±8°, shear, perspective), cropped as a square around the glyph with jitter, shrunk to a
glyph height of 10–40 px, blurred, JPEG-compressed, noised and finally resized to the model input
(32×32 grey). The runtime (`edge.readers.cn_province`) crops the same square from a plate line.

Needs torch, onnx and Pillow (the training venv); the runtime never imports this module.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.domain.plate_grammar import CN_PROVINCES
from smartgate_tools.train.cn_glyphs import (
    CJK_FONTS,
    CROP_SIDE,
    LATIN_FONTS,
    LETTERS,
    PX_PER_MM,
    SCHEMES,
    SIZE,
    _background,
    available,
    glyph_mask,
)


def render_plate_patch(rng: np.random.Generator, label: int, cjk: list, latin: list) -> np.ndarray:
    """BGR float canvas (plate coordinates in mm × PX_PER_MM) with the glyph cell at a fixed place.

    Canvas spans x −45..115 mm and y −45..135 mm around the glyph box (0..45 × 0..90 mm)."""
    s = PX_PER_MM
    ox, oy = 45.0, 45.0
    H, W = int(180 * s), int(160 * s)
    canvas = _background(rng, H, W)
    names = list(SCHEMES)
    weights = np.array([SCHEMES[n][2] for n in names])
    scheme = names[rng.choice(len(names), p=weights / weights.sum())]
    bg, fg, _ = SCHEMES[scheme]
    bg = np.clip(np.array(bg, np.float32) + rng.normal(0, 18, 3), 0, 255)
    fg = np.clip(np.array(fg, np.float32) + rng.normal(0, 12, 3), 0, 255)
    # plate: left edge 15.5 mm (±4) left of the glyph, 25 mm (±5) above/below the glyph box
    left = -rng.uniform(11, 20)
    top, bot = -rng.uniform(20, 30), 90 + rng.uniform(20, 30)
    px0, py0, py1 = int((left + ox) * s), int((top + oy) * s), int((bot + oy) * s)
    plate = np.zeros((H, W), np.float32)
    plate[max(py0, 0) : py1, max(px0, 0) :] = 1.0
    if scheme == "green":  # NEV plates fade from green (bottom) to white (top)
        t = np.clip((np.arange(H, dtype=np.float32) - py0) / max(py1 - py0, 1), 0, 1)[:, None, None]
        col = np.array([245, 250, 245], np.float32) * (1 - t) + bg * t
    else:
        col = np.broadcast_to(bg, (H, 1, 3))
    canvas = canvas * (1 - plate[..., None]) + col * plate[..., None]
    ink = np.zeros((H, W), np.float32)
    # border line (raised rim) inset 2–4 mm, 1–2 mm thick, rounded corners
    if rng.random() < 0.85:
        inset = rng.uniform(1.5, 4.0)
        th = max(1, int(rng.uniform(0.8, 2.0) * s))
        x0, y0 = int((left + inset + ox) * s), int((top + inset + oy) * s)
        y1 = int((bot - inset + oy) * s)
        tmp = np.zeros((H, W), np.uint8)
        cv2.rectangle(tmp, (x0, y0), (W + 50, y1), 255, th, cv2.LINE_AA)
        ink = np.maximum(ink, tmp.astype(np.float32) / 255)
    # rivet above the glyph (mounting hole / screw head)
    rivet = None
    if rng.random() < 0.5:
        rx = int((rng.uniform(-5, 60) + ox) * s)
        ry = int((top + rng.uniform(6, 12) + oy) * s)
        rivet = (rx, ry, max(2, int(rng.uniform(3, 6) * s)))
    # the glyph, slightly wider or narrower, stroke weight varied
    font = cjk[rng.integers(len(cjk))]
    gw = rng.uniform(0.82, 1.12) * 45
    gh = rng.uniform(0.93, 1.05) * 90
    m = glyph_mask(CN_PROVINCES[label], font)
    m = cv2.resize(m, (max(4, int(gw * s)), max(4, int(gh * s))), interpolation=cv2.INTER_AREA)
    k = rng.integers(-1, 3)
    if k > 0:
        m = cv2.dilate(m, np.ones((2 * k + 1, 2 * k + 1), np.uint8))
    elif k < 0:
        m = cv2.erode(m, np.ones((3, 3), np.uint8))
    gx0 = int((22.5 - gw / 2 + ox) * s)
    gy0 = int((45 - gh / 2 + oy) * s)
    ink[gy0 : gy0 + m.shape[0], gx0 : gx0 + m.shape[1]] = np.maximum(
        ink[gy0 : gy0 + m.shape[0], gx0 : gx0 + m.shape[1]], m.astype(np.float32) / 255)
    # the authority letter 12 mm (±4) to the right
    if rng.random() < 0.95:
        lm = glyph_mask(LETTERS[rng.integers(len(LETTERS))], latin[rng.integers(len(latin))])
        lm = cv2.resize(lm, (int(45 * s * rng.uniform(0.85, 1.05)), int(gh * s)), interpolation=cv2.INTER_AREA)
        lx0 = int((45 + rng.uniform(8, 16) + ox) * s)
        lw = min(lm.shape[1], W - lx0)
        ink[gy0 : gy0 + lm.shape[0], lx0 : lx0 + lw] = np.maximum(
            ink[gy0 : gy0 + lm.shape[0], lx0 : lx0 + lw], lm[:, :lw].astype(np.float32) / 255)
    ink *= plate
    canvas = canvas * (1 - ink[..., None]) + fg * ink[..., None]
    if rivet is not None:
        shade = float(rng.uniform(90, 230))
        cv2.circle(canvas, rivet[:2], rivet[2], (shade, shade, shade), -1, cv2.LINE_AA)
    return canvas


def _warp_and_crop(rng: np.random.Generator, canvas: np.ndarray) -> np.ndarray:
    """Rotate/shear/perspective around the glyph, then cut the square the runtime cuts (with jitter)."""
    s = PX_PER_MM
    cx, cy = (22.5 + 45) * s, (45 + 45) * s
    gh = 90 * s
    ang = math.radians(rng.uniform(-8, 8))
    shear = rng.uniform(-0.3, 0.3)  # skewed plates stay slanted after the line is rectified
    sx = rng.uniform(0.85, 1.15)  # horizontal foreshortening
    a = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]]) @ np.array(
        [[sx, shear], [0, 1]])
    # the crop square in the warped image, jittered like a detector/slot span would be
    side = CROP_SIDE * gh * rng.uniform(0.9, 1.2)
    jx = rng.normal(0, 0.12) * gh
    jy = rng.normal(0, 0.06) * gh
    out = 64
    src_c = np.array([cx, cy])
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * side / 2 + [jx, jy]
    # map crop corners back to the canvas through the inverse of the warp
    inv = np.linalg.inv(a)
    src = (corners @ inv.T) + src_c
    src += rng.normal(0, 0.03 * side, src.shape)  # perspective
    dst = np.array([[0, 0], [out, 0], [out, out], [0, out]], np.float32)
    mtx = cv2.getPerspectiveTransform(src.astype(np.float32), dst)
    return cv2.warpPerspective(canvas, mtx, (out, out), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def degrade(rng: np.random.Generator, img: np.ndarray, min_glyph_px: float = 8, size: int = SIZE) -> np.ndarray:
    """Camera: lighting, low resolution (glyph min_glyph_px–40 px), blur, noise, JPEG; returns SIZE×SIZE grey."""
    mean = img.mean()
    img = mean + (img - mean) * rng.uniform(0.25, 1.1)  # faded plates, haze, night
    img = img * rng.uniform(0.5, 1.3) + rng.uniform(-50, 50)
    if rng.random() < 0.3:  # shadow/glare band
        g = np.linspace(rng.uniform(0.4, 1.4), rng.uniform(0.4, 1.4), img.shape[1], dtype=np.float32)
        img = img * (g[None, :, None] if rng.random() < 0.5 else g[:, None, None])
    img = np.clip(img, 0, 255).astype(np.uint8)
    glyph_px = rng.uniform(min_glyph_px, 40)
    side = max(8, int(round(glyph_px * CROP_SIDE)))
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 2.5))
    small = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.3:  # motion blur
        k = int(rng.integers(2, 4))
        kern = np.zeros((k, k), np.float32)
        kern[k // 2, :] = 1.0 / k
        small = cv2.filter2D(small, -1, kern)
    small = np.clip(small.astype(np.float32) + rng.normal(0, rng.uniform(0, 10), small.shape), 0, 255).astype(
        np.uint8)
    if rng.random() < 0.7:
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 90))])
        small = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (size, size), interpolation=cv2.INTER_CUBIC if side < size else cv2.INTER_AREA)


def make_sample(rng: np.random.Generator, label: int, cjk: list, latin: list, min_glyph_px: float = 8,
                size: int = SIZE) -> np.ndarray:
    return degrade(rng, _warp_and_crop(rng, render_plate_patch(rng, label, cjk, latin)), min_glyph_px, size)


@dataclass(frozen=True)
class Mix:
    """Where samples come from: `lines` of them cut from whole synthetic plate lines by the runtime's
    crop code (`smartgate_tools.train.cn_province_lines`), `top` of those from a two-line plate's top line; the
    rest glyph-centred patches (`make_sample`)."""

    lines: float = 0.0
    top: float = 0.15
    size: int = SIZE


def mixed_sample(rng: np.random.Generator, label: int, cjk: list, latin: list, mix: Mix) -> np.ndarray:
    if rng.random() < mix.lines:
        from smartgate_tools.train.cn_province_lines import (
            line_sample,  # needs the runtime's crop code (pyclipper)
        )

        return line_sample(rng, label, cjk, latin, top_line=rng.random() < mix.top, size=mix.size)
    return make_sample(rng, label, cjk, latin, size=mix.size)


def _render_part(args: tuple) -> np.ndarray:
    sample, n_classes, n_per_class, seed, cjk, latin, option = args
    rng = np.random.default_rng(seed)
    return np.stack([sample(rng, k, cjk, latin, option) for _ in range(n_per_class) for k in range(n_classes)])


def render_set(sample: Callable[..., np.ndarray], n_classes: int, n_per_class: int, seed: int, cjk: list,
               latin: list, option: object, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """n_per_class samples of each class from `sample(rng, class, cjk, latin, option)` (a module-level
    function: rendering is split over `workers` processes, each seeded with (seed, worker))."""
    workers = max(1, min(workers, n_per_class))  # no empty part
    parts = [(sample, n_classes, n_per_class // workers + (w < n_per_class % workers), (seed, w), cjk, latin, option)
             for w in range(workers)]
    if workers > 1:
        from multiprocessing import Pool

        with Pool(workers) as pool:
            xs = pool.map(_render_part, parts)
    else:
        xs = [_render_part(parts[0])]
    ys = [np.tile(np.arange(n_classes), part[2]) for part in parts]
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64)


def add_glyph_arguments(p: argparse.ArgumentParser, per_class: int, held_out: int, minutes: float) -> None:
    """The arguments the glyph-classifier trainers share."""
    p.add_argument("--out", required=True)
    p.add_argument("--per-class", type=int, default=per_class, help="synthetic training samples per class")
    p.add_argument("--held-out", type=int, default=held_out, help="synthetic held-out samples per class (other seed)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--minutes", type=float, default=minutes, help="stop training after this wall time")
    p.add_argument("--threads", type=int, default=2, help="torch threads and rendering processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", help="npz of rendered samples: loaded when present (same arguments), else written")


def start_training(args: argparse.Namespace) -> Path:
    """Torch threads and seed from the arguments; the output folder, created."""
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def training_sets(args: argparse.Namespace, render: Callable[[int, int], tuple[np.ndarray, np.ndarray]]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training and held-out sets (`render(per_class, seed)`; held-out from seed + 1000), loaded
    from `args.cache` when that file exists, else rendered and written there."""
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.is_file():
        z = np.load(cache)
        return z["xtr"], z["ytr"], z["xte"], z["yte"]
    xtr, ytr = render(args.per_class, args.seed)
    xte, yte = render(args.held_out, args.seed + 1000)
    if cache is not None:
        np.savez_compressed(cache, xtr=xtr, ytr=ytr, xte=xte, yte=yte)
    return xtr, ytr, xte, yte


def write_samples(out: Path, x: np.ndarray, n_classes: int, rows: int = 6) -> None:
    """The first `rows` samples of every class as one image (one row per round of classes)."""
    rows = min(rows, len(x) // n_classes)
    if rows:
        cv2.imwrite(str(out / "samples.png"),
                    np.vstack([np.hstack(list(x[r * n_classes : (r + 1) * n_classes])) for r in range(rows)]))


def build_model(n_classes: int = len(CN_PROVINCES)):
    import torch.nn as nn

    def block(i: int, o: int) -> list:
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *block(1, 16), nn.MaxPool2d(2),  # 16
        *block(16, 32), nn.MaxPool2d(2),  # 8
        *block(32, 64), *block(64, 64), nn.MaxPool2d(2),  # 4
        *block(64, 128),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(128, n_classes),
    )


def _to_tensor(x: np.ndarray):
    import torch

    return torch.from_numpy(x.astype(np.float32)[:, None] / 127.5 - 1.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_glyph_arguments(p, per_class=1200, held_out=60, minutes=9.0)
    p.add_argument("--lines", type=float, default=0.0, help="fraction of samples cut from whole synthetic lines")
    p.add_argument("--top", type=float, default=0.15, help="fraction of those from a two-line plate's top line")
    p.add_argument("--size", type=int, default=SIZE, help="model input side")
    args = p.parse_args(argv)
    out = start_training(args)
    cjk, latin = available(CJK_FONTS), available(LATIN_FONTS)
    n = len(CN_PROVINCES)
    mix = Mix(args.lines, args.top, args.size)
    t0 = time.time()
    xtr, ytr, xte, yte = training_sets(
        args, lambda per_class, seed: render_set(mixed_sample, n, per_class, seed, cjk, latin, mix, args.threads))
    t_data = time.time() - t0
    print(f"data: {len(xtr)} train, {len(xte)} held-out in {t_data:.0f}s; fonts {[Path(f).name for f, _ in cjk]}")
    write_samples(out, xtr, n)
    model = build_model()
    t1 = time.time()
    log = fit(model, xtr, ytr, xte, yte, args.epochs, args.minutes, args.seed)
    model.eval()
    acc = evaluate(model, xte, yte)
    onnx_path = out / "cn_province.onnx"
    export(model, onnx_path, args.size)
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    card = {
        "model": "cn_province.onnx",
        "sha256": digest,
        "size": onnx_path.stat().st_size,
        "classes": list(CN_PROVINCES),
        "input": f"1x1x{args.size}x{args.size} float32 grey, x/127.5-1; square crop {CROP_SIDE}x glyph height around the glyph",
        "output": "probs 1x31 softmax",
        "data": {"train_per_class": args.per_class, "held_out_per_class": args.held_out, "seed": args.seed,
                 "held_out_seed": args.seed + 1000, "real_images": 0,
                 "cjk_fonts": [f"{Path(f).name}#{i}" for f, i in cjk],
                 "latin_fonts": [Path(f).name for f, _ in latin],
                 "schemes": {k: v[2] for k, v in SCHEMES.items()}},
        "augment": ["glyph condensed to 45x90 mm, width x0.82-1.12, stroke dilate/erode",
                    "plate left edge 11-20 mm away, border rim (85 %), rivet (50 %), authority letter 8-16 mm right",
                    "random scene background", "rotation +-8 deg, shear +-0.3, horizontal scale 0.85-1.15, "
                    "perspective corner noise 3 %", "crop side 1.25 x glyph height x0.9-1.2, centre jitter "
                    "sd 0.12 h (x) / 0.06 h (y)", "contrast x0.25-1.1, brightness x0.5-1.3 +-50, shadow gradient (30 %)",
                    "glyph height 8-40 px", "Gaussian blur sd 0.3-2.5 canvas px (50 %), motion blur (30 %), noise sd 0-10, "
                    "JPEG q20-90 (70 %)", "polarity inversion (50 %, at training)"]
                   + ([f"{args.lines:.0%} of samples cut from whole synthetic plate lines by the runtime's crop code "
                       f"(crop_quad + line_squares; {args.top:.0%} of them two-line top lines), see "
                       "tools/smartgate_tools/train/cn_province_lines.py"] if args.lines else []),
        "training": {"epochs_run": len(log), "batch": 128, "optimizer": "AdamW one-cycle lr 3e-3 wd 1e-4",
                     "loss": "cross-entropy, label smoothing 0.05", "threads": args.threads,
                     "data_seconds": round(t_data), "train_seconds": round(time.time() - t1), "log": log},
        "synthetic_held_out_accuracy": round(acc, 4),
        "command": "PYTHONPATH=. python -m smartgate_tools.train.train_cn_province " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    (out / "model_card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"held-out accuracy {acc:.4f}; {onnx_path} {card['size']} bytes sha256 {digest}")
    return 0


def fit(model, xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray, epochs: int,
        minutes: float, seed: int) -> list[dict]:
    """AdamW one-cycle training with label smoothing and random polarity inversion; stops after
    `minutes` of wall time; returns the per-epoch log (loss, train and held-out accuracy)."""
    import torch
    import torch.nn as nn

    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(xtr) / 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    xt, yt = _to_tensor(xtr), torch.from_numpy(ytr)
    rng = np.random.default_rng(seed)
    t1 = time.time()
    log = []
    for ep in range(epochs):
        model.train()
        order = torch.from_numpy(rng.permutation(len(xt)))
        total, correct, n = 0.0, 0, 0
        for b in range(steps_per_epoch):
            idx = order[b * 128 : (b + 1) * 128]
            xb, yb = xt[idx], yt[idx]
            if rng.random() < 0.5:  # polarity is not a feature: white-on-blue and black-on-yellow both exist
                xb = -xb
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            n += len(idx)
        acc = evaluate(model, xte, yte)
        log.append({"epoch": ep + 1, "loss": round(total / n, 4), "train_acc": round(correct / n, 4),
                    "held_out_acc": round(acc, 4)})
        print(log[-1], f"{time.time() - t1:.0f}s", flush=True)
        if time.time() - t1 > minutes * 60:
            break
    return log


def evaluate(model, x: np.ndarray, y: np.ndarray) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(_to_tensor(x[i : i + 512])).argmax(1) for i in range(0, len(x), 512)])
    model.train()
    return float((pred.numpy() == y).mean())


def export(model, path: Path, size: int = SIZE, classes: str = CN_PROVINCES,
           meta: dict[str, str] | None = None) -> None:
    """ONNX with a softmax head; `classes` (JSON list), `input_size` and `meta` in its metadata."""
    import onnx
    import torch
    import torch.nn as nn

    class WithSoftmax(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return torch.softmax(self.m(x), dim=1)

    model.eval()
    torch.onnx.export(WithSoftmax(model), torch.zeros(1, 1, size, size), str(path), input_names=["image"],
                      output_names=["probs"], opset_version=17, dynamic_axes={"image": {0: "n"}, "probs": {0: "n"}},
                      dynamo=False)
    m = onnx.load(str(path))
    props = {"classes": json.dumps(list(classes), ensure_ascii=False), "input_size": str(size),
             **(meta if meta is not None else {"crop_side": str(CROP_SIDE)})}
    for k, v in props.items():
        e = m.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(m, str(path))


if __name__ == "__main__":
    raise SystemExit(main())
