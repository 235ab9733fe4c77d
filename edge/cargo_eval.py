"""`smartgate cargo-eval DIR`: per-class figures of the cargo classifier on labelled images.

Runs the ONNX runtime path (`edge.readers.cargo.CargoClassifier`), not torch, so the figures are what
the gate box does. DIR is an image folder (`DIR/<class>/*.jpg`) or a folder with a `labels.csv`
(`file,label` or `file,task,label` with task `cargo`, as in shared/eval/cargo).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

from edge.imageio import ImageError, load_image
from edge.readers.cargo import UNKNOWN, CargoClassifier

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def list_labelled(root: str | Path) -> list[tuple[Path, str]]:
    """(image path, label) pairs of an image folder or a labels.csv folder, sorted by path."""
    root = Path(root)
    labels = root / "labels.csv"
    if labels.is_file():
        out = []
        with labels.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("task", "cargo") != "cargo":
                    continue
                out.append((root / row["file"], row["label"]))
        return sorted(out)
    return sorted((p, d.name) for d in root.iterdir() if d.is_dir()
                  for p in d.iterdir() if p.suffix.lower() in IMAGE_EXT)


def metrics(truth: list[str], pred: list[str], classes: list[str]) -> dict:
    """Accuracy, per-class precision/recall/support and the confusion matrix (rows: truth, cols: prediction).

    Predictions of `unknown` count as misses; they get their own confusion column.
    """
    cols = classes + [UNKNOWN]
    conf = np.zeros((len(classes), len(cols)), int)
    for t, p in zip(truth, pred, strict=True):
        if t in classes:
            conf[classes.index(t), cols.index(p if p in cols else UNKNOWN)] += 1
    per_class = {}
    for i, c in enumerate(classes):
        tp, support, predicted = int(conf[i, i]), int(conf[i].sum()), int(conf[:, i].sum())
        per_class[c] = {
            "support": support,
            "correct": tp,
            "recall": round(tp / support, 4) if support else None,  # = per-class accuracy
            "precision": round(tp / predicted, 4) if predicted else None,
        }
    n = int(conf.sum())
    correct = int(np.trace(conf[:, : len(classes)]))
    present = [v["recall"] for v in per_class.values() if v["recall"] is not None]
    return {
        "n": n,
        "accuracy": round(correct / n, 4) if n else None,
        "balanced_accuracy": round(float(np.mean(present)), 4) if present else None,
        "per_class": per_class,
        "confusion": {"rows_truth": classes, "cols_pred": cols, "matrix": conf.tolist()},
    }


def evaluate(clf: CargoClassifier, items: list[tuple[Path, str]]) -> tuple[dict, list[dict]]:
    """Metrics plus one record per image (file, label, pred, confidence)."""
    truth, pred, rows = [], [], []
    for path, label in items:
        try:  # regular files only, header-checked before decoding (the same pixels as cv2.imread)
            img = load_image(path)
        except ImageError as e:
            raise FileNotFoundError(f"cannot read image {e}") from None
        r = clf.classify(img)
        truth.append(label)
        pred.append(r.cls)
        rows.append({"file": str(path), "label": label, "pred": r.cls, "confidence": r.confidence})
    return metrics(truth, pred, clf.classes), rows


def format_table(name: str, m: dict) -> str:
    lines = [f"{name}: n={m['n']} accuracy={m['accuracy']} balanced={m['balanced_accuracy']}",
             f"{'class':<14}{'n':>5}{'recall':>9}{'precision':>11}"]
    for c, v in m["per_class"].items():
        if v["support"] or v["precision"] is not None:
            rec = "-" if v["recall"] is None else f"{v['recall']:.3f}"
            prec = "-" if v["precision"] is None else f"{v['precision']:.3f}"
            lines.append(f"{c:<14}{v['support']:>5}{rec:>9}{prec:>11}")
    return "\n".join(lines)


def main_cargo_eval(args) -> int:
    card = None
    if args.model:
        card_path = Path(args.model).with_name("model_card.json")
        if card_path.is_file():
            card = json.loads(card_path.read_text(encoding="utf-8"))
    clf = CargoClassifier(args.model, threads=args.threads, min_confidence=args.min_confidence,
                          expected_sha256=(card or {}).get("onnx", {}).get("sha256"),
                          verify=not getattr(args, "no_verify", False))
    report = {"model": str(clf.path), "min_confidence": args.min_confidence, "sets": {}}
    for d in args.dirs:
        try:
            m, rows = evaluate(clf, list_labelled(d))
        except FileNotFoundError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        report["sets"][str(d)] = {**m, "images": rows}
        print(format_table(str(d), m))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0

