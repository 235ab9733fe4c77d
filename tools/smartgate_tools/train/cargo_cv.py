"""Grouped cross-validation of the cargo recipes (`smartgate train cargo --cv K`).

Folds come from `smartgate_tools.train.cargo_data` (by source where a class has several sources, by near-duplicate cluster
where it has one). Every recipe is trained K times on the other folds and predicts the held-out fold; the
out-of-fold (OOF) predictions of the real photos give each recipe's figures, its per-class thresholds and the
ranking. Synthetic gate views are folded too and scored apart (they say whether the demo footage still reads,
not how real photos do). Flip test-time augmentation is scored for free (view 1 is the mirror) but never
shipped: it doubles the runtime cost.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from edge.readers.cargo import CARGO_CLASSES
from smartgate_tools.cargo_eval import (
    TARGET_PRECISION,
    apply_thresholds,
    metrics,
    pick_thresholds,
    plot_confusion,
    with_coverage,
)
from smartgate_tools.train.cargo_data import SYNTHETIC, Item
from smartgate_tools.train.cargo_recipes import Recipe, train

TTA = "+flip"
OUTLIER = "outlier"  # source of the no-cargo frames in the OOF rows (label "none")


def score(rows: list[dict], target: float = TARGET_PRECISION) -> dict:
    """Figures of one candidate from its OOF rows: real photos by top class, at thresholds picked on the same
    rows, synthetic views apart, and per source."""
    real = [r for r in rows if r["source"] not in (SYNTHETIC, OUTLIER)]
    synth = [r for r in rows if r["source"] == SYNTHETIC]
    outl = [r for r in rows if r["source"] == OUTLIER]
    truth, top, conf = [r["label"] for r in real], [r["pred"] for r in real], [r["confidence"] for r in real]
    th = pick_thresholds(truth, top, conf, CARGO_CLASSES, target)
    thresholds = {c: v["threshold"] for c, v in th.items()}
    out = {
        "argmax": metrics(truth, top, CARGO_CLASSES),
        "thresholds": th,
        "at_threshold": with_coverage(metrics(truth, apply_thresholds(top, conf, thresholds), CARGO_CLASSES)),
    }
    if synth:
        st, sp, sc = [r["label"] for r in synth], [r["pred"] for r in synth], [r["confidence"] for r in synth]
        out["synthetic"] = {"argmax": metrics(st, sp, CARGO_CLASSES),
                            "at_threshold": with_coverage(metrics(st, apply_thresholds(sp, sc, thresholds),
                                                                  CARGO_CLASSES))}
    if outl:  # frames without cargo: how many would the gate accept as some class?
        acc = [r["confidence"] >= thresholds[r["pred"]] for r in outl]
        out["outliers"] = {"n": len(outl), "accepted": int(sum(acc)), "accepted_rate": round(float(np.mean(acc)), 4),
                           "mean_confidence": round(float(np.mean([r["confidence"] for r in outl])), 4),
                           "accepted_as": dict(Counter(r["pred"] for r, a in zip(outl, acc, strict=True) if a))}
    src: dict[str, dict] = {}
    for r in real:
        d = src.setdefault(f"{r['label']} · {r['source']}", {"n": 0, "correct": 0})
        d["n"] += 1
        d["correct"] += r["pred"] == r["label"]
    out["by_source"] = {k: {**v, "recall": round(v["correct"] / v["n"], 4)} for k, v in sorted(src.items())}
    return out


def _rows(items: list[Item], idx: np.ndarray, probs: np.ndarray) -> list[dict]:
    out = []
    for i, p in zip(idx, probs, strict=True):
        k = int(np.argmax(p))
        it = items[i]
        out.append({"file": it.path, "label": it.cls, "source": it.source, "fold": it.fold, "pred": CARGO_CLASSES[k],
                    "confidence": round(float(p[k]), 5), "probs": [round(float(x), 5) for x in p]})
    return out


def _outlier_rows(paths: list[str], idx: np.ndarray, probs: np.ndarray, fold: int) -> list[dict]:
    return [{"file": paths[i], "label": "none", "source": OUTLIER, "fold": fold,
             "pred": CARGO_CLASSES[int(np.argmax(p))], "confidence": round(float(np.max(p)), 5)}
            for i, p in zip(idx, probs, strict=True)]


def run_cv(items: list[Item], recipes: list[Recipe], acts: dict[str, np.ndarray], feats: dict[str, object], k: int,
           seed: int, log=print, outliers: dict | None = None) -> dict[str, list[dict]]:
    """OOF rows per candidate name (each recipe, plus `<name>+flip`). `acts[policy]`: N x V x C x H x W for all
    items (V: the most views any recipe of that policy uses, at least 2); `feats`: the matching frozen pooled
    features N x V x 1280. A recipe trains on its first `views` views; it is scored on view 0 (and 0+1 for TTA).
    `outliers`: {"paths", "acts": {policy: M x V x ...}, "feats": {policy: ...}} frames without cargo, folded
    round-robin: recipes with outlier exposure train on the other folds' ones; every recipe is scored on them."""
    y = np.array([CARGO_CLASSES.index(it.cls) for it in items])
    real = np.array([it.real for it in items])
    fold = np.array([it.fold for it in items])
    out: dict[str, list[dict]] = {}
    for r in recipes:
        a, f_all = acts[r.policy], feats[r.policy]
        rows, rows_tta = [], []
        t0 = time.time()
        for f in range(k):
            tr = np.nonzero((fold != f) & (real | r.synthetic))[0]
            te = np.nonzero(fold == f)[0]
            if len(te) == 0:
                continue
            o_tr = o_te = None
            if outliers:
                o_fold = np.arange(len(outliers["paths"])) % k
                o_tr, o_te = np.nonzero(o_fold != f)[0], np.nonzero(o_fold == f)[0]
                oa, of = outliers["acts"][r.policy], outliers["feats"][r.policy]
            model = train(r, a[tr], y[tr], seed=seed + f, pooled_feats=f_all[tr],
                          outlier_acts=oa[o_tr] if outliers else None, outlier_feats=of[o_tr] if outliers else None)
            p0 = model.probs(a[te, 0], f_all[te, 0])
            rows += _rows(items, te, p0)
            if outliers:
                q0 = model.probs(oa[o_te, 0], of[o_te, 0])
                rows += _outlier_rows(outliers["paths"], o_te, q0, f)
            if a.shape[1] > 1:
                p1 = model.probs(a[te, 1], f_all[te, 1])
                rows_tta += _rows(items, te, (p0 + p1) / 2)
                if outliers:
                    rows_tta += _outlier_rows(outliers["paths"], o_te, (q0 + model.probs(oa[o_te, 1], of[o_te, 1])) / 2, f)
            log(f"  {r.name}: fold {f + 1}/{k} done ({len(tr)} train, {len(te)} test, {time.time() - t0:.0f} s)")
        out[r.name] = sorted(rows, key=lambda d: d["file"])
        if rows_tta:
            out[r.name + TTA] = sorted(rows_tta, key=lambda d: d["file"])
    return out


def choose(scores: dict[str, dict]) -> tuple[str, str]:
    """The winner by balanced accuracy of the real photos (top class), then accuracy; flip TTA variants are not
    eligible (twice the runtime cost). Returns (name, why)."""
    eligible = {n: s for n, s in scores.items() if not n.endswith(TTA)}
    best = max(eligible, key=lambda n: (eligible[n]["argmax"]["balanced_accuracy"], eligible[n]["argmax"]["accuracy"]))
    m = eligible[best]["argmax"]
    others = ", ".join(f"{n} {s['argmax']['balanced_accuracy']:.3f}" for n, s in eligible.items() if n != best)
    why = (f"highest balanced accuracy on the grouped CV's real photos ({m['balanced_accuracy']:.3f}, accuracy "
           f"{m['accuracy']:.3f}; others: {others})")
    return best, why


def write_cv_report(out: Path, cv: dict, oof: dict[str, list[dict]], titles: dict[str, str]) -> None:
    """CV artefacts: oof.json (per image), cv.json (figures), report.md with the confusion-matrix PNGs."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "oof.json").write_text(json.dumps({"classes": CARGO_CLASSES, "candidates": oof}, ensure_ascii=False),
                                  encoding="utf-8")
    (out / "cv.json").write_text(json.dumps(cv, indent=1, ensure_ascii=False), encoding="utf-8")
    for name, s in cv["candidates"].items():
        if name.endswith(TTA):  # its figures are in the tables; the plots would repeat its recipe's
            continue
        plot_confusion(s["argmax"], out / f"{name}_confusion.png", f"{name}: grouped CV, real photos, top class")
        plot_confusion(s["at_threshold"], out / f"{name}_confusion_threshold.png",
                       f"{name}: grouped CV at thresholds (precision >= {cv['target_precision']})")
    L = ["# Cargo classifier — grouped cross-validation", "", f"Command: `{cv['command']}`", "",
         *[f"- {line}" for line in cv["design"]], "", "## Folds", "",
         "| fold | real test images per class | sources held out (images) |", "|---:|---|---|"]
    for r in cv["folds"]:
        L.append(f"| {r['fold']} | {', '.join(f'{c} {n}' for c, n in sorted(r['test_real'].items()))} | "
                 f"{'; '.join(f'{s} ({n})' for s, n in sorted(r['sources'].items()))} |")
    L += ["", "## Candidates (real photos, out of fold)", ""]
    L += candidate_table(cv["candidates"], titles)
    for name, s in cv["candidates"].items():
        L += ["", f"### {name}", "", titles.get(name.removesuffix(TTA), name) + (" + flip TTA" if name.endswith(TTA)
                                                                               else ""), ""]
        L += per_class_table(s)
        if not name.endswith(TTA):
            L += ["", f"![confusion {name}]({name}_confusion.png) ![at thresholds]({name}_confusion_threshold.png)"]
        if s.get("outliers"):
            o = s["outliers"]
            L += ["", f"Frames without cargo (out of fold): {o['accepted']} of {o['n']} accepted at the thresholds"
                  f"{_as(o['accepted_as'])}, mean top probability {o['mean_confidence']:.3f}."]
        L += ["", "Per source (top class): " + "; ".join(f"{k} {v['correct']}/{v['n']}"
                                                         for k, v in s["by_source"].items())]
    (out / "report.md").write_text("\n".join(L) + "\n", encoding="utf-8")


def candidate_table(cands: dict[str, dict], titles: dict[str, str]) -> list[str]:
    L = ["| candidate | accuracy | balanced accuracy | min class recall | accuracy at thresholds | coverage | "
         "accepted accuracy | synthetic views accuracy | no-cargo frames accepted |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, s in cands.items():
        m, at = s["argmax"], s["at_threshold"]
        rec = [v["recall"] for v in m["per_class"].values() if v["recall"] is not None]
        syn = s.get("synthetic", {}).get("argmax", {}).get("accuracy")
        o = s.get("outliers")
        L.append(f"| {name} | {m['accuracy']:.3f} | {m['balanced_accuracy']:.3f} | {min(rec):.3f} | "
                 f"{at['accuracy']:.3f} | {at['coverage']:.3f} | {_f(at['accepted_accuracy'])} | {_f(syn)} | "
                 + (f"{o['accepted']}/{o['n']} |" if o else "- |"))
    return L


def per_class_table(s: dict) -> list[str]:
    L = ["| class | n | recall | precision | threshold | precision at threshold | recall at threshold | "
         "coverage at threshold |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c, v in s["argmax"]["per_class"].items():
        t = s["thresholds"][c]
        thr = "never" if t["threshold"] > 1 else f"{t['threshold']:.3f}"
        L.append(f"| {c} | {v['support']} | {_f(v['recall'])} | {_f(v['precision'])} | {thr} | "
                 f"{_f(t['precision'])} | {_f(t['recall'])} | {_f(s['at_threshold']['per_class'][c].get('coverage'))} |")
    return L


def _f(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def progress_log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _as(counts: dict[str, int]) -> str:
    """' (as electronics 2, closed 1)' or ''."""
    return " (as " + ", ".join(f"{c} {n}" for c, n in counts.items()) + ")" if counts else ""
