"""Plate-reader validation on real crops its rules were never tuned on, and the abstention thresholds from it.

The plate reader's rules and floors were developed on ../shared/eval (the dev set). The training crops of
../shared/train (plate_vn: one parking-gate camera; plate_cn: 28 provinces, several sources; plate_other:
Argentine plates) are other cameras and sources: reading them with the shipped reader is the validation that
predicts unseen cameras (issue 17). Each crop is one plate.

The crops are split by plate text (one vehicle photographed twice never sits on both sides): a *calibration*
half picks, per country, the lowest confidence at which the reader's wrong reads stay at or below the target
(0.5 %), and the *holdout* half reports what that threshold gives. `--write` stores the thresholds in
models/plates/reader_calibration.json, which the reader applies (a read below its country's threshold is a
`low_confidence` no-read).

    python -m smartgate_tools.plate_validation ../shared/train --cache var/plate_validation.json [--write]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import time
from collections import defaultdict
from pathlib import Path

from edge.domain.plate_grammar import label_key
from edge.readers.plate_choice import FLOORS_FILE as CALIBRATION_FILE
from smartgate_tools.label_audit import corrected

SETS = {"plate_vn": "VN", "plate_cn": "CN", "plate_other": "OTHER"}
CN_SAMPLE = 600  # of ~3,000 CN crops, spread over every source: the reader takes ~0.2 s a crop on 2 threads
TARGET_WRONG = 0.005


def half(text: str) -> str:
    """`calib` or `holdout`, fixed by the plate text (the same plate always falls on the same side)."""
    return "calib" if hashlib.sha256(text.encode()).digest()[0] % 2 == 0 else "holdout"


def load_crops(data: Path, cn_sample: int = CN_SAMPLE, audited: bool = True) -> list[dict]:
    """Crops of the three plate sets: file, label (label_key; audited: with the eye-checked corrections of
    smartgate_tools.label_audit), country (of the set), source, half."""
    rows: list[dict] = []
    for name, country in SETS.items():
        path = data / name / "labels.csv"
        if not path.is_file():
            continue
        items = [{"file": str(data / name / r["file"]), "country": country,
                  "label": label_key(corrected(name, r["file"], r["label"], audited)),
                  "source": r.get("source_repo", "")} for r in csv.DictReader(path.open(encoding="utf-8"))]
        if country == "CN" and len(items) > cn_sample:  # every source, in proportion, deterministic
            items.sort(key=lambda r: hashlib.sha256(Path(r["file"]).name.encode()).hexdigest())  # not the path: any --data spelling
            items = items[:cn_sample]
        rows += items
    for r in rows:
        r["half"] = half(r["label"])
    return rows


def read_crops(rows: list[dict], threads: int, cache: Path | None, cross_check: float | None = None,
               recogniser: bool = True) -> list[dict]:
    """The shipped reader's best read of each crop (text, country, format, confidence, reason)."""
    if cache is not None and cache.is_file():
        def key(file: str) -> tuple[str, str]:
            return Path(file).parent.name, Path(file).name

        labels = {key(r["file"]): r for r in rows}  # the cache keeps the reads; labels and halves come fresh
        cached = json.loads(cache.read_text(encoding="utf-8"))
        return [{**r, "label": labels[key(r["file"])]["label"], "half": labels[key(r["file"])]["half"]}
                for r in cached if key(r["file"]) in labels]
    from tqdm import tqdm

    from cameras.imageio import ImageError, load_image
    from edge.readers.ocr.engine import OcrEngine
    from edge.readers.plate import PlateReader

    extra = {"cross_check_below": cross_check} if cross_check is not None else {}
    if not recogniser:  # the plate recogniser (veto and answer) was trained on most of these crops
        extra["rec_check"] = False
    reader = PlateReader(OcrEngine(threads=threads), calibration=None, **extra)  # raw: floors are chosen here
    out = []
    for r in tqdm(rows, desc="plate validation", unit="crop"):
        try:
            img = load_image(Path(r["file"]))
        except ImageError:
            continue
        t0 = time.perf_counter()
        best = reader.read_all(img)[0]
        out.append({**r, "text": label_key(best.text) if best.text else None, "read_country": best.country,
                    "format": best.format, "confidence": best.confidence, "reason": best.reason,
                    "ms": round((time.perf_counter() - t0) * 1000, 1)})
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    return out


def outcome(r: dict, threshold: float = 0.0) -> str:
    if r["text"] is None or r["confidence"] < threshold:
        return "no_read"
    return "correct" if r["text"] == r["label"] else "wrong"


def figures(rows: list[dict], threshold: float | dict[str, float] = 0.0) -> dict[str, float]:
    n = len(rows)
    if not n:
        return {"n": 0}
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        t = threshold.get(r["read_country"] or "", 0.0) if isinstance(threshold, dict) else threshold
        counts[outcome(r, t)] += 1
    return {"n": n, "accuracy": counts["correct"] / n, "wrong": counts["wrong"] / n,
            "no_read": counts["no_read"] / n}


def calibrate(rows: list[dict], target: float = TARGET_WRONG) -> float:
    """The lowest confidence threshold at which the wrong reads of `rows` are at most `target` of them."""
    confs = sorted({r["confidence"] for r in rows if r["text"] is not None})
    for t in [0.0, *confs]:
        if figures(rows, t).get("wrong", 0.0) <= target:
            return round(t, 4)
    return 1.01


def report(reads: list[dict], target: float = TARGET_WRONG) -> dict:
    """Per country (of the read; a set's crop read as another country counts under the set's country for the
    figures): before calibration, the thresholds from the calibration half, and the holdout figures."""
    by_set: dict[str, list[dict]] = defaultdict(list)
    for r in reads:
        by_set[r["country"]].append(r)
    thresholds = {}
    for country in SETS.values():
        # a read is thresholded by the country it was read as: calibrate on those reads, wherever they came from
        as_country = [r for r in reads if r["half"] == "calib" and (r["read_country"] or r["country"]) == country]
        thresholds[country] = calibrate(as_country, target) if as_country else 1.01
    out: dict = {"thresholds": thresholds, "target_wrong": target, "sets": {}}
    for country, rows in by_set.items():
        out["sets"][country] = {
            "all_raw": figures(rows),
            "calib_raw": figures([r for r in rows if r["half"] == "calib"]),
            "holdout_raw": figures([r for r in rows if r["half"] == "holdout"]),
            "holdout_calibrated": figures([r for r in rows if r["half"] == "holdout"], thresholds),
            "all_calibrated": figures(rows, thresholds),
            "p50_ms": sorted(r["ms"] for r in rows)[len(rows) // 2],
        }
    return out


def _print(rep: dict) -> None:
    print(f"labels: {rep.get('labels', 'audited')}")
    print(f"thresholds (wrong ≤ {rep['target_wrong']:.1%} on the calibration half): {rep['thresholds']}")
    print(f"{'set':6} {'split':20} {'n':>5} {'accuracy':>9} {'wrong':>7} {'no-read':>8}")
    for country, parts in rep["sets"].items():
        for name in ("all_raw", "holdout_raw", "holdout_calibrated", "all_calibrated"):
            f = parts[name]
            if f.get("n"):
                print(f"{country:6} {name:20} {f['n']:5d} {f['accuracy']:9.1%} {f['wrong']:7.1%} {f['no_read']:8.1%}")
        print(f"{country:6} p50 {parts['p50_ms']:.0f} ms per crop")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="plate_validation", description=__doc__.split("\n\n")[0])
    p.add_argument("data", help="../shared/train (holds plate_vn, plate_cn, plate_other)")
    p.add_argument("--cache", type=Path, help="reads cached here (re-run the figures without reading again)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cn-sample", type=int, default=CN_SAMPLE)
    p.add_argument("--json", type=Path, help="write the report here")
    p.add_argument("--raw-labels", action="store_true", help="the labels as shipped, without the eye-checked "
                   "corrections of smartgate_tools/data/label_audit.csv")
    p.add_argument("--cross-check", type=float, help="PlateReader cross_check_below (default: the shipped one)")
    p.add_argument("--target", type=float, default=TARGET_WRONG, help="wrong-read share the floors aim at")
    p.add_argument("--no-recogniser", action="store_true", help="read without the plate recogniser's veto and "
                   "answer (it was trained on most of these crops)")
    p.add_argument("--write", action="store_true", help=f"store the thresholds in {CALIBRATION_FILE}")
    args = p.parse_args(argv)
    rows = load_crops(Path(args.data), args.cn_sample, audited=not args.raw_labels)
    reads = read_crops(rows, args.threads, args.cache, args.cross_check, recogniser=not args.no_recogniser)
    rep = report(reads, args.target)
    rep["labels"] = "as shipped" if args.raw_labels else "audited (smartgate_tools/data/label_audit.csv)"
    _print(rep)
    if args.json:
        args.json.write_text(json.dumps(rep, indent=1), encoding="utf-8")
    if args.write:
        CALIBRATION_FILE.write_text(json.dumps({
            "about": "plate reader confidence floors per country, chosen on real crops the rules were not tuned on "
                     "(smartgate_tools.plate_validation): a read below its country's floor is a no-read",
            "target_wrong": args.target, "thresholds": rep["thresholds"],
            "validation": {c: {k: v for k, v in s.items() if k != "p50_ms"} for c, s in rep["sets"].items()},
        }, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {CALIBRATION_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
