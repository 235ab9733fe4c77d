"""`smartgate cargo-eval DIR`: per-class figures of the cargo classifier on labelled images.

Runs the ONNX runtime path (`edge.readers.cargo.CargoClassifier`), not torch, so the figures are what
the gate box does. DIR is an image folder (`DIR/<class>/*.jpg`) or a folder with a `labels.csv`
(`file,label` or `file,task,label` with task `cargo`, as in shared/eval/cargo; a `source_repo` column adds a
per-source table).

Every set is scored twice: by the top class (argmax, the figure comparable with earlier runs) and at the
model's shipped per-class thresholds (below its threshold a read is `unknown`: a miss that costs coverage, not
precision). Also:
- `--compare OLD.onnx NEW.onnx DIR...`: both models side by side on the same photos;
- `--cv RUN`: the grouped cross-validation of a `smartgate train cargo --cv K` run (its out-of-fold predictions),
  re-scored here without torch, e.g. with another `--target-precision` to see what coverage it costs.

No torch in this module: it also holds the threshold rule and the confusion plot that training uses.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from cameras.imageio import ImageError, load_image
from edge.readers.cargo import UNKNOWN, CargoClassifier

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
TARGET_PRECISION = 0.95
NEVER = 1.01  # a threshold no probability reaches: the class is always `unknown`


def list_labelled(root: str | Path, with_source: bool = False) -> list:
    """(image path, label) pairs of an image folder or a labels.csv folder, sorted by path;
    `with_source`: (path, label, source) triples (source "" when the folder does not say)."""
    root = Path(root)
    labels = root / "labels.csv"
    out = []
    if labels.is_file():
        with labels.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("task", "cargo") != "cargo":
                    continue
                out.append((root / row["file"], row["label"], row.get("source_repo") or ""))
    else:
        out = [(p, d.name, "") for d in root.iterdir() if d.is_dir()
               for p in d.iterdir() if p.suffix.lower() in IMAGE_EXT]
    out.sort()
    return out if with_source else [(p, lab) for p, lab, _ in out]


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


def with_coverage(m: dict) -> dict:
    """Adds coverage (share of images not `unknown`), per class and overall, to `metrics()` of thresholded reads,
    and the accuracy of the reads that were accepted."""
    mat = np.array(m["confusion"]["matrix"])
    if mat.size == 0:
        return m
    accepted = mat[:, :-1].sum()
    for i, c in enumerate(m["confusion"]["rows_truth"]):
        sup = mat[i].sum()
        m["per_class"][c]["coverage"] = round(float(mat[i, :-1].sum() / sup), 4) if sup else None
    m["coverage"] = round(float(accepted / mat.sum()), 4) if mat.sum() else None
    m["accepted_accuracy"] = round(float(np.trace(mat[:, :-1]) / accepted), 4) if accepted else None
    return m


def apply_thresholds(top: list[str], conf: list[float], thresholds: dict[str, float]) -> list[str]:
    """The threshold rule: the top class when its probability reaches that class's threshold, else `unknown`."""
    return [c if p >= thresholds.get(c, NEVER) else UNKNOWN for c, p in zip(top, conf, strict=True)]


def pick_thresholds(truth: list[str], top: list[str], conf: list[float], classes: list[str],
                    target: float = TARGET_PRECISION) -> dict[str, dict]:
    """Per class, the lowest confidence threshold at which the class's precision (over predictions at or above
    it) reaches `target`, chosen on out-of-fold predictions. A class that never gets there is never accepted
    (`NEVER`). Returns {class: {threshold, precision, accepted, correct, recall, support}}: `accepted` reads of the
    class at or above the threshold, `correct` of them right, `recall` = correct / support."""
    truth_a, top_a, conf_a = np.array(truth), np.array(top), np.array(conf, dtype=np.float64)
    out = {}
    for c in classes:
        mine = top_a == c
        support = int((truth_a == c).sum())
        order = np.argsort(-conf_a[mine], kind="stable")
        confs, ok = conf_a[mine][order], (truth_a[mine][order] == c)
        best = None
        for i in range(len(confs)):
            if i + 1 < len(confs) and confs[i + 1] == confs[i]:
                continue  # a threshold accepts every prediction with the same confidence
            prec = ok[:i + 1].mean()
            if prec >= target:
                best = i
        if best is None:
            out[c] = {"threshold": NEVER, "precision": None, "accepted": 0, "correct": 0, "recall": 0.0,
                      "support": support}
        else:
            n_ok = int(ok[:best + 1].sum())
            out[c] = {"threshold": round(float(confs[best]) - 1e-6, 6), "precision": round(n_ok / (best + 1), 4),
                      "accepted": best + 1, "correct": n_ok,
                      "recall": round(n_ok / support, 4) if support else None, "support": support}
    return out


def evaluate(clf: CargoClassifier, items: list[tuple[Path, str]]) -> tuple[dict, list[dict]]:
    """Metrics of the top class (argmax, or the explicit `min_confidence` the classifier was built with) plus
    one record per image (file, label, pred = top class, confidence, pred_at_threshold)."""
    truth, top, conf, rows = [], [], [], []
    for it in items:
        path, label = it[0], it[1]
        try:  # regular files only, sized from the header before decoding (the same pixels as cv2.imread)
            img = load_image(path)
        except ImageError as e:
            raise FileNotFoundError(f"cannot read image {e}") from None
        r, p = clf.classify_probs(img)
        k = int(np.argmax(p)) if p is not None else -1
        best = clf.classes[k] if p is not None else UNKNOWN
        truth.append(label)
        top.append(best)
        conf.append(float(p[k]) if p is not None else 0.0)
        row = {"file": str(path), "label": label, "pred": best if clf.min_confidence is None else r.cls,
               "confidence": round(conf[-1], 4), "pred_at_threshold": r.cls}
        if len(it) > 2 and it[2]:
            row["source"] = it[2]
        rows.append(row)
    return metrics(truth, [r["pred"] for r in rows], clf.classes), rows


def thresholded(clf: CargoClassifier, rows: list[dict]) -> dict:
    """Metrics at the classifier's thresholds (shipped per-class, or its min_confidence), with coverage."""
    return with_coverage(metrics([r["label"] for r in rows], [r["pred_at_threshold"] for r in rows], clf.classes))


def by_source(rows: list[dict]) -> dict[str, dict]:
    """Accuracy of the top class per (source, label): which photo sources the model fails on."""
    out: dict[str, dict] = {}
    for r in rows:
        if "source" not in r:
            continue
        k = f"{r['label']} · {r['source']}"
        d = out.setdefault(k, {"n": 0, "correct": 0})
        d["n"] += 1
        d["correct"] += r["pred"] == r["label"]
    for d in out.values():
        d["accuracy"] = round(d["correct"] / d["n"], 4)
    return dict(sorted(out.items()))


# ---------------------------------------------------------------- text and plots


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def format_table(name: str, m: dict) -> str:
    head = f"{name}: n={m['n']} accuracy={m['accuracy']} balanced={m['balanced_accuracy']}"
    cov = "coverage" in m
    if cov:
        head += f" coverage={m['coverage']} accepted_accuracy={m['accepted_accuracy']}"
    lines = [head, f"{'class':<14}{'n':>5}{'recall':>9}{'precision':>11}" + (f"{'coverage':>10}" if cov else "")]
    for c, v in m["per_class"].items():
        if v["support"] or v["precision"] is not None:
            line = f"{c:<14}{v['support']:>5}{_f(v['recall']):>9}{_f(v['precision']):>11}"
            lines.append(line + (f"{_f(v.get('coverage')):>10}" if cov else ""))
    return "\n".join(lines)


def format_compare(names: tuple[str, str], a: dict, b: dict) -> str:
    """Two metrics dicts of the same images side by side (recall / precision per class)."""
    w = max(len(names[0]), len(names[1]), 17)
    lines = [f"{'':<14}{'':>5}  {names[0]:>{w}}  {names[1]:>{w}}",
             f"{'accuracy':<14}{a['n']:>5}  {_f(a['accuracy']):>{w}}  {_f(b['accuracy']):>{w}}",
             f"{'balanced':<14}{'':>5}  {_f(a['balanced_accuracy']):>{w}}  {_f(b['balanced_accuracy']):>{w}}"]
    if "coverage" in a:
        lines.append(f"{'coverage':<14}{'':>5}  {_f(a['coverage']):>{w}}  {_f(b['coverage']):>{w}}")
        lines.append(f"{'accepted acc.':<14}{'':>5}  {_f(a['accepted_accuracy']):>{w}}  "
                     f"{_f(b['accepted_accuracy']):>{w}}")
    lines.append(f"{'class':<14}{'n':>5}  {'recall / precision':>{w}}  {'recall / precision':>{w}}")
    for c in a["per_class"]:
        va, vb = a["per_class"][c], b["per_class"].get(c, {"recall": None, "precision": None})
        if va["support"] or va["precision"] is not None or vb["precision"] is not None:
            lines.append(f"{c:<14}{va['support']:>5}  {_f(va['recall']) + ' / ' + _f(va['precision']):>{w}}  "
                         f"{_f(vb['recall']) + ' / ' + _f(vb['precision']):>{w}}")
    return "\n".join(lines)


def plot_confusion(m: dict, path: str | Path, title: str) -> Path:
    """The confusion matrix (rows: truth, columns: prediction, `unknown` last) as a PNG; matplotlib when it is
    installed (the test/dev extra), else drawn with OpenCV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows, cols = m["confusion"]["rows_truth"], m["confusion"]["cols_pred"]
    mat = np.array(m["confusion"]["matrix"], dtype=float)
    if not mat[:, -1].any():  # no `unknown` column when nothing abstained
        cols, mat = cols[:-1], mat[:, :-1]
    norm = mat / np.maximum(mat.sum(axis=1, keepdims=True), 1)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return _plot_cv2(rows, cols, mat, norm, path, title)
    fig, ax = plt.subplots(figsize=(1.0 + 0.85 * len(cols), 1.2 + 0.6 * len(rows)), dpi=110)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(rows)):
        for j in range(len(cols)):
            if mat[i, j]:
                ax.text(j, i, f"{int(mat[i, j])}", ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.55 else "black")
    ax.set_xticks(range(len(cols)), cols, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), [f"{r} ({int(mat[i].sum())})" for i, r in enumerate(rows)], fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (n)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _plot_cv2(rows: list[str], cols: list[str], mat: np.ndarray, norm: np.ndarray, path: Path, title: str) -> Path:
    cell, left, top = 56, 170, 60
    img = np.full((top + cell * len(rows) + 110, left + cell * len(cols) + 20, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, title[:80], (8, 24), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    for i, r in enumerate(rows):
        cv2.putText(img, f"{r} ({int(mat[i].sum())})", (8, top + i * cell + cell // 2 + 5), font, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
        for j in range(len(cols)):
            v = norm[i, j]
            colour = tuple(int(255 - v * k) for k in (40, 140, 200))  # BGR: white to blue
            x0, y0 = left + j * cell, top + i * cell
            cv2.rectangle(img, (x0, y0), (x0 + cell - 1, y0 + cell - 1), colour, -1)
            if mat[i, j]:
                cv2.putText(img, str(int(mat[i, j])), (x0 + 14, y0 + cell // 2 + 5), font, 0.5,
                            (255, 255, 255) if v > 0.55 else (0, 0, 0), 1, cv2.LINE_AA)
    for j, c in enumerate(cols):
        cv2.putText(img, c[:11], (left + j * cell + 2, top + len(rows) * cell + 18 + (j % 2) * 16), font, 0.38,
                    (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), img)
    return path


# ---------------------------------------------------------------- entry points


def _classifier(model: str | None, args, min_confidence: float | None) -> CargoClassifier:
    card = None
    if model:
        card_path = Path(model).with_name("model_card.json")
        if card_path.is_file():
            card = json.loads(card_path.read_text(encoding="utf-8"))
    return CargoClassifier(model, threads=args.threads, min_confidence=min_confidence,
                           expected_sha256=(card or {}).get("onnx", {}).get("sha256"),
                           verify=not getattr(args, "no_verify", False))


def score_dir(clf: CargoClassifier, d: str | Path) -> dict:
    m, rows = evaluate(clf, list_labelled(d, with_source=True))
    return {**m, "at_threshold": thresholded(clf, rows), "by_source": by_source(rows), "images": rows}


def main_compare(args) -> int:
    old_path, new_path, *dirs = args.compare
    if not dirs:
        print("error: --compare OLD.onnx NEW.onnx DIR... needs at least one labelled folder", flush=True)
        return 2
    clfs = [_classifier(p, args, args.min_confidence) for p in (old_path, new_path)]
    names = (Path(old_path).name, Path(new_path).name)
    if names[0] == names[1]:
        names = (f"OLD {names[0]}", f"NEW {names[1]}")
    report = {"old": str(clfs[0].path), "new": str(clfs[1].path), "sets": {}}
    for d in dirs:
        a, b = score_dir(clfs[0], d), score_dir(clfs[1], d)
        differ = [{"file": ra["file"], "label": ra["label"], "old": ra["pred"], "new": rb["pred"]}
                  for ra, rb in zip(a["images"], b["images"], strict=True) if ra["pred"] != rb["pred"]]
        print(f"== {d}: {a['n']} images, the two disagree on {len(differ)}")
        print("top class (argmax)")
        print(format_compare(names, a, b))
        print("at each model's shipped thresholds (below: unknown)")
        print(format_compare(names, a["at_threshold"], b["at_threshold"]))
        report["sets"][str(d)] = {"old": a, "new": b, "disagree": differ}
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


def main_cv(args) -> int:
    """Re-score the out-of-fold predictions of a `train cargo --cv` run (RUN/cv/oof.json)."""
    run = Path(args.cv)
    oof_path = run / "oof.json" if (run / "oof.json").is_file() else run / "cv" / "oof.json"
    if not oof_path.is_file():
        print(f"error: no oof.json in {run} or {run / 'cv'} (made by `smartgate train cargo --cv K`)")
        return 2
    oof = json.loads(oof_path.read_text(encoding="utf-8"))
    classes = oof["classes"]
    report = {"run": str(run), "target_precision": args.target_precision, "candidates": {}}
    for name, rows in oof["candidates"].items():
        real = [r for r in rows if r["source"] not in ("synthetic", "outlier")]
        truth, top, conf = [r["label"] for r in real], [r["pred"] for r in real], [r["confidence"] for r in real]
        m = metrics(truth, top, classes)
        th = pick_thresholds(truth, top, conf, classes, args.target_precision)
        at = with_coverage(metrics(truth, apply_thresholds(top, conf, {c: v["threshold"] for c, v in th.items()}),
                                   classes))
        print(format_table(f"{name} — grouped CV, real photos, top class", m))
        print(format_table(f"{name} — at per-class thresholds for precision >= {args.target_precision}", at))
        print("thresholds: " + ", ".join(f"{c} {v['threshold']:.3f}" for c, v in th.items()) + "\n")
        report["candidates"][name] = {"argmax": m, "thresholds": th, "at_threshold": at}
        if args.report:
            plot_confusion(m, Path(args.report) / f"{name}_confusion.png", f"{name}: grouped CV, top class")
            plot_confusion(at, Path(args.report) / f"{name}_confusion_threshold.png",
                           f"{name}: grouped CV at thresholds (precision >= {args.target_precision})")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


def main_cargo_eval(args) -> int:
    if getattr(args, "cv", None):
        return main_cv(args)
    if getattr(args, "compare", None):
        return main_compare(args)
    if not args.dirs:
        print("error: name at least one labelled folder (or --compare / --cv)")
        return 2
    clf = _classifier(args.model, args, args.min_confidence)
    shipped = {c: clf.model_thresholds.get(c) for c in clf.classes}
    report = {"model": str(clf.path), "min_confidence": args.min_confidence, "thresholds": clf.thresholds,
              "shipped_thresholds": shipped, "sets": {}}
    top_name = "top class (argmax)" if args.min_confidence is None else f"min_confidence {args.min_confidence}"
    for d in args.dirs:
        try:
            s = score_dir(clf, d)
        except FileNotFoundError as e:  # a missing, unreadable or non-regular image (a FIFO would hang)
            print(f"error: {e}", file=sys.stderr)
            return 2
        report["sets"][str(d)] = s
        print(format_table(f"{d} — {top_name}", s))
        print(format_table(f"{d} — at the thresholds", s["at_threshold"]))
        if s["by_source"]:
            print("by source (top class): " + "; ".join(f"{k} {v['correct']}/{v['n']}"
                                                         for k, v in s["by_source"].items()))
        if args.report:
            stem = Path(args.report) / (Path(d).name or "set")
            plot_confusion(s, f"{stem}_confusion.png", f"{Path(clf.path).name} on {d}: {top_name}")
            plot_confusion(s["at_threshold"], f"{stem}_confusion_threshold.png",
                           f"{Path(clf.path).name} on {d}: at the thresholds")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


# ---------------------------------------------------------------- gate footage


def footage_check(clf: CargoClassifier, clip_root: str | Path, every: int = 2) -> dict:
    """Every `every`-th frame of each lane's cargo camera (`<clip>/<lane>/cargo.mp4` + `truth.json`, the sample
    footage's layout) through the classifier: frames while a truck's body is under the camera (truth
    `camera_visible_s.cargo`) are right, wrong or `unknown`; frames with no truck are accepted (a class) or
    `unknown`; each passage's frames are voted as the pipeline votes them (`edge.decision.finalize.vote_cargo`)."""
    from edge.decision.finalize import vote_cargo
    from edge.domain.types import CargoRead

    out = {"frames_right": 0, "frames_wrong": 0, "frames_unknown": 0, "empty_frames": 0, "empty_frames_accepted": 0,
           "passages": 0, "passages_right": 0, "passages_wrong": 0, "passages_unknown": 0, "wrong": []}
    for truth_path in sorted(Path(clip_root).glob("*/truth.json")):
        video = truth_path.parent / "cargo.mp4"
        if not video.is_file():
            continue
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        windows = [(p["camera_visible_s"]["cargo"], p["cargo"]) for p in truth["passages"]
                   if p.get("camera_visible_s", {}).get("cargo")]
        reads: list[list[CargoRead]] = [[] for _ in windows]
        cap = cv2.VideoCapture(str(video))
        fps = cap.get(cv2.CAP_PROP_FPS) or float(truth.get("fps", 10))
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i % every == 0:
                t = i / fps
                inside = [j for j, ((a, b), _) in enumerate(windows) if a <= t <= b]
                near = any(a - 0.3 <= t <= b + 0.3 for (a, b), _ in windows)
                r = clf.classify(frame)
                if inside:
                    j = inside[0]
                    reads[j].append(r)
                    key = "frames_unknown" if r.cls == UNKNOWN else "frames_right" if r.cls == windows[j][1] else \
                        "frames_wrong"
                    out[key] += 1
                elif not near:
                    out["empty_frames"] += 1
                    out["empty_frames_accepted"] += r.cls != UNKNOWN
            i += 1
        cap.release()
        for (win, label), rs in zip(windows, reads, strict=True):
            v = vote_cargo(rs)
            out["passages"] += 1
            if v is None or v.cls == UNKNOWN:
                out["passages_unknown"] += 1
            elif v.cls == label:
                out["passages_right"] += 1
            else:
                out["passages_wrong"] += 1
                out["wrong"].append(f"{truth_path.parent.name} {win[0]:.1f}s: {label} read as {v.cls}")
    return out
